//! OpenAI-style streams report usage only when asked: a streamed request that does not
//! say gets `"stream_options": {"include_usage": true}` added, so the proxy can count
//! its tokens from the final chunk.

/// The body with the usage report asked for, when it is a JSON object with
/// `"stream": true` and no `stream_options`; `None` leaves the body as it is. The
/// member is inserted as text after the opening brace, so everything else keeps its
/// bytes and order.
pub fn ask_for_usage(body: &[u8]) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if object.get("stream") != Some(&serde_json::Value::Bool(true)) || object.contains_key("stream_options") {
        return None;
    }
    let brace = body.iter().position(|b| *b == b'{')?;
    const MEMBER: &[u8] = br#""stream_options":{"include_usage":true},"#;
    let mut out = Vec::with_capacity(body.len() + MEMBER.len());
    out.extend_from_slice(&body[..=brace]);
    out.extend_from_slice(MEMBER);
    out.extend_from_slice(&body[brace + 1..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_usage_option_only_to_streams_without_one() {
        let body = br#" {"model":"m","stream":true,"messages":[]}"#;
        let out = ask_for_usage(body).unwrap();
        assert_eq!(out, br#" {"stream_options":{"include_usage":true},"model":"m","stream":true,"messages":[]}"#);
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["stream_options"]["include_usage"], true);
        assert!(ask_for_usage(br#"{"stream":false}"#).is_none());
        assert!(ask_for_usage(br#"{"stream":true,"stream_options":{"include_usage":false}}"#).is_none());
        assert!(ask_for_usage(br#"{"model":"m"}"#).is_none());
        assert!(ask_for_usage(b"not json").is_none());
        assert!(ask_for_usage(br#"[{"stream":true}]"#).is_none());
    }
}
