//! Property tests: the proxy's usage reader takes any bytes, split anywhere, without
//! panicking, and reads the same usage however an answer is split into chunks.

use byok_providers::UsageMeter;
use proptest::prelude::*;

const SSE: &str = concat!(
    "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"total_tokens\":14}}\n\n",
    "data: [DONE]\n\n",
);
const JSON: &str = r#"{"id":"msg_1","type":"message","usage":{"input_tokens":12,"output_tokens":30}}"#;

fn read(content_type: &str, chunks: &[&[u8]]) -> Option<u64> {
    let mut meter = UsageMeter::for_content_type(Some(content_type));
    for chunk in chunks {
        meter.feed(chunk);
    }
    meter.finish()
}

fn split_at_points<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&bytes[start..cut]);
        start = cut;
    }
    chunks.push(&bytes[start..]);
    chunks
}

#[test]
fn the_fixtures_report_their_usage() {
    assert_eq!(read("text/event-stream", &[SSE.as_bytes()]), Some(14));
    assert_eq!(read("application/json", &[JSON.as_bytes()]), Some(42));
}

proptest! {
    #[test]
    fn any_bytes_are_read_without_panic(
        content_type in prop::sample::select(vec!["text/event-stream", "application/json", "text/plain"]),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10),
    ) {
        let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let _ = read(content_type, &chunks);
    }

    #[test]
    fn usage_does_not_depend_on_where_chunks_end(points in proptest::collection::vec(any::<usize>(), 0..12)) {
        prop_assert_eq!(read("text/event-stream", &split_at_points(SSE.as_bytes(), &points)), Some(14));
        prop_assert_eq!(read("application/json", &split_at_points(JSON.as_bytes(), &points)), Some(42));
    }

    #[test]
    fn json_like_noise_never_panics(text in "[{}\\[\\]\":,0-9a-z_ ]{0,300}") {
        let _ = read("application/json", &[text.as_bytes()]);
        let _ = read("text/event-stream", &[format!("data: {text}\n\n").as_bytes()]);
    }
}
