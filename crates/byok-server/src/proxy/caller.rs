//! Who is calling the proxy and who pays: the key from wherever the provider's SDK
//! put it, checked like any token, and the owners whose credentials may be used.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use byok_core::{OrgId, Owner, ProviderId, Role, Tier, TokenId, UserId, VirtualKey, resolution_chain};

use super::refusal::Refusal;
use crate::AppState;

/// Headers that carry a key in some provider's SDK.
pub(super) const KEY_HEADERS: [&str; 3] = ["x-api-key", "x-goog-api-key", "api-key"];
/// The query parameter Gemini's SDKs may put the key in.
pub(super) const KEY_PARAM: &str = "key";
/// A service token names the user and org it acts for here.
const USER_HEADER: &str = "x-byok-user";
const ORG_HEADER: &str = "x-byok-org";

/// The caller of one proxied request.
pub(super) struct Caller {
    /// The key as presented, to be scrubbed from everything forwarded.
    pub key: String,
    /// The owners whose credentials may pay, in order.
    pub chain: Vec<(Tier, Owner)>,
    /// Set when the caller is a virtual key.
    pub virtual_key: Option<Arc<VirtualKey>>,
}

impl Caller {
    pub fn token_id(&self) -> Option<TokenId> {
        self.virtual_key.as_ref().map(|k| k.token_id)
    }
}

/// The key the SDK sent: a bearer token, an API-key header, Gemini's `?key=`, or
/// either half of HTTP basic authentication (Twilio-style). A byok token wins over
/// anything else found.
/// The access key id of a SigV4 `Authorization` value's `Credential=<id>/<scope>`.
fn sigv4_access_key(parameters: &str) -> Option<&str> {
    let credential = parameters.split(',').find_map(|p| p.trim().strip_prefix("Credential="))?;
    credential.split('/').next()
}

pub(super) fn presented_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some((scheme, rest)) = value.trim().split_once(' ')
    {
        if scheme.eq_ignore_ascii_case("bearer") {
            found.push(rest.trim().to_owned());
        } else if scheme.eq_ignore_ascii_case("basic")
            && let Some(pair) = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
            && let Some((user, password)) = pair.split_once(':')
        {
            found.push(password.to_owned());
            found.push(user.to_owned());
        } else if scheme.eq_ignore_ascii_case("aws4-hmac-sha256")
            && let Some(key) = sigv4_access_key(rest)
        {
            // AWS SDKs sign with the virtual key as their access key id.
            found.push(key.to_owned());
        }
    }
    for name in KEY_HEADERS {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            found.push(value.trim().to_owned());
        }
    }
    if let Some(query) = query {
        found.extend(
            form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == KEY_PARAM).map(|(_, v)| v.into_owned()),
        );
    }
    found.retain(|k| !k.is_empty());
    let byok = found.iter().position(|k| k.starts_with("byok_")).unwrap_or(0);
    (!found.is_empty()).then(|| found.swap_remove(byok))
}

/// Authenticates the key and works out who pays for `provider`.
pub(super) async fn identify(
    state: &AppState,
    provider: &ProviderId,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Caller, Refusal> {
    let key = presented_key(headers, query).ok_or(Refusal::MissingKey)?;
    let principal = crate::auth::authenticate(state, &key).await.map_err(|_| Refusal::InvalidKey)?;
    match principal.role {
        Role::Virtual => {
            let token_id = principal.token_id.ok_or(Refusal::InvalidKey)?;
            let virtual_key =
                state.proxy.keys.get(state.store.as_ref(), &token_id).await?.ok_or(Refusal::InvalidKey)?;
            if !virtual_key.allows(provider) {
                return Err(Refusal::ProviderNotAllowed(provider.clone()));
            }
            // The key's owner pays: its own pool, then the platform's where allowed; never
            // another owner's.
            let chain = match principal.owner {
                Some(Owner::User(user)) => resolution_chain(Some(&user), None, true, true),
                Some(Owner::Org(org)) => {
                    let allows = state.credential_cache.org_allows_platform(&org).await?;
                    resolution_chain(None, Some(&org), true, allows)
                }
                _ => {
                    return Err(Refusal::internal("proxy", format!("virtual key {token_id} has no user or org owner")));
                }
            };
            Ok(Caller { key, chain, virtual_key: Some(virtual_key) })
        }
        Role::Service => {
            let user = id_header(headers, USER_HEADER, UserId::parse)?;
            let org = id_header(headers, ORG_HEADER, OrgId::parse)?;
            let allows = match &org {
                Some(org) => state.credential_cache.org_allows_platform(org).await?,
                None => true,
            };
            Ok(Caller { key, chain: resolution_chain(user.as_ref(), org.as_ref(), true, allows), virtual_key: None })
        }
        Role::Admin | Role::User => Err(Refusal::WrongRole),
    }
}

fn id_header<T>(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&str) -> Result<T, byok_core::DomainError>,
) -> Result<Option<T>, Refusal> {
    let Some(value) = headers.get(name) else { return Ok(None) };
    let text = value.to_str().map_err(|_| Refusal::BadRequest(format!("invalid {name}: not text")))?;
    parse(text.trim()).map(Some).map_err(|e| Refusal::BadRequest(format!("{name}: {e}")))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), HeaderValue::from_str(v).unwrap())).collect()
    }

    proptest::proptest! {
        #[test]
        fn any_header_or_query_is_read_without_panic(auth in "\\PC{0,80}", api_key in "[ -~]{0,40}", query in "\\PC{0,80}") {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&auth) {
                h.insert(AUTHORIZATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&api_key) {
                h.insert("x-api-key", v);
            }
            let _ = presented_key(&h, Some(&query));
        }
    }

    #[test]
    fn finds_the_key_wherever_an_sdk_puts_it() {
        let vk = "byok_vk_abc";
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer byok_vk_abc")]), None).as_deref(), Some(vk));
        assert_eq!(presented_key(&headers(&[("x-api-key", vk)]), None).as_deref(), Some(vk));
        assert_eq!(presented_key(&headers(&[("x-goog-api-key", vk)]), None).as_deref(), Some(vk));
        assert_eq!(presented_key(&HeaderMap::new(), Some("alt=sse&key=byok_vk_abc")).as_deref(), Some(vk));
        let basic = |pair: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
        assert_eq!(
            presented_key(&headers(&[("authorization", &basic("AC123:byok_vk_abc"))]), None).as_deref(),
            Some(vk)
        );
        assert_eq!(presented_key(&headers(&[("authorization", &basic("byok_vk_abc:"))]), None).as_deref(), Some(vk));
        // A byok key wins over a stray provider key elsewhere.
        let both = headers(&[("authorization", "Bearer sk-other"), ("x-api-key", vk)]);
        assert_eq!(presented_key(&both, None).as_deref(), Some(vk));
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer sk-other")]), None).as_deref(), Some("sk-other"));
        assert_eq!(presented_key(&HeaderMap::new(), Some("a=1")), None);
    }
}
