use std::path::{Path, PathBuf};

use super::{Check, PgUrl, SslMode};
use crate::StoreError;

const BASE: &str = "postgres://byok:pw@db.example.com:5432/byok";

fn parse(url: &str) -> Result<PgUrl, StoreError> {
    PgUrl::parse_with(url, |_| None)
}

fn settings_error(url: &str) -> String {
    match parse(url) {
        Err(e @ StoreError::PgTlsSettings(_)) => e.to_string(),
        Err(e) => panic!("unexpected error for {url}: {e}"),
        Ok(_) => panic!("accepted {url}"),
    }
}

/// A self-signed CA certificate made with `openssl`, in its own temp dir.
fn ca_pem() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=byok test CA"])
        .current_dir(dir.path())
        .output()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let path = dir.path().join("ca.pem");
    (dir, path)
}

fn with_root(mode: &str, root: &Path) -> String {
    format!("{BASE}?sslmode={mode}&sslrootcert={}", root.display())
}

#[test]
fn prefer_is_the_default_as_in_libpq() {
    let url = parse(BASE).unwrap();
    assert_eq!(url.tls.mode, SslMode::Prefer);
    assert_eq!(url.tls.check(), Check::Nothing);
    assert_eq!(url.rest, BASE);
}

#[test]
fn every_mode_parses_and_leaves_the_rest_of_the_url_as_it_was() {
    for (name, mode) in [
        ("disable", SslMode::Disable),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify%2Dfull", SslMode::VerifyFull),
    ] {
        let url = parse(&format!("{BASE}?application_name=a%20b&sslmode={name}&connect_timeout=5")).unwrap();
        assert_eq!(url.tls.mode, mode, "{name}");
        assert_eq!(url.rest, format!("{BASE}?application_name=a%20b&connect_timeout=5"));
    }
}

#[test]
fn an_unknown_sslmode_is_refused_with_the_values_that_work() {
    for bad in ["allow", "verify_full", "REQUIRE", ""] {
        let message = settings_error(&format!("{BASE}?sslmode={bad}"));
        assert!(message.contains("disable, prefer, require, verify-ca, verify-full"), "{message}");
        assert!(!message.contains("pw@"), "the URL's password is echoed: {message}");
    }
}

#[test]
fn require_checks_the_chain_only_when_a_root_certificate_is_given() {
    let (_dir, ca) = ca_pem();
    assert_eq!(parse(&format!("{BASE}?sslmode=require")).unwrap().tls.check(), Check::Nothing);
    assert_eq!(parse(&with_root("require", &ca)).unwrap().tls.check(), Check::Chain);
    assert_eq!(parse(&with_root("verify-ca", &ca)).unwrap().tls.check(), Check::Chain);
    assert_eq!(parse(&format!("{BASE}?sslmode=verify-ca")).unwrap().tls.check(), Check::Chain);
    assert_eq!(parse(&with_root("verify-full", &ca)).unwrap().tls.check(), Check::ChainAndHost);
    let rest = parse(&with_root("verify-full", &ca)).unwrap().rest;
    assert_eq!(rest, BASE, "sslrootcert is not passed on to a driver");
}

#[test]
fn the_pool_and_the_writer_always_ask_for_tls_unless_disabled_or_preferred() {
    use tokio_postgres::config::SslMode as Tp;
    for (mode, expected) in [
        ("disable", Tp::Disable),
        ("prefer", Tp::Prefer),
        ("require", Tp::Require),
        ("verify-ca", Tp::Require),
        ("verify-full", Tp::Require),
    ] {
        let url = parse(&format!("{BASE}?sslmode={mode}")).unwrap();
        let mut config: tokio_postgres::Config = url.rest.parse().unwrap();
        url.tls.tokio_postgres(&mut config).unwrap();
        assert_eq!(config.get_ssl_mode(), expected, "{mode}");
    }
}

#[test]
fn a_root_certificate_with_disable_or_prefer_is_refused_rather_than_ignored() {
    let (_dir, ca) = ca_pem();
    for mode in ["disable", "prefer"] {
        let message = settings_error(&with_root(mode, &ca));
        assert!(message.contains("sslrootcert is used only with sslmode=require"), "{message}");
    }
    let message = settings_error(&format!("{BASE}?sslrootcert={}", ca.display()));
    assert!(message.contains("not prefer"), "{message}");
}

#[test]
fn an_unreadable_or_empty_root_certificate_is_named() {
    let message = settings_error(&format!("{BASE}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"));
    assert!(message.contains("cannot read sslrootcert /nonexistent/ca.pem"), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let message = settings_error(&with_root("verify-full", &empty));
    assert!(message.contains("sslrootcert holds no PEM certificate"), "{message}");
}

#[test]
fn the_libpq_environment_fills_in_what_the_url_leaves_out() {
    let (_dir, ca) = ca_pem();
    let ca_path = ca.display().to_string();
    let env = |name: &str| match name {
        "PGSSLMODE" => Some("verify-full".to_owned()),
        "PGSSLROOTCERT" => Some(ca_path.clone()),
        _ => None,
    };
    let url = PgUrl::parse_with(BASE, env).unwrap();
    assert_eq!((url.tls.mode, url.tls.check()), (SslMode::VerifyFull, Check::ChainAndHost));
    let url = PgUrl::parse_with(&format!("{BASE}?sslmode=require"), env).unwrap();
    assert_eq!((url.tls.mode, url.tls.check()), (SslMode::Require, Check::Chain), "the URL wins");
}
