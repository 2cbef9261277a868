//! Tokens from a provider's answer, read while the bytes pass through: the `usage`
//! object of a JSON answer (OpenAI `prompt_tokens`/`completion_tokens`/`total_tokens`,
//! Anthropic `input_tokens`/`output_tokens`, Gemini `usageMetadata`), or the usage
//! events of an SSE stream (OpenAI's final usage chunk, Anthropic's `message_start` and
//! `message_delta`, Gemini's chunks), or the messages of an AWS event stream (Bedrock's
//! `metadata` event). Later reports replace earlier ones field by field, as the
//! providers' counts are cumulative.

use serde_json::Value;

/// JSON answers larger than this are passed through without counting tokens.
const MAX_JSON: usize = 8 * 1024 * 1024;
/// An SSE line longer than this is skipped (usage events are small).
const MAX_LINE: usize = 1024 * 1024;
/// The most tokens one answer is taken to report (about 10^12); a larger figure, or a
/// sum past it, counts as this many, so no answer can overflow a counter.
pub const MAX_REPORTED_TOKENS: u64 = 1 << 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Json,
    Sse,
    /// `application/vnd.amazon.eventstream`: length-prefixed binary messages.
    EventStream,
    Off,
}

/// Reads an answer's token usage incrementally; never holds bytes back.
#[derive(Debug)]
pub struct UsageMeter {
    mode: Mode,
    buf: Vec<u8>,
    /// Skipping the rest of an overlong SSE line.
    skipping: bool,
    input: Option<u64>,
    output: Option<u64>,
    total: Option<u64>,
}

impl UsageMeter {
    /// A meter for an answer with this `Content-Type`.
    pub fn for_content_type(content_type: Option<&str>) -> Self {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        let mode = if ct.starts_with("text/event-stream") {
            Mode::Sse
        } else if ct.starts_with("application/json") {
            Mode::Json
        } else if ct.starts_with("application/vnd.amazon.eventstream") {
            Mode::EventStream
        } else {
            Mode::Off
        };
        Self { mode, buf: Vec::new(), skipping: false, input: None, output: None, total: None }
    }

