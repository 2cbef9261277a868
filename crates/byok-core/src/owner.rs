use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

const MAX_ID_LEN: usize = 128;

/// Checks a host product's opaque id: 1–128 characters from a conservative set, so an
/// id can never smuggle a separator (`:`), whitespace or markup into keys, logs or URLs.
fn check_external_id(what: &str, id: &str) -> Result<(), DomainError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(DomainError::invalid(what, format!("must be 1 to {MAX_ID_LEN} characters")));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+' | '~' | '|');
    if !id.chars().all(allowed) {
        return Err(DomainError::invalid(what, "may contain only letters, digits and . _ - @ + ~ |"));
    }
    Ok(())
}

macro_rules! external_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A host product's ", $what, ", validated.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(id: &str) -> Result<Self, DomainError> {
                check_external_id($what, id)?;
                Ok(Self(id.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

external_id!(UserId, "user id");
external_id!(OrgId, "org id");

/// Who a credential belongs to: `user:<id>`, `org:<id>` or `platform`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    User(UserId),
    Org(OrgId),
    Platform,
}

impl Owner {
    pub fn is_platform(&self) -> bool {
        matches!(self, Owner::Platform)
    }
}

impl FromStr for Owner {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "platform" {
            return Ok(Owner::Platform);
        }
        match s.split_once(':') {
            Some(("user", id)) => Ok(Owner::User(UserId::parse(id)?)),
            Some(("org", id)) => Ok(Owner::Org(OrgId::parse(id)?)),
            _ => Err(DomainError::invalid("owner", "must be `user:<id>`, `org:<id>` or `platform`")),
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::User(id) => write!(f, "user:{id}"),
            Owner::Org(id) => write!(f, "org:{id}"),
            Owner::Platform => f.write_str("platform"),
        }
    }
}

impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_form() {
        // Identity providers' subject ids as they are: Auth0's `auth0|…`, Clerk's, UUIDs.
        for s in [
            "user:alice",
            "org:acme-1",
            "platform",
            "user:a.b@c+d~e_f",
            "user:auth0|5f7c8ec7c33c6c004bbafe82",
            "user:google-oauth2|104567890123456789012",
            "user:user_2NNEqL2nrIRdJ194ndJqAHwEfxC",
            "user:0b9a6e8c-3f0a-4c5e-9d2b-1e7f6a5c4d3b",
        ] {
            assert_eq!(s.parse::<Owner>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_owners() {
        let long = format!("user:{}", "a".repeat(129));
        for s in ["", "user:", "alice", "team:x", "user:a b", "user:a:b", "Platform", "org:<x>", long.as_str()] {
            assert!(s.parse::<Owner>().is_err(), "{s:?} should be rejected");
        }
    }
}
