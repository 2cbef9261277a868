//! The proxy's outbound client against raw HTTP/1.1 servers on loopback: connections
//! are reused, replaced when the provider closed them, answers already sent arrive in
//! one piece, a provider that stops sending is cut off after the read timeout, and
//! `https` origins are reached over TLS with their certificate checked.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use super::answer_body::BodyError;
use super::outbound_body::{empty_body, full_body};
use super::upstream::{Answer, Upstream};

const JSON: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
const THREE_CHUNKS: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n\
7\r\ndata: 1\r\n7\r\ndata: 2\r\n7\r\ndata: 3\r\n0\r\n\r\n";

/// How a test server treats each connection after writing its answer.
#[derive(Clone, Copy)]
enum After {
    KeepAlive,
    Close,
    /// Keeps the connection open for a while, then closes it.
    CloseLater,
    Stall,
}

/// A server writing `answer` to every request; counts the connections it accepted.
async fn serve(answer: &'static [u8], after: After) -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/v1/x", listener.local_addr().unwrap())).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer_each(socket, answer, after));
        }
    });
    (url, accepted)
}

async fn answer_each(mut socket: TcpStream, answer: &'static [u8], after: After) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        seen.clear();
        if socket.write_all(answer).await.is_err() {
            return;
        }
        match after {
            After::KeepAlive => {}
            After::Close => return,
            After::CloseLater => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
            After::Stall => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        }
    }
}

fn client(read_timeout: Duration) -> Upstream {
    Upstream::new(Duration::from_secs(2), read_timeout, true).unwrap()
}

async fn get(upstream: &Upstream, url: &Url) -> Answer {
    upstream.send(Method::GET, url, HeaderMap::new(), empty_body()).await.expect("an answer")
}

async fn read_all(answer: Answer) -> (Vec<Bytes>, Option<BodyError>) {
    let mut chunks = Vec::new();
    let mut body = answer.body;
    while let Some(item) = body.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(e) => return (chunks, Some(e)),
        }
    }
    (chunks, None)
}

#[tokio::test]
async fn answers_read_to_their_end_leave_the_connection_for_the_next_request() {
    for answer in [JSON, THREE_CHUNKS] {
        let (url, accepted) = serve(answer, After::KeepAlive).await;
        let upstream = client(Duration::from_secs(5));
        for _ in 0..5 {
            let answer = get(&upstream, &url).await;
            assert_eq!(answer.status, 200);
            let (chunks, error) = read_all(answer).await;
            assert!(error.is_none() && !chunks.is_empty());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "five requests, one connection");
    }
}

#[tokio::test]
async fn a_connection_the_provider_closed_is_replaced() {
    let (url, accepted) = serve(JSON, After::Close).await;
    let upstream = client(Duration::from_secs(5));
    for _ in 0..3 {
        let answer = get(&upstream, &url).await;
        let (chunks, error) = read_all(answer).await;
        assert!(error.is_none());
        assert_eq!(chunks.concat(), b"{\"ok\":true}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn idle_connections_the_provider_closed_are_swept() {
    let (url, _) = serve(JSON, After::CloseLater).await;
    let upstream = client(Duration::from_secs(5));
    let (_, error) = read_all(get(&upstream, &url).await).await;
    assert!(error.is_none());
    assert_eq!(upstream.swept_idle_connections(), 1, "the connection is idle and open");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(upstream.swept_idle_connections(), 0, "the provider closed it");
}

#[tokio::test]
async fn chunks_already_sent_are_passed_on_as_one() {
    let (url, _) = serve(THREE_CHUNKS, After::KeepAlive).await;
    let upstream = client(Duration::from_secs(5));
    let (chunks, error) = read_all(get(&upstream, &url).await).await;
    assert!(error.is_none());
    assert_eq!(chunks, vec![Bytes::from_static(b"data: 1data: 2data: 3")]);
}

#[tokio::test]
async fn a_provider_that_stops_sending_is_cut_off_after_the_read_timeout() {
    const HEAD_ONLY: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n7\r\ndata: 1\r\n";
    let (url, _) = serve(HEAD_ONLY, After::Stall).await;
    let upstream = client(Duration::from_millis(300));
    let started = Instant::now();
    let (chunks, error) = read_all(get(&upstream, &url).await).await;
    assert_eq!(chunks, vec![Bytes::from_static(b"data: 1")]);
    assert!(matches!(error, Some(BodyError::Timeout)), "{error:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn a_provider_that_never_answers_times_out() {
    let (url, _) = serve(b"", After::Stall).await;
    let upstream = client(Duration::from_millis(300));
    let sent = upstream.send(Method::POST, &url, HeaderMap::new(), full_body(Bytes::from_static(b"{}"))).await;
    assert_eq!(sent.err(), Some(crate::probe::Failure::Timeout));
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let (url, accepted) = serve(JSON, After::KeepAlive).await;
    let guarded = Upstream::new(Duration::from_secs(2), Duration::from_secs(2), false).unwrap();
    let sent = guarded.send(Method::GET, &url, HeaderMap::new(), empty_body()).await;
    assert_eq!(sent.err(), Some(crate::probe::Failure::Blocked));
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

/// A certificate authority and a certificate for `localhost` signed by it, made with
/// the system's `openssl`.
struct TestCa {
    _dir: tempfile::TempDir,
    root: CertificateDer<'static>,
    server: ServerConfig,
}

fn test_ca() -> TestCa {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=byok test CA"],
    ]
    .concat());
    run(&[&["req"][..], &ec, &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(dir.path().join("ext"), "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n")
        .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext",
        "-out",
        "leaf.pem",
    ]);
    let root = CertificateDer::from_pem_file(dir.path().join("ca.pem")).unwrap();
    let chain = vec![CertificateDer::from_pem_file(dir.path().join("leaf.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.path().join("leaf.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestCa { _dir: dir, root, server }
}

/// A TLS server writing `JSON` to every request on `localhost`.
async fn serve_tls(config: ServerConfig) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("https://localhost:{}/v1/x", listener.local_addr().unwrap().port())).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(socket).await {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = tls.read(&mut buf).await {
                        if n == 0 || tls.write_all(JSON).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn https_origins_are_reached_over_verified_tls() {
    let ca = test_ca();
    let url = serve_tls(ca.server.clone()).await;
    let trusting = Upstream::with_roots(Duration::from_secs(2), Duration::from_secs(2), true, vec![ca.root]).unwrap();
    let (chunks, error) = read_all(get(&trusting, &url).await).await;
    assert!(error.is_none());
    assert_eq!(chunks.concat(), b"{\"ok\":true}");

    // The same server is refused when its certificate authority is not trusted.
    let untrusting = client(Duration::from_secs(2));
    let sent = untrusting.send(Method::GET, &url, HeaderMap::new(), empty_body()).await;
    assert_eq!(sent.err(), Some(crate::probe::Failure::Connect));
}
