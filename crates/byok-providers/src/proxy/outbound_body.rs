//! Bodies of requests to providers: none, known whole, or streamed through.

use bytes::Bytes;
use futures::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body for a request to a provider.
pub type OutboundBody = UnsyncBoxBody<Bytes, BoxError>;

/// No body.
pub fn empty_body() -> OutboundBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body known whole.
pub fn full_body(bytes: Bytes) -> OutboundBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

/// A body sent on as it arrives.
pub fn streamed_body<S>(stream: S) -> OutboundBody
where
    S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
{
    StreamBody::new(futures::TryStreamExt::map_ok(stream, Frame::data)).boxed_unsync()
}
