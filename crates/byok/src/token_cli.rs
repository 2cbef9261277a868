//! `byok token list|revoke`: tokens straight from the database. A listing never shows a
//! token's value (only its hash is stored anyway); a revocation is audited as the API's.

use byok_core::{AuditAction, Owner, Role, Timestamp, Token, TokenId};
use byok_store::{Change, TokenFilter};
use clap::Args;
use serde::Serialize;

use crate::config::Config;
use crate::operator::{self, OperatorError};

const PAGE: u32 = 500;

#[derive(Debug, Args)]
pub struct TokenList {
    /// Only tokens of this role: admin, service, user or virtual.
    #[arg(long)]
    pub role: Option<Role>,
    /// Only tokens owned by `user:<id>` or `org:<id>`.
    #[arg(long)]
    pub owner: Option<Owner>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokenRevoke {
    pub id: TokenId,
}

/// A token as listed: who and until when, never its value.
#[derive(Debug, Serialize)]
struct TokenLine {
    id: String,
    role: &'static str,
    owner: Option<String>,
    name: Option<String>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

impl TokenLine {
    fn new(t: &Token) -> Self {
        Self {
            id: t.id.to_string(),
            role: t.role.as_str(),
            owner: t.owner.as_ref().map(Owner::to_string),
            name: t.name.clone(),
            created_at: t.created_at.to_rfc3339(),
            expires_at: t.expires_at.map(Timestamp::to_rfc3339),
            revoked_at: t.revoked_at.map(Timestamp::to_rfc3339),
        }
    }

    fn text(&self) -> String {
        let name = self.name.as_deref().map(|n| serde_json::to_string(n).unwrap_or_default());
        let expires = self.expires_at.as_deref().map_or_else(|| "expires=never".to_owned(), |e| format!("expires={e}"));
        let revoked = self.revoked_at.as_deref().map_or_else(|| "active".to_owned(), |r| format!("revoked={r}"));
        format!(
            "{} {} {} {} {expires} {revoked}",
            self.id,
            self.role,
            self.owner.as_deref().unwrap_or("-"),
            name.as_deref().unwrap_or("-")
        )
    }
}

pub async fn list(config: &Config, args: &TokenList) -> Result<(), OperatorError> {
    let store = operator::open_store(config).await?;
    let mut filter = TokenFilter { role: args.role, owner: args.owner.clone(), after: None, limit: PAGE };
    let mut out = std::io::stdout().lock();
    loop {
        let page = store.list_tokens(&filter).await?;
        for t in &page {
            let line = TokenLine::new(t);
            let text = if args.json { serde_json::to_string(&line).unwrap_or_default() } else { line.text() };
            operator::write_line(&mut out, &text);
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => filter.after = Some(last.id),
            _ => return Ok(()),
        }
    }
}

/// Revokes a token as `DELETE /v1/tokens/{id}` does, audited alike. Running servers
/// stop accepting it at their next token-epoch poll.
pub async fn revoke(config: &Config, args: &TokenRevoke) -> Result<(), OperatorError> {
    let store = operator::open_store(config).await?;
    let id = args.id;
    let token = store.get_token(&id).await?.ok_or_else(|| OperatorError::NoToken(id.to_string()))?;
    if token.revoked_at.is_some() {
        println!("token {id} was already revoked");
        return Ok(());
    }
    let audit = operator::start_audit(config, &store).await?;
    let mut event = operator::event(AuditAction::TokenRevoke);
    event.owner = token.owner.as_ref().map(Owner::to_string);
    event.detail = Some(format!("{} token {id}", token.role));
    if !operator::commit(&audit, Change::RevokeToken { id, now: Timestamp::now() }, vec![event]).await? {
        println!("token {id} was already revoked");
        return Ok(());
    }
    println!("token {id} revoked");
    Ok(())
}
