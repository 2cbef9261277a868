use std::fmt;
use std::str::FromStr;

use crate::{DomainError, OrgId, Owner, Timestamp, TokenId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including platform credentials and any token.
    Admin,
    /// The product's backend: acts for any user or org owner; the only role that may
    /// resolve secrets.
    Service,
    /// One person's session: their own credentials and those of the orgs they manage.
    User,
    /// A virtual key: stands in for an owner's real provider key, accepted only by
    /// the proxy.
    Virtual,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Service => "service",
            Role::User => "user",
            Role::Virtual => "virtual",
        }
    }

    /// The typed token prefix, so secret scanners can recognise a leaked token.
    pub fn token_prefix(self) -> &'static str {
        match self {
            Role::Admin => "byok_adm_",
            Role::Service => "byok_svc_",
            Role::User => "byok_usr_",
            Role::Virtual => "byok_vk_",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "admin" => Ok(Role::Admin),
            "service" => Ok(Role::Service),
            "user" => Ok(Role::User),
            "virtual" => Ok(Role::Virtual),
            _ => Err(DomainError::invalid("role", "must be `admin`, `service`, `user` or `virtual`")),
        }
    }
}

/// A stored API token. Only the SHA-256 of the token is kept.
#[derive(Debug, Clone)]
pub struct Token {
    pub id: TokenId,
    pub hash: Vec<u8>,
    pub role: Role,
    pub owner: Option<Owner>,
    pub manage_orgs: Vec<OrgId>,
    pub name: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl Token {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// Who is calling, once their token has been checked.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `None` for the bootstrap admin token from the environment.
    pub token_id: Option<TokenId>,
    pub role: Role,
    pub owner: Option<Owner>,
    pub manage_orgs: Vec<OrgId>,
}

impl Principal {
    pub fn from_token(token: &Token) -> Self {
        Self {
            token_id: Some(token.id),
            role: token.role,
            owner: token.owner.clone(),
            manage_orgs: token.manage_orgs.clone(),
        }
    }

    pub fn bootstrap_admin() -> Self {
        Self { token_id: None, role: Role::Admin, owner: None, manage_orgs: Vec::new() }
    }

    /// May this principal see and change `owner`'s credentials? Platform credentials
    /// are the admin's alone; a service acts for every user and org; a user for
    /// itself and the orgs its token names.
    pub fn can_manage(&self, owner: &Owner) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Service => !owner.is_platform(),
            Role::User => match owner {
                Owner::User(_) => self.owner.as_ref() == Some(owner),
                Owner::Org(org) => self.manage_orgs.contains(org),
                Owner::Platform => false,
            },
            // A virtual key only ever reaches the proxy.
            Role::Virtual => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, orgs: &[&str]) -> Principal {
        Principal {
            token_id: None,
            role: Role::User,
            owner: Some(format!("user:{id}").parse().unwrap()),
            manage_orgs: orgs.iter().map(|o| OrgId::parse(o).unwrap()).collect(),
        }
    }

    #[test]
    fn users_manage_themselves_and_listed_orgs_only() {
        let alice = user("alice", &["acme"]);
        assert!(alice.can_manage(&"user:alice".parse().unwrap()));
        assert!(alice.can_manage(&"org:acme".parse().unwrap()));
        assert!(!alice.can_manage(&"user:bob".parse().unwrap()));
        assert!(!alice.can_manage(&"org:globex".parse().unwrap()));
        assert!(!alice.can_manage(&Owner::Platform));
    }

    #[test]
    fn service_acts_for_users_and_orgs_but_not_platform() {
        let svc = Principal { token_id: None, role: Role::Service, owner: None, manage_orgs: vec![] };
        assert!(svc.can_manage(&"user:bob".parse().unwrap()));
        assert!(svc.can_manage(&"org:acme".parse().unwrap()));
        assert!(!svc.can_manage(&Owner::Platform));
        assert!(Principal::bootstrap_admin().can_manage(&Owner::Platform));
    }

    #[test]
    fn virtual_keys_manage_nothing() {
        let owner: Owner = "user:alice".parse().unwrap();
        let vk = Principal { token_id: None, role: Role::Virtual, owner: Some(owner.clone()), manage_orgs: vec![] };
        assert!(!vk.can_manage(&owner));
        assert_eq!("virtual".parse::<Role>().unwrap().token_prefix(), "byok_vk_");
    }
}
