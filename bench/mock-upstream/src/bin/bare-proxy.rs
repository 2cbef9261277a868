//! The bare proxy `bench/proxy.sh` holds byok's proxy against: the same hyper (through
//! axum) on both sides, a pooled keep-alive client, the upstream's key swapped in, and
//! nothing else — no authentication, no credential lookup, no metering, no audit. What
//! byok adds beyond this is the price of what it does.
//!
//! Usage: `bare-proxy LISTEN UPSTREAM` (e.g. `127.0.0.1:18083 127.0.0.1:18081`); a
//! request to `http://LISTEN/v1/chat/completions` goes to
//! `http://UPSTREAM/v1/chat/completions`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::serve::ListenerExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

struct Upstream {
    client: Client<HttpConnector, Body>,
    authority: String,
    key: HeaderValue,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:18083".to_owned());
    let authority = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let key = HeaderValue::from_static("Bearer sk-bench-upstream-key-0123456789");
    let upstream = Arc::new(Upstream { client, authority, key });
    let app = Router::new().fallback(forward).with_state(upstream);
    let listener = tokio::net::TcpListener::bind(&listen).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("bare-proxy listening on http://{listen}");
    axum::serve(listener, app).await
}

async fn forward(State(upstream): State<Arc<Upstream>>, mut request: Request) -> Result<Response, StatusCode> {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let uri: Uri = format!("http://{}{path}", upstream.authority).parse().map_err(|_| StatusCode::BAD_REQUEST)?;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.remove(header::HOST);
    headers.insert(header::AUTHORIZATION, upstream.key.clone());
    let answer = upstream.client.request(request).await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(answer.map(Body::new))
}
