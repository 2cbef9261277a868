//! The request as it goes to the provider: its path and query on the provider's
//! origin, the caller's headers without hop-by-hop ones, byok's own, or any place the
//! presented key could be, and the body streamed (or, for JSON, read up to the limit
//! so an OpenAI-style stream can be asked for its usage report).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::{self, HeaderMap, HeaderName};
use byok_core::Dialect;
use byok_providers::{OutboundBody, empty_body, streamed_body};
use futures::StreamExt;
use reqwest::Url;

use super::body_limit::{Limited, drain};
use super::caller::{KEY_HEADERS, KEY_PARAM};
use super::refusal::Refusal;
use super::stray_tokens::{carries_token, json_carries_token};

/// Headers meaningful only for one connection (RFC 9110 §7.6.1), and `Host`.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The caller's headers fit to forward: no hop-by-hop headers (nor those `Connection`
/// names), no `Host`, no `X-Byok-*`, no authentication header or cookie, no
/// `Accept-Encoding` (answers come back uncompressed so their usage can be read), no
/// `Content-Length` (the body sets it). A byok token left in any other header refuses
/// the request.
pub(super) fn request_headers(incoming: &HeaderMap) -> Result<HeaderMap, Refusal> {
    let mut out = without_hop_by_hop(incoming);
    for name in [
        header::HOST,
        header::AUTHORIZATION,
        header::COOKIE,
        header::ACCEPT_ENCODING,
        header::CONTENT_LENGTH,
        header::EXPECT,
    ] {
        out.remove(name);
    }
    for name in KEY_HEADERS {
        out.remove(name);
    }
    let byok: Vec<HeaderName> = out.keys().filter(|name| name.as_str().starts_with("x-byok-")).cloned().collect();
    for name in byok {
        out.remove(name);
    }
    if out.iter().any(|(name, value)| carries_token(name.as_str().as_bytes()) || carries_token(value.as_bytes())) {
        return Err(Refusal::StrayToken);
    }
    Ok(out)
}

/// An answer's headers fit to pass back: no hop-by-hop headers, and no `Set-Cookie`,
/// which would set the provider's cookies on byok's origin (the settings page's too).
pub(super) fn response_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = without_hop_by_hop(upstream);
    out.remove(header::SET_COOKIE);
    out
}

fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let n = name.as_str();
        if !HOP_BY_HOP.contains(&n) && !named.iter().any(|x| x == n) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// `origin` + the caller's path and query, without the `key` parameter that carried
/// the presented key. A byok token anywhere else in the path or query refuses the
/// request. The result must still be on `origin`.
pub(super) fn target_url(origin: &str, path: &str, query: Option<&str>, key: &str) -> Result<Url, Refusal> {
    if carries_token(path.as_bytes()) {
        return Err(Refusal::StrayToken);
    }
    let mut target = format!("{origin}{path}");
    let kept: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !form_urlencoded::parse(pair.as_bytes()).any(|(k, v)| k == KEY_PARAM && v == key))
        .collect();
    if kept.iter().any(|pair| carries_token(pair.as_bytes())) {
        return Err(Refusal::StrayToken);
    }
    if !kept.is_empty() {
        target.push('?');
        target.push_str(&kept.join("&"));
    }
    let url = Url::parse(&target).map_err(|_| Refusal::BadRequest("the path cannot be forwarded".into()))?;
    if url.origin().ascii_serialization() != origin {
        return Err(Refusal::BadRequest("the path cannot be forwarded".into()));
    }
    Ok(url)
}

/// A request body on its way: read whole (so it can still be completed once the
/// credential is known), or streamed through.
pub(super) enum RequestBody {
    Whole(Bytes),
    Streamed(OutboundBody),
}

/// The body to forward. JSON bodies, and Twilio's forms, are read whole (up to
/// `limit`) and OpenAI-style streamed requests get `stream_options.include_usage`;
/// other bodies stream through with `limit` enforced on the way. `exceeded` is set
/// when a streamed body runs over.
pub(super) async fn request_body(
    body: Body,
    headers: &HeaderMap,
    dialect: Dialect,
    limit: usize,
    exceeded: &Arc<AtomicBool>,
) -> Result<RequestBody, Refusal> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body.into_data_stream()).await;
        return Err(Refusal::PayloadTooLarge(limit));
    }
    if body.size_hint().exact() == Some(0) {
        return Ok(RequestBody::Streamed(empty_body()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if dialect == Dialect::Twilio && content_type.starts_with("application/x-www-form-urlencoded") {
        let bytes = read_whole(body, limit).await?;
        if carries_token(&bytes) {
            return Err(Refusal::StrayToken);
        }
        return Ok(RequestBody::Whole(bytes));
    }
    if content_type.contains("json") {
        let bytes = read_whole(body, limit).await?;
        if json_carries_token(&bytes) {
            return Err(Refusal::StrayToken);
        }
        let bytes = match dialect {
            Dialect::Openai => byok_providers::ask_for_usage(&bytes).map(Bytes::from).unwrap_or(bytes),
            _ => bytes,
        };
        return Ok(RequestBody::Whole(bytes));
    }
    let limited = Limited::new(body.into_data_stream(), limit, exceeded.clone());
    Ok(RequestBody::Streamed(streamed_body(limited)))
}

/// Reads a body of at most `limit` bytes.
async fn read_whole(body: Body, limit: usize) -> Result<Bytes, Refusal> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Refusal::BadRequest("the request body could not be read".into()))?;
        if out.len() + chunk.len() > limit {
            drain(stream).await;
            return Err(Refusal::PayloadTooLarge(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn drops_hop_by_hop_byok_and_key_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("host", "byok"),
            ("authorization", "Bearer byok_vk_0123"),
            ("x-api-key", "byok_vk_0123"),
            ("x-byok-user", "alice"),
            ("accept-encoding", "gzip"),
            ("anthropic-version", "2023-06-01"),
            ("content-type", "application/json"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let out = request_headers(&h).unwrap();
        let mut names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["anthropic-version", "content-type"]);
        h.append("x-stray", HeaderValue::from_static("prefix byok_vk_0123"));
        assert!(matches!(request_headers(&h), Err(Refusal::StrayToken)));
    }

    #[test]
    fn urls_keep_path_and_query_without_the_key() {
        let url = target_url(
            "http://127.0.0.1:9",
            "/v1beta/models/m:generateContent",
            Some("alt=sse&key=byok_vk_1&x=%2F"),
            "byok_vk_1",
        )
        .unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/v1beta/models/m:generateContent?alt=sse&x=%2F");
        let url = target_url("http://127.0.0.1:9", "//evil.example/x", None, "k").unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        let url = target_url("http://127.0.0.1:9", "/x", Some("key=byok%5Fvk%5F1"), "byok_vk_1").unwrap();
        assert_eq!(url.query(), None);
    }

    #[test]
    fn a_second_token_in_the_path_or_query_is_refused() {
        let refused = |path: &str, query: Option<&str>| {
            matches!(target_url("http://127.0.0.1:9", path, query, "byok_vk_1"), Err(Refusal::StrayToken))
        };
        assert!(refused("/x", Some("key=byok_vk_1&key=byok_vk_2")));
        assert!(refused("/x", Some("other=byok_vk_1")));
        assert!(refused("/x/byok%5Fvk%5F2", None));
        assert!(refused("/x", Some("k=Ynlva192a18y")));
        assert!(!refused("/x", Some("key=byok_vk_1&alt=sse")));
    }
}
