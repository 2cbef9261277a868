//! A throwaway PostgreSQL cluster of a test's own (initdb + pg_ctl, a temp dir, a free
//! port), with TLS from a CA made with `openssl` when asked; stopped when dropped.
//! As root it runs as the `postgres` OS user: initdb and postgres refuse root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A certificate authority made with `openssl` in `dir`: `ca.pem` and `ca.key`.
pub fn make_ca(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &EC,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=byok test CA"],
        ]
        .concat(),
    );
    dir.join("ca.pem")
}

const EC: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `server.pem` and `server.key` in `dir` for `subject_alt_name` (`DNS:…,IP:…`),
/// signed by the CA in `dir`.
fn make_server_cert(dir: &Path, subject_alt_name: &str) {
    openssl(
        dir,
        &[&["req"][..], &EC, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=byok test server"]]
            .concat(),
    );
    let ext = format!("subjectAltName={subject_alt_name}\nbasicConstraints=critical,CA:FALSE\n");
    std::fs::write(dir.join("server.ext"), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// A running cluster; `postgres` (trust authentication) on 127.0.0.1 at `port`.
pub struct PgCluster {
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl PgCluster {
    /// Starts a cluster without TLS (`ssl=off`).
    pub fn plain() -> PgCluster {
        Self::start(None)
    }

    /// Starts a cluster with `ssl=on` and a certificate for `subject_alt_name`
    /// (e.g. `DNS:localhost,IP:127.0.0.1`) signed by [`PgCluster::ca`].
    pub fn with_tls(subject_alt_name: &str) -> PgCluster {
        Self::start(Some(subject_alt_name))
    }

    fn start(subject_alt_name: Option<&str>) -> PgCluster {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off".to_owned();
        if let Some(san) = subject_alt_name {
            make_ca(dir.path());
            make_server_cert(dir.path(), san);
            let d = dir.path().display();
            settings += &format!(" -c ssl=on -c ssl_cert_file={d}/server.pem -c ssl_key_file={d}/server.key");
        }
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()));
        }
        let port = free_port();
        let cluster = PgCluster { port, bin, dir };
        cluster.as_owner("initdb", &["-D", &cluster.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        let log = format!("{}/server.log", cluster.dir.path().display());
        let options = format!("-p {port} -k {} {settings}", cluster.dir.path().display());
        let started = cluster
            .try_as_owner("pg_ctl", &["-D", &cluster.data(), "-l", &log, "-w", "-t", "60", "-o", &options, "start"]);
        assert!(
            started.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        cluster
    }

    /// The CA that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A URL for `database` on `host` (`localhost` or `127.0.0.1`) with `query` appended.
    pub fn url(&self, user_info: &str, host: &str, database: &str, query: &str) -> String {
        format!("postgres://{user_info}@{host}:{}/{database}{query}", self.port)
    }

    /// A connection to the `postgres` database, without TLS, to watch what byok does.
    pub async fn observer(&self) -> tokio_postgres::Client {
        let url = self.url("postgres", "127.0.0.1", "postgres", "?sslmode=disable");
        crate::support::postgres(&url).await.expect("the observer connects")
    }

    /// Creates `name` and answers the observer connection.
    pub async fn create_database(&self, name: &str) -> tokio_postgres::Client {
        let conn = self.observer().await;
        conn.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        conn
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    fn as_owner(&self, program: &str, args: &[&str]) {
        let out = self.try_as_owner(program, args);
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn try_as_owner(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.args(args).output().expect("PostgreSQL's programs run")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.try_as_owner("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb`; a test without one fails.
fn postgres_bin() -> PathBuf {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .max();
    newest.map(|(_, bin)| bin).expect(
        "PostgreSQL's server programs are missing (/usr/lib/postgresql/*/bin/initdb): \
         install the `postgresql` package (scripts/test.sh does)",
    )
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(command: &mut Command) {
    let out = command.output().expect("command runs");
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