    /// Looks at the next bytes of the answer.
    pub fn feed(&mut self, chunk: &[u8]) {
        match self.mode {
            Mode::Off => {}
            Mode::Json => {
                if self.buf.len() + chunk.len() > MAX_JSON {
                    self.mode = Mode::Off;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            Mode::Sse => self.feed_sse(chunk),
            Mode::EventStream => self.feed_event_stream(chunk),
        }
    }

    /// The tokens the answer reported, once it is complete; `None` when it reported none.
    pub fn finish(&mut self) -> Option<u64> {
        match self.mode {
            Mode::Json => {
                let body = std::mem::take(&mut self.buf);
                if let Ok(value) = serde_json::from_slice::<Value>(&body) {
                    self.observe(&value);
                }
            }
            Mode::Sse => {
                let rest = std::mem::take(&mut self.buf);
                if !self.skipping {
                    self.sse_line(&rest);
                }
            }
            Mode::EventStream | Mode::Off => {}
        }
        self.mode = Mode::Off;
        self.tokens()
    }

    /// The tokens reported so far.
    pub fn tokens(&self) -> Option<u64> {
        self.total.or_else(|| match (self.input, self.output) {
            (None, None) => None,
            (i, o) => Some(i.unwrap_or(0).saturating_add(o.unwrap_or(0)).min(MAX_REPORTED_TOKENS)),
        })
    }

    fn feed_sse(&mut self, mut chunk: &[u8]) {
        while let Some(nl) = chunk.iter().position(|b| *b == b'\n') {
            let (line, rest) = (&chunk[..nl], &chunk[nl + 1..]);
            if self.skipping {
                self.skipping = false;
            } else if self.buf.is_empty() {
                self.sse_line(line);
            } else {
                let mut whole = std::mem::take(&mut self.buf);
                whole.extend_from_slice(line);
                self.sse_line(&whole);
            }
            chunk = rest;
        }
        if self.skipping {
            return;
        }
        if self.buf.len() + chunk.len() > MAX_LINE {
            self.buf.clear();
            self.skipping = true;
        } else {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Reads each complete message: total length (4 bytes, big-endian), headers length
    /// (4), the prelude's CRC (4), headers, payload, the message's CRC (4). Payloads that
    /// mention usage are read as JSON.
    fn feed_event_stream(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        loop {
            let Some(prelude) = self.buf.get(..8) else { return };
            let total = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]) as usize;
            let headers = u32::from_be_bytes([prelude[4], prelude[5], prelude[6], prelude[7]]) as usize;
            if total > MAX_LINE || total < 16 + headers {
                self.mode = Mode::Off;
                self.buf = Vec::new();
                return;
            }
            if self.buf.len() < total {
                return;
            }
            let payload = &self.buf[12 + headers..total - 4];
            if payload.windows(4).any(|w| w.eq_ignore_ascii_case(b"sage"))
                && let Ok(value) = serde_json::from_slice::<Value>(payload)
            {
                self.observe(&value);
            }
            self.buf.drain(..total);
        }
    }

    fn sse_line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else { return };
        // Only events that mention usage are parsed.
        if !data.windows(4).any(|w| w.eq_ignore_ascii_case(b"sage")) {
            return;
        }
        if let Ok(value) = serde_json::from_slice::<Value>(data.trim_ascii()) {
            self.observe(&value);
        }
    }

    fn observe(&mut self, value: &Value) {
        // Gemini's stream without `alt=sse` is one JSON array of its chunks.
        if let Value::Array(chunks) = value {
            chunks.iter().for_each(|chunk| self.observe(chunk));
            return;
        }
        // Groq's streams also report usage in the last chunk's `x_groq`.
        for usage in [
            &value["usage"],
            &value["message"]["usage"],
            &value["response"]["usage"],
            &value["usageMetadata"],
            &value["x_groq"]["usage"],
        ] {
            if usage.is_object() {
                self.read_usage(usage);
            }
        }
    }

    fn read_usage(&mut self, u: &Value) {
        let n = |name: &str| u.get(name).and_then(Value::as_u64).map(|n| n.min(MAX_REPORTED_TOKENS));
        let input: Option<u64> =
            ["prompt_tokens", "input_tokens", "promptTokenCount", "inputTokens"].iter().find_map(|k| n(k));
        if let Some(input) = input {
            // Anthropic counts cache reads and writes apart from `input_tokens`.
            let cached = n("cache_creation_input_tokens").unwrap_or(0) + n("cache_read_input_tokens").unwrap_or(0);
            self.input = Some((input + cached).min(MAX_REPORTED_TOKENS));
        }
        if let Some(output) =
            ["completion_tokens", "output_tokens", "candidatesTokenCount", "outputTokens"].iter().find_map(|k| n(k))
        {
            self.output = Some(output);
        }
        if let Some(total) = ["total_tokens", "totalTokenCount", "totalTokens"].iter().find_map(|k| n(k)) {
            self.total = Some(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_saturate() {
        let huge = format!(
            r#"{{"usage":{{"prompt_tokens":{max},"completion_tokens":{max},"total_tokens":18446744073709551615}}}}"#,
            max = u64::MAX
        );
        assert_eq!(metered("application/json", &[huge.as_bytes()]), Some(MAX_REPORTED_TOKENS));
        let split = format!(
            r#"{{"usage":{{"input_tokens":{},"output_tokens":5,"cache_read_input_tokens":{}}}}}"#,
            i64::MAX,
            u64::MAX
        );
        assert_eq!(metered("application/json", &[split.as_bytes()]), Some(MAX_REPORTED_TOKENS));
    }

    fn metered(content_type: &str, chunks: &[&[u8]]) -> Option<u64> {
        let mut meter = UsageMeter::for_content_type(Some(content_type));
        for c in chunks {
            meter.feed(c);
        }
        meter.finish()
    }

    #[test]
    fn bedrock_answers_and_event_streams() {
        let converse = br#"{"output":{},"usage":{"inputTokens":8,"outputTokens":5,"totalTokens":13}}"#;
        assert_eq!(metered("application/json", &[converse]), Some(13));
        let message = |payload: &str| {
            let headers = b"\x0d:message-type\x07\x00\x05event";
            let total = 12 + headers.len() + payload.len() + 4;
            let mut m = Vec::new();
            m.extend_from_slice(&(total as u32).to_be_bytes());
            m.extend_from_slice(&(headers.len() as u32).to_be_bytes());
            m.extend_from_slice(&[0; 4]);
            m.extend_from_slice(headers);
            m.extend_from_slice(payload.as_bytes());
            m.extend_from_slice(&[0; 4]);
            m
        };
        let mut stream = message(r#"{"contentBlockIndex":0,"delta":{"text":"usage is a word"}}"#);
        stream.extend(message(r#"{"usage":{"inputTokens":8,"outputTokens":6,"totalTokens":14},"metrics":{}}"#));
        let (a, b) = stream.split_at(23);
        assert_eq!(metered("application/vnd.amazon.eventstream", &[a, b]), Some(14));
    }

    #[test]
    fn json_answers_of_each_dialect() {
        let openai = br#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;
        assert_eq!(metered("application/json", &[&openai[..10], &openai[10..]]), Some(14));
        let anthropic = br#"{"type":"message","usage":{"input_tokens":10,"output_tokens":7}}"#;
        assert_eq!(metered("application/json; charset=utf-8", &[anthropic]), Some(17));
        let gemini = br#"{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}}"#;
        assert_eq!(metered("application/json", &[gemini]), Some(7));
        let gemini_stream = br#"[{"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}},
            {"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10}}]"#;
        assert_eq!(metered("application/json; charset=UTF-8", &[gemini_stream]), Some(10));
        assert_eq!(metered("application/json", &[br#"{"data":[]}"#]), None);
        assert_eq!(metered("text/plain", &[openai]), None);
    }

    #[test]
    fn openai_stream_usage_chunk_split_anywhere() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n\
            data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"total_tokens\":14}}\n\n\
            data: [DONE]\n\n";
        for cut in 0..stream.len() {
            assert_eq!(metered("text/event-stream", &[&stream[..cut], &stream[cut..]]), Some(14), "cut at {cut}");
        }
    }

    #[test]
    fn anthropic_stream_counts_input_and_final_output() {
        let stream = b"event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n\
            event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\r\n\r\n\
            event: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\r\n\r\n";
        assert_eq!(metered("text/event-stream; charset=utf-8", &[stream]), Some(40));
    }

    #[test]
    fn gemini_stream_counts_its_last_chunks_totals() {
        let stream = b"data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":4,\"totalTokenCount\":4}}\r\n\r\n\
            data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":6,\"totalTokenCount\":10}}\r\n\r\n";
        assert_eq!(metered("text/event-stream", &[stream]), Some(10));
    }

    #[test]
    fn groq_stream_without_a_usage_chunk_counts_x_groq() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n\
            data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"req_1\",\"usage\":{\"prompt_tokens\":18,\"completion_tokens\":6,\"total_tokens\":24}}}\n\n\
            data: [DONE]\n\n";
        assert_eq!(metered("text/event-stream", &[stream]), Some(24));
    }

    #[test]
    fn overlong_lines_are_skipped_not_buffered() {
        let mut meter = UsageMeter::for_content_type(Some("text/event-stream"));
        meter.feed(b"data: ");
        meter.feed(&vec![b'x'; MAX_LINE + 1]);
        assert!(meter.buf.is_empty());
        meter.feed(b"tail\ndata: {\"usage\":{\"total_tokens\":3}}\n");
        assert_eq!(meter.finish(), Some(3));
    }
}
