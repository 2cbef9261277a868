//! Microsoft Azure: the OAuth client-credentials grant at Microsoft Entra ID
//! (`POST /{tenant}/oauth2/v2.0/token`) mints a token for Azure OpenAI's (or the
//! caller's) scope: the short-lived credential of `resolve` and the proxy, and the
//! connection test (which so proves the credential can mint one).
//! Errors carry `error` (`invalid_client` …) and `error_codes` (AADSTS numbers).

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use super::Adapter;
use crate::mint::ShortLived;
use crate::probe::{Detail, ProbeContext, ProbeOutcomeKind, Reply, Verdict, safe_code, safe_text};

/// What a minted token is for unless the caller says: Azure OpenAI (Cognitive Services).
const MINT_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// A wrong secret, an unknown or disabled application.
const INVALID_ERRORS: [&str; 2] = ["invalid_client", "unauthorized_client"];
/// AADSTS codes for a tenant that does not exist or is malformed (90002, 900023), an
/// application not in the tenant (700016), an invalid or expired secret (7000215,
/// 7000222).
const INVALID_CODES: [u64; 5] = [90002, 900023, 700016, 7000215, 7000222];

pub(crate) struct AzureClientCredentials;

#[async_trait]
impl Adapter for AzureClientCredentials {
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict {
        super::test_by_minting(self, cx, "accepted the client credentials and issued a short-lived token.").await
    }

    async fn mint(&self, cx: &ProbeContext<'_>, scope: Option<&str>) -> Result<ShortLived, Verdict> {
        let reply = grant(cx, scope.unwrap_or(MINT_SCOPE)).await?;
        super::oauth_token(&reply).ok_or_else(|| refusal(cx, &reply))
    }
}

/// Entra's answer to a client-credentials grant for `scope`.
async fn grant(cx: &ProbeContext<'_>, scope: &str) -> Result<Reply, Verdict> {
    let url = cx.url(&cx.probe.path)?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", cx.required_config("client_id")?)
        .append_pair("client_secret", cx.secret("client_secret")?)
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", scope)
        .finish();
    let request = cx
        .http
        .request(Method::POST, url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    cx.send(request).await
}

/// What Entra's refusal of a grant means.
fn refusal(cx: &ProbeContext<'_>, reply: &Reply) -> Verdict {
    let json = reply.json().unwrap_or(Value::Null);
    let error = json.get("error").and_then(safe_code);
    let codes: Vec<u64> = json
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let invalid = matches!(reply.status, 400 | 401)
        && (error.as_deref().is_some_and(|e| INVALID_ERRORS.contains(&e))
            || codes.iter().any(|c| INVALID_CODES.contains(c)));
    let kind = if invalid { ProbeOutcomeKind::Invalid } else { ProbeOutcomeKind::Unavailable };
    let detail = Detail {
        codes: error.into_iter().chain(codes.iter().map(|c| format!("AADSTS{c}"))).collect(),
        text: json
            .get("error_description")
            .and_then(Value::as_str)
            .and_then(first_sentence)
            .and_then(|s| safe_text(&s, cx.secrets)),
        status: reply.status,
    };
    detail.verdict(cx.name(), kind)
}

/// "AADSTS7000215: Invalid client secret provided. Ensure …" → "Invalid client secret
/// provided."
fn first_sentence(description: &str) -> Option<String> {
    let text = match description.split_once(": ") {
        Some((code, rest)) if code.starts_with("AADSTS") => rest,
        _ => description,
    };
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    Some(text[..end].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_sentence_without_the_code() {
        assert_eq!(
            first_sentence(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent \
                 in the request is the client secret value. Trace ID: 1"
            )
            .as_deref(),
            Some("Invalid client secret provided.")
        );
    }
}
