//! TLS to PostgreSQL. `sslmode` and `sslrootcert` are read once, from `DATABASE_URL`
//! (or, as libpq does, from `PGSSLMODE` / `PGSSLROOTCERT`), into one [`PgTls`] that
//! configures the pool and the metering writer alike.

use std::path::Path;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use super::tls_verify;
use crate::StoreError;

/// libpq's `sslmode`, less `allow` (TLS only when the server insists), which neither
/// driver implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, without checking its certificate; the default.
    Prefer,
    /// TLS always; the certificate is checked only when `sslrootcert` is given.
    Require,
    /// TLS always, the chain checked against `sslrootcert` and the public CAs.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, StoreError> {
        Ok(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => {
                return Err(StoreError::PgTlsSettings(
                    "sslmode must be one of disable, prefer, require, verify-ca, verify-full".into(),
                ));
            }
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// What a connection checks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing: the connection is encrypted, not authenticated.
    Nothing,
    /// The chain, up to a trusted root; not the name.
    Chain,
    /// The chain and that it names the host.
    ChainAndHost,
}

/// The TLS settings of a PostgreSQL URL.
pub(crate) struct PgTls {
    pub(crate) mode: SslMode,
    /// The PEM of `sslrootcert`, read and parsed once at start-up.
    root_pem: Option<Vec<u8>>,
    roots: Arc<RootCertStore>,
}

/// A PostgreSQL URL split into its TLS settings and everything else.
pub(crate) struct PgUrl {
    /// The URL without `sslmode` and `sslrootcert`, for each driver's own parser.
    pub(crate) rest: String,
    pub(crate) tls: PgTls,
}

impl PgUrl {
    /// Reads `sslmode` and `sslrootcert` from `url`, each falling back to its libpq
    /// environment variable.
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        Self::parse_with(url, |name| std::env::var(name).ok())
    }

    fn parse_with(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let (head, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut mode, mut root_cert) = (None, None);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(key)?.as_str() {
                "sslmode" => mode = Some(decode(value)?),
                "sslrootcert" => root_cert = Some(decode(value)?),
                _ => kept.push(pair),
            }
        }
        let mode = match mode.or_else(|| env("PGSSLMODE")) {
            Some(mode) => SslMode::parse(&mode)?,
            None => SslMode::Prefer,
        };
        let root_pem = root_cert.or_else(|| env("PGSSLROOTCERT")).map(|path| read_root_cert(Path::new(&path)));
        let tls = PgTls::new(mode, root_pem.transpose()?)?;
        let rest = if kept.is_empty() { head.to_owned() } else { format!("{head}?{}", kept.join("&")) };
        Ok(Self { rest, tls })
    }
}

impl PgTls {
    fn new(mode: SslMode, root_pem: Option<Vec<u8>>) -> Result<Self, StoreError> {
        if root_pem.is_some() && matches!(mode, SslMode::Disable | SslMode::Prefer) {
            return Err(StoreError::PgTlsSettings(format!(
                "sslrootcert is used only with sslmode=require, verify-ca or verify-full, not {}",
                mode.name()
            )));
        }
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(pem) = &root_pem {
            let before = roots.len();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert =
                    cert.map_err(|e| StoreError::PgTlsSettings(format!("sslrootcert is not PEM certificates: {e}")))?;
                roots.add(cert).map_err(|e| {
                    StoreError::PgTlsSettings(format!("sslrootcert holds an unusable certificate: {e}"))
                })?;
            }
            if roots.len() == before {
                return Err(StoreError::PgTlsSettings("sslrootcert holds no PEM certificate".into()));
            }
        }
        Ok(Self { mode, root_pem, roots: Arc::new(roots) })
    }

    /// libpq's rules: `require` checks the chain when a root certificate is given.
    pub(crate) fn check(&self) -> Check {
        match self.mode {
            SslMode::VerifyFull => Check::ChainAndHost,
            SslMode::VerifyCa => Check::Chain,
            SslMode::Require if self.root_pem.is_some() => Check::Chain,
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Check::Nothing,
        }
    }

    /// Sets the writer's `config` to this mode and answers the TLS connector that makes
    /// the same checks as the pool (tokio-postgres's `require` does not check, the
    /// connector does).
    pub(crate) fn tokio_postgres(&self, config: &mut tokio_postgres::Config) -> Result<MakeRustlsConnect, StoreError> {
        config.ssl_mode(match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        });
        Ok(MakeRustlsConnect::new(tls_verify::client_config(self.check(), self.roots.clone())?))
    }

    /// The pool's first connection's error, told as a TLS failure when it is one.
    pub(crate) fn explain(&self, e: deadpool_postgres::PoolError) -> StoreError {
        match e {
            // tokio-postgres tells a failed handshake (a refused certificate, a server
            // without TLS) only in its message, with the cause after it.
            deadpool_postgres::PoolError::Backend(e) if e.to_string().starts_with("error performing TLS handshake") => {
                let detail = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
                StoreError::PgTls { mode: self.mode.name(), detail }
            }
            other => other.into(),
        }
    }
}

fn decode(text: &str) -> Result<String, StoreError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| StoreError::PgTlsSettings("the URL's query is not UTF-8".into()))
}

fn read_root_cert(path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path)
        .map_err(|e| StoreError::PgTlsSettings(format!("cannot read sslrootcert {}: {e}", path.display())))
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
