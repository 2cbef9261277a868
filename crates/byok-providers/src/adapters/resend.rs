//! Resend: the domains request from the catalog (a sending-only key is valid but may
//! not list domains: "restricted"), then, when a from-address is configured, whether
//! its domain is among the account's domains with status `verified`.

use async_trait::async_trait;
use serde_json::Value;

use super::{Adapter, generic};
use crate::probe::{ProbeContext, ProbeOutcomeKind, Verdict};

pub(crate) struct ResendFromDomain;

#[async_trait]
impl Adapter for ResendFromDomain {
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict {
        let name = cx.name();
        let reply = match generic::send(cx).await {
            Ok(reply) => reply,
            Err(verdict) => return verdict,
        };
        let from_domain = cx
            .config("from_email")
            .and_then(|email| email.rsplit_once('@'))
            .map(|(_, domain)| domain.trim().to_ascii_lowercase());
        if !reply.is_success() {
            let mut verdict = generic::classify(cx, &reply);
            if verdict.kind == ProbeOutcomeKind::Restricted && from_domain.is_some() {
                verdict.message.push_str(" With this key byok cannot check that the from-address domain is verified.");
            }
            return verdict;
        }
        let Some(domain) = from_domain else {
            return Verdict::connected(format!("{name} accepted the key."));
        };
        let list = reply.json();
        let found = list.as_ref().and_then(|l| l.get("data")?.as_array()).and_then(|domains| {
            domains
                .iter()
                .find(|d| d.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(&domain)))
        });
        let Some(found) = found else {
            return Verdict::restricted(format!(
                "{name} accepted the key, but {domain} is not one of the account's domains, \
                 so mail from it cannot be sent."
            ));
        };
        let status = found
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        match status {
            Some("verified") => {
                Verdict::connected(format!("{name} accepted the key, and {domain} is verified for sending."))
            }
            Some(status) => Verdict::restricted(format!(
                "{name} accepted the key, but {domain} is {} rather than verified.",
                status.replace('_', " ")
            )),
            None => Verdict::restricted(format!("{name} accepted the key, but {domain} is not verified.")),
        }
    }
}
