//! One trait for every kind of connection test: the generic one driven by catalog
//! data, and code for providers whose authentication or checks need more.

mod aws;
mod azure;
mod generic;
mod google;
mod jwt;
mod resend;
mod twilio;

use async_trait::async_trait;
use byok_core::{ProbeAdapter, ProbeSpec, Timestamp};
use serde_json::Value;

use crate::mint::ShortLived;
use crate::probe::{ProbeContext, Reply, Verdict};

#[async_trait]
pub(crate) trait Adapter: Send + Sync {
    /// Runs the provider's connection test and says what its answer means.
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict;

    /// Mints a short-lived credential from the stored one (`scope`: what a token is
    /// for, where the provider takes one); the verdict says why not.
    async fn mint(&self, cx: &ProbeContext<'_>, _scope: Option<&str>) -> Result<ShortLived, Verdict> {
        Err(Verdict::unavailable(format!("{} has no short-lived credentials.", cx.name())))
    }
}

/// The adapter a catalog probe names, or the generic one.
pub(crate) fn for_probe(probe: &ProbeSpec) -> &'static dyn Adapter {
    match probe.adapter {
        None => &generic::Generic,
        Some(ProbeAdapter::AwsSts) => &aws::AwsSts,
        Some(ProbeAdapter::GoogleServiceAccount) => &google::GoogleServiceAccount,
        Some(ProbeAdapter::AzureClientCredentials) => &azure::AzureClientCredentials,
        Some(ProbeAdapter::TwilioPhoneNumber) => &twilio::TwilioPhoneNumber,
        Some(ProbeAdapter::ResendFromDomain) => &resend::ResendFromDomain,
    }
}

/// A cloud's connection test: it mints the short-lived credential that resolve and the
/// proxy use (and throws it away); `accepted` says what the cloud did, after its name.
async fn test_by_minting(adapter: &dyn Adapter, cx: &ProbeContext<'_>, accepted: &str) -> Verdict {
    match adapter.mint(cx, None).await {
        Ok(_) => Verdict::connected(format!("{} {accepted}", cx.name())),
        Err(verdict) => verdict,
    }
}

/// An OAuth 2.0 token answer (RFC 6749 §5.1) as a short-lived credential: its
/// `access_token` and `token_type`, valid for `expires_in` seconds (a number, or a
/// string of one as Entra's v1 endpoint sends). `None` unless it is a success with a
/// token.
fn oauth_token(reply: &Reply) -> Option<ShortLived> {
    if !reply.is_success() {
        return None;
    }
    let json = reply.json()?;
    let token = json.get("access_token")?.as_str().filter(|t| !t.is_empty())?;
    let kind = json.get("token_type").and_then(Value::as_str).unwrap_or("Bearer");
    let lifetime = match json.get("expires_in") {
        Some(Value::String(s)) => s.parse().ok(),
        Some(n) => n.as_i64(),
        None => None,
    }
    .filter(|secs| *secs > 0)?;
    let expires_at = Timestamp::now().plus_seconds(lifetime);
    Some(ShortLived::new([("access_token", token.to_owned()), ("token_type", kind.to_owned())], expires_at))
}
