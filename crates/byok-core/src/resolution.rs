//! Which owners a resolve walks, in order.

use std::fmt;

use crate::{OrgId, Owner, UserId};

/// Where a resolved credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    User,
    Org,
    Platform,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::User => "user",
            Tier::Org => "org",
            Tier::Platform => "platform",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolve request's chain: `user → org → platform`, cut short by `fallback: false`
/// (only the first tier asked for) or by an org that forbids platform keys.
pub fn resolution_chain(
    user: Option<&UserId>,
    org: Option<&OrgId>,
    fallback: bool,
    org_allows_platform: bool,
) -> Vec<(Tier, Owner)> {
    let mut chain = Vec::with_capacity(3);
    if let Some(user) = user {
        chain.push((Tier::User, Owner::User(user.clone())));
    }
    if let Some(org) = org {
        chain.push((Tier::Org, Owner::Org(org.clone())));
    }
    if org.is_none() || org_allows_platform {
        chain.push((Tier::Platform, Owner::Platform));
    }
    if !fallback {
        chain.truncate(1);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(chain: Vec<(Tier, Owner)>) -> Vec<String> {
        chain.into_iter().map(|(t, o)| format!("{t}={o}")).collect()
    }

    #[test]
    fn chains_follow_the_request_and_the_org_policy() {
        let (u, o) = (UserId::parse("alice").unwrap(), OrgId::parse("acme").unwrap());
        assert_eq!(
            tiers(resolution_chain(Some(&u), Some(&o), true, true)),
            ["user=user:alice", "org=org:acme", "platform=platform"]
        );
        assert_eq!(tiers(resolution_chain(Some(&u), Some(&o), true, false)), ["user=user:alice", "org=org:acme"]);
        assert_eq!(tiers(resolution_chain(Some(&u), None, true, false)), ["user=user:alice", "platform=platform"]);
        assert_eq!(tiers(resolution_chain(Some(&u), Some(&o), false, true)), ["user=user:alice"]);
        assert_eq!(tiers(resolution_chain(None, Some(&o), true, true)), ["org=org:acme", "platform=platform"]);
        assert_eq!(tiers(resolution_chain(None, None, true, true)), ["platform=platform"]);
    }
}
