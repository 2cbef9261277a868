//! Google Cloud: the OAuth JWT-bearer grant with the service-account key, sent to the
//! provider's origin (`oauth2.googleapis.com`, or its override), never to the key
//! file's own `token_uri`. The token is the short-lived credential `resolve` and the
//! proxy use; the connection test mints one (and throws it away), so proving that the
//! key can.

use async_trait::async_trait;
use reqwest::Method;

use super::Adapter;
use super::jwt::KeyFile;
use crate::mint::ShortLived;
use crate::probe::{Detail, ProbeContext, ProbeOutcomeKind, Reply, Verdict, safe_code, safe_text};

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Errors of RFC 6749 §5.2 that mean the key, its account or its signature is bad.
const INVALID: [&str; 3] = ["invalid_grant", "invalid_client", "unauthorized_client"];

pub(crate) struct GoogleServiceAccount;

#[async_trait]
impl Adapter for GoogleServiceAccount {
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict {
        super::test_by_minting(self, cx, "accepted the service account key and issued a short-lived token.").await
    }

    async fn mint(&self, cx: &ProbeContext<'_>, scope: Option<&str>) -> Result<ShortLived, Verdict> {
        let reply = grant(cx, scope.unwrap_or(SCOPE)).await?;
        super::oauth_token(&reply).ok_or_else(|| refusal(cx, &reply))
    }
}

/// The token endpoint's answer to a grant for `scope`.
async fn grant(cx: &ProbeContext<'_>, scope: &str) -> Result<Reply, Verdict> {
    let key = KeyFile::parse(cx.secret("service_account_json")?).map_err(Verdict::invalid)?;
    let url = cx.url(&cx.probe.path)?;
    let assertion = key.assertion(scope, url.as_str()).map_err(Verdict::invalid)?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", GRANT_TYPE)
        .append_pair("assertion", &assertion)
        .finish();
    let request = cx
        .http
        .request(Method::POST, url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    cx.send(request).await
}

/// What the endpoint's refusal of a grant means.
fn refusal(cx: &ProbeContext<'_>, reply: &Reply) -> Verdict {
    let json = reply.json();
    let error = json.as_ref().and_then(|j| j.get("error")).and_then(safe_code);
    let description =
        json.as_ref().and_then(|j| j.get("error_description")?.as_str()).and_then(|d| safe_text(d, cx.secrets));
    let kind = match error.as_deref() {
        Some(e) if matches!(reply.status, 400 | 401) && INVALID.contains(&e) => ProbeOutcomeKind::Invalid,
        _ => ProbeOutcomeKind::Unavailable,
    };
    let detail = Detail { codes: error.into_iter().collect(), text: description, status: reply.status };
    detail.verdict(cx.name(), kind)
}
