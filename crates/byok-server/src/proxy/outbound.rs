//! One attempt's request as it goes out with the paying credential: its auth injected
//! (a key, a minted token, or a SigV4 signature over the final request), moved to the
//! credential's own resource, project or region, and its account filled in.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use byok_core::{AuthSpec, ProviderSpec};
use byok_providers::{
    InjectError, OutboundBody, ShortLived, bedrock_origin, full_body, inject_auth, needs_token, resource_origin,
    sign_aws, vertex_origin, vertex_path, vertex_scope, with_default_sender,
};
use reqwest::Url;

use super::account_path::fill_account;
use super::forward::RequestBody;
use super::pay;
use super::refusal::Refusal;
use crate::AppState;

/// The attempt's URL, headers and body, from the caller's (`url`, `headers`) made fit
/// for `paid`'s credential.
pub(super) async fn prepare(
    state: &AppState,
    spec: &ProviderSpec,
    paid: &pay::Paid<'_>,
    method: &Method,
    named_account: Option<&str>,
    (mut url, mut headers): (Url, HeaderMap),
    body: RequestBody,
) -> Result<(Url, HeaderMap, OutboundBody), Refusal> {
    let token = if needs_token(spec, paid.secrets()) { Some(minted_token(state, spec, paid).await?) } else { None };
    let token = token.as_ref().and_then(|t| t.fields.get("access_token")).map(|t| t.expose());
    inject_auth(spec, paid.config(), paid.secrets(), token, &mut headers, &mut url).map_err(|e| match e {
        InjectError::NotProxyable(_) => Refusal::NotProxyable(e.to_string()),
        other => Refusal::internal(&format!("credential {:?} of {}", paid.credential(), paid.owner()), other),
    })?;
    let overridden = state.prober.is_overridden(spec);
    if is_vertex(spec) {
        to_vertex(spec, paid, overridden, &mut url)?;
    } else if is_aws(spec) && !overridden {
        let origin = bedrock_origin(paid.config()).map_err(|e| Refusal::NotProxyable(e.to_string()))?;
        move_to(&mut url, &origin)?;
    } else if !overridden {
        move_to_resource(spec, paid.config(), &mut url)?;
    }
    fill_account(spec, paid.config(), named_account, &mut url)?;
    let body = match body {
        RequestBody::Whole(bytes) => {
            let bytes = with_default_sender(spec.dialect, method.as_str(), url.path(), &bytes, paid.config())
                .map_or(bytes, Bytes::from);
            if is_aws(spec) {
                // Signed last, over the request exactly as it goes out.
                sign_aws(paid.config(), paid.secrets(), method.as_str(), &url, &mut headers, &bytes).map_err(|e| {
                    Refusal::internal(&format!("credential {:?} of {}", paid.credential(), paid.owner()), e)
                })?;
            }
            full_body(bytes)
        }
        RequestBody::Streamed(body) => body,
    };
    Ok((url, headers, body))
}

/// A token minted from the paying credential (Azure without a resource key), from the
/// short-lived cache or minted now.
async fn minted_token(state: &AppState, spec: &ProviderSpec, paid: &pay::Paid<'_>) -> Result<Arc<ShortLived>, Refusal> {
    let (credential, revision) = paid.token_key();
    let key = (credential.as_str(), revision);
    let minted = state.short_lived.mint(&state.prober, spec, key, paid.config(), paid.secrets(), None).await;
    minted.map_err(|failure| {
        Refusal::Upstream(format!("{} did not issue a token for the credential: {}", spec.name, failure.message))
    })
}

/// Whether `spec` is served as Amazon Bedrock (AWS access keys, requests re-signed).
pub(super) fn is_aws(spec: &ProviderSpec) -> bool {
    matches!(spec.auth, Some(AuthSpec::AwsSigv4))
}

/// Whether `spec` is served as Vertex AI (Google Cloud service accounts).
pub(super) fn is_vertex(spec: &ProviderSpec) -> bool {
    matches!(spec.auth, Some(AuthSpec::GoogleServiceAccount))
}

/// Puts the request in the paying credential's Vertex project and location, at its
/// regional origin unless the operator overrides it; a path naming another project or
/// location is refused.
fn to_vertex(spec: &ProviderSpec, paid: &pay::Paid<'_>, overridden: bool, url: &mut Url) -> Result<(), Refusal> {
    let scope = vertex_scope(paid.config(), paid.secrets()).map_err(|e| Refusal::NotProxyable(e.to_string()))?;
    let path = vertex_path(url.path(), &scope).ok_or_else(|| Refusal::PathNotAllowed(spec.name.clone()))?;
    url.set_path(&path);
    if !overridden {
        move_to(url, &vertex_origin(&scope))?;
    }
    Ok(())
}

/// Sends the request to the paying credential's own resource where the provider has
/// one (an Azure OpenAI endpoint), keeping its path and query.
fn move_to_resource(spec: &ProviderSpec, config: &BTreeMap<String, String>, url: &mut Url) -> Result<(), Refusal> {
    let origin = resource_origin(spec, config).map_err(|e| Refusal::NotProxyable(e.to_string()))?;
    if let Some(origin) = origin {
        move_to(url, &origin)?;
    }
    Ok(())
}

/// `url` at `origin`, its path and query kept.
fn move_to(url: &mut Url, origin: &str) -> Result<(), Refusal> {
    let mut moved = Url::parse(origin).map_err(|e| Refusal::internal("proxy", e))?;
    moved.set_path(url.path());
    moved.set_query(url.query());
    *url = moved;
    Ok(())
}
