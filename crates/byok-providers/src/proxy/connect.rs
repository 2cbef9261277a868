//! Opening a connection to a provider for the proxy: the name resolved behind the SSRF
//! guard, TCP with `TCP_NODELAY`, and TLS (HTTP/1.1 by ALPN) for `https` origins, all
//! within the connect timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Url;
use rustls_platform_verifier::Verifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig};

use crate::probe::{Failure, guarded_addrs};

/// A connection to a provider, plain or TLS.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// What connections are opened with.
pub(super) struct Connector {
    tls: TlsConnector,
    timeout: Duration,
    allow_private: bool,
}

impl Connector {
    /// Certificates are checked against the system's roots and `extra_roots`.
    pub(super) fn new(
        timeout: Duration,
        allow_private: bool,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { tls: TlsConnector::from(Arc::new(config)), timeout, allow_private })
    }

    /// A new connection to `url`'s origin.
    pub(super) async fn connect(&self, url: &Url) -> Result<Stream, Failure> {
        tokio::time::timeout(self.timeout, self.open(url)).await.map_err(|_| Failure::Timeout)?
    }

    async fn open(&self, url: &Url) -> Result<Stream, Failure> {
        // IPv6 literals come bracketed in a URL, bare to the resolver and to TLS.
        let host = url.host_str().ok_or(Failure::Other)?.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().ok_or(Failure::Other)?;
        let addrs = guarded_addrs(host, port, self.allow_private).await?;
        let mut tcp = None;
        for addr in addrs {
            if let Ok(stream) = TcpStream::connect(addr).await {
                tcp = Some(stream);
                break;
            }
        }
        let tcp = tcp.ok_or(Failure::Connect)?;
        tcp.set_nodelay(true).map_err(|_| Failure::Connect)?;
        if url.scheme() != "https" {
            return Ok(Stream::Plain(tcp));
        }
        let name = ServerName::try_from(host.to_owned()).map_err(|_| Failure::Other)?;
        let tls = self.tls.connect(name, tcp).await.map_err(|_| Failure::Connect)?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
