//! The conditions, order and page of the listings, written once for both engines: each
//! engine's statement builder (`sqlite/query.rs`, `postgres/query.rs`) says how a value
//! is bound.

use byok_core::{CredentialId, Owner};

use crate::{AuditFilter, CredentialFilter, TokenFilter};

/// A statement being assembled, its values bound in the order they are pushed.
pub(crate) trait Statement {
    fn push(&mut self, sql: &str) -> &mut Self;
    fn text(&mut self, value: String) -> &mut Self;
    fn int(&mut self, value: i64) -> &mut Self;
    /// That the expression pushed last is one of `values` (SQLite `IN (…)`, PostgreSQL
    /// `= ANY(…)`).
    fn one_of(&mut self, values: Vec<String>) -> &mut Self;
}

/// Completes `SELECT … FROM credentials WHERE true`; false when the filter matches
/// nothing (an empty list of owners).
pub(crate) fn credentials(q: &mut impl Statement, f: &CredentialFilter) -> bool {
    if let Some(owners) = &f.owners {
        if owners.is_empty() {
            return false;
        }
        q.push(" AND owner").one_of(owners.iter().map(Owner::to_string).collect());
    }
    if let Some(provider) = &f.provider {
        q.push(" AND provider = ").text(provider.as_str().to_owned());
    }
    if f.exclude_platform {
        q.push(" AND owner <> 'platform'");
    }
    if let Some(after) = &f.after {
        q.push(" AND id > ").text(after.to_string());
    }
    q.push(" ORDER BY id LIMIT ").int(i64::from(f.limit));
    true
}

/// Completes `SELECT … FROM tokens WHERE true`.
pub(crate) fn tokens(q: &mut impl Statement, f: &TokenFilter) {
    if let Some(role) = f.role {
        q.push(" AND role = ").text(role.as_str().to_owned());
    }
    if let Some(owner) = &f.owner {
        q.push(" AND owner = ").text(owner.to_string());
    }
    if let Some(after) = &f.after {
        q.push(" AND id > ").text(after.to_string());
    }
    q.push(" ORDER BY id LIMIT ").int(i64::from(f.limit));
}

/// Completes `SELECT … FROM audit_log WHERE true`, in (time, chain, seq) order.
pub(crate) fn audit(q: &mut impl Statement, f: &AuditFilter) {
    if let Some(owner) = &f.owner {
        q.push(" AND owner = ").text(owner.clone());
    }
    if let Some(id) = &f.credential_id {
        q.push(" AND credential_id = ").text(id.clone());
    }
    if let Some(action) = &f.action {
        q.push(" AND action = ").text(action.clone());
    }
    if let Some(since) = f.since {
        q.push(" AND at >= ").int(since.millis());
    }
    if let Some(until) = f.until {
        q.push(" AND at < ").int(until.millis());
    }
    if let Some((at, chain, seq)) = &f.after {
        q.push(" AND (at > ").int(*at);
        q.push(" OR (at = ").int(*at).push(" AND chain > ").text(chain.clone());
        q.push(") OR (at = ").int(*at).push(" AND chain = ").text(chain.clone());
        q.push(" AND seq > ").int(*seq).push("))");
    }
    q.push(" ORDER BY at, chain, seq LIMIT ").int(i64::from(f.limit));
}

/// The ids as text, for [`Statement::one_of`].
pub(crate) fn ids(ids: &[CredentialId]) -> Vec<String> {
    ids.iter().map(CredentialId::to_string).collect()
}
