//! Test support: fresh databases per test on either engine, the app in-process or as a
//! real `byok serve` process on a random port, captured logs, and small HTTP helpers.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use byok::config::{Config, Layer};
use byok::startup;
use byok_core::{Clock, SystemClock};
use byok_crypto::generate_token;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const TEST_KEY: &str = "5f4dcc3b5aa765d61d8327deb882cf992b95990a9151374abd8ff8c5a7a0fe08";
pub const OTHER_KEY: &str = "9e107d9d372bb6826bd81d3542a419d6e4d4ea8a52bd1e1a3bf0ef5a7bd3d0c1";

/// Generates `mod name { fn sqlite(); fn postgres(); }` for async test bodies taking
/// an [`Engine`].
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Engine::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::Engine::Postgres).await
                }
            }
        )*
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database of its own for one test, removed afterwards.
pub struct TestDb {
    pub url: String,
    pub engine: Engine,
    pub sqlite_path: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn fresh(engine: Engine) -> TestDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("byok.db");
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    engine,
                    sqlite_path: Some(path),
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Engine::Postgres => {
                let base = std::env::var("BYOK_TEST_DATABASE_URL").expect(
                    "BYOK_TEST_DATABASE_URL is not set: the PostgreSQL tests need it (see README; `bash .ci/run` sets it)",
                );
                let name = format!("byok_t_{}", uuid::Uuid::new_v4().simple());
                let conn = postgres(&base)
                    .await
                    .unwrap_or_else(|e| panic!("BYOK_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create test database");
                let url = with_database(&base, &name);
                TestDb { url, engine, sqlite_path: None, _dir: None, pg: Some((base, name)) }
            }
        }
    }

    /// Every byte the database holds for byok, as text: the SQLite file and its WAL,
    /// or every row of every table in PostgreSQL.
    pub async fn all_bytes(&self) -> Vec<u8> {
        match self.engine {
            Engine::Sqlite => {
                let path = self.sqlite_path.as_ref().unwrap();
                let mut bytes = std::fs::read(path).unwrap();
                for suffix in ["-wal", "-shm"] {
                    if let Ok(more) = std::fs::read(format!("{}{suffix}", path.display())) {
                        bytes.extend(more);
                    }
                }
                bytes
            }
            Engine::Postgres => {
                let conn = postgres(&self.url).await.unwrap();
                let tables: Vec<String> = conn
                    .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'", &[])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                assert!(tables.len() >= 3, "expected byok's tables, found {tables:?}");
                let mut out = Vec::new();
                for table in tables {
                    let sql = format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{table}\" t");
                    let text: String = conn.query_one(&sql, &[]).await.unwrap().get(0);
                    out.extend(text.into_bytes());
                }
                out
            }
        }
    }
}

impl TestDb {
    /// Runs one statement with text parameters, outside byok (to play the attacker
    /// who holds the database).
    pub async fn execute(&self, sql: &str, binds: &[&str]) -> u64 {
        match self.engine {
            Engine::Sqlite => {
                let changed = sqlite(&self.url).execute(&numbered(sql, binds.len()), rusqlite::params_from_iter(binds));
                changed.unwrap() as u64
            }
            Engine::Postgres => {
                let conn = postgres(&self.url).await.unwrap();
                // Every parameter is text, as the caller gave it; the SQL casts where it must.
                let statement =
                    conn.prepare_typed(sql, &vec![tokio_postgres::types::Type::TEXT; binds.len()]).await.unwrap();
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    binds.iter().map(|b| b as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
                conn.execute(&statement, &params).await.unwrap()
            }
        }
    }

    /// One integer from a query such as `SELECT count(*) …`.
    pub async fn count(&self, sql: &str) -> i64 {
        match self.engine {
            Engine::Sqlite => sqlite(&self.url).query_row(sql, [], |r| r.get(0)).unwrap(),
            Engine::Postgres => postgres(&self.url).await.unwrap().query_one(sql, &[]).await.unwrap().get(0),
        }
    }
}

/// A transaction outside byok that keeps byok from committing audit entries: SQLite's
/// write lock, or an `EXCLUSIVE` lock on PostgreSQL's `audit_log` (reads go on).
pub enum AuditWritesHeld {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl TestDb {
    pub async fn hold_audit_writes(&self) -> AuditWritesHeld {
        match self.engine {
            Engine::Sqlite => {
                let conn = sqlite(&self.url);
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                AuditWritesHeld::Sqlite(conn)
            }
            Engine::Postgres => {
                let conn = postgres(&self.url).await.unwrap();
                conn.batch_execute("BEGIN; LOCK TABLE audit_log IN EXCLUSIVE MODE").await.unwrap();
                AuditWritesHeld::Postgres(conn)
            }
        }
    }
}

impl AuditWritesHeld {
    /// Lets writes go again. On PostgreSQL the other sessions of the database go first:
    /// a killed byok's statements still waiting for the lock must not run after it.
    pub async fn release(self) {
        match self {
            AuditWritesHeld::Sqlite(conn) => conn.execute_batch("ROLLBACK").unwrap(),
            AuditWritesHeld::Postgres(conn) => {
                let others = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                              WHERE datname = current_database() AND pid <> pg_backend_pid()";
                conn.batch_execute(others).await.unwrap();
                conn.batch_execute("ROLLBACK").await.unwrap();
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            // Drop runs outside async; a short-lived runtime on its own thread cleans up.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(conn) = postgres(&base).await {
                        let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    }
                });
            })
            .join();
        }
    }
}

fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let root = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Everything the app logged, as JSON lines, shared by all tests of this binary.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter("debug")
            .with_writer(|| Capture)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    });
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// byok running on a random loopback port against a fresh database: in-process, or as
/// a `byok serve` process ([`spawn_serve`]).
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The bootstrap admin token (BYOK_ADMIN_TOKEN).
    pub admin: String,
    db: Option<TestDb>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    process: Option<ServeProcess>,
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_with(TestDb::fresh(engine).await, AppOptions::default()).await
}

/// How a test wants byok started.
pub struct AppOptions {
    /// Key settings (and any other setting) layered under the database and admin token.
    pub settings: Layer,
    /// The environment platform credentials are read from (nothing by default).
    pub env: Vec<(String, String)>,
    pub clock: Arc<dyn Clock>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            // No background re-verification unless a test asks for it.
            settings: Layer {
                master_key: Some(TEST_KEY.to_owned()),
                reverify_interval_secs: Some(0),
                ..Layer::default()
            },
            env: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Starts byok on `db` with the key settings of `keys` (and a fresh bootstrap admin).
pub async fn spawn_on(db: TestDb, keys: Layer) -> TestApp {
    spawn_with(db, AppOptions { settings: keys, ..AppOptions::default() }).await
}

/// Opens the application state for `config` with an empty environment.
pub async fn open_state(config: &Config) -> Result<byok_server::AppState, startup::StartupError> {
    open_state_with_env(config, &[]).await
}

/// Opens the application state for `config` with the given environment.
pub async fn open_state_with_env(
    config: &Config,
    env: &[(&str, &str)],
) -> Result<byok_server::AppState, startup::StartupError> {
    let env: std::collections::HashMap<String, String> =
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let lookup = move |name: &str| env.get(name).cloned();
    startup::open(config, startup::World { env: &lookup, clock: Arc::new(SystemClock) }).await
}

pub async fn spawn_with(db: TestDb, options: AppOptions) -> TestApp {
    init_logs();
    let admin = generate_token("byok_adm_");
    let config = Config::from_layer(Layer {
        database_url: Some(db.url.clone()),
        admin_token: Some(admin.clone()),
        // New secrets are not tested in the background unless a test asks for it:
        // tests count what the fakes received.
        test_new_credentials: options.settings.test_new_credentials.or(Some(false)),
        ..options.settings
    })
    .expect("valid test config");
    let env: std::collections::HashMap<String, String> = options.env.into_iter().collect();
    let lookup = move |name: &str| env.get(name).cloned();
    let state =
        startup::open(&config, startup::World { env: &lookup, clock: options.clock }).await.expect("app starts");
    state.start_background();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let connections = byok_server::ConnectionSettings {
        header_read_timeout: config.header_read_timeout,
        shutdown_grace: Duration::from_secs(5),
    };
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        byok_server::serve(listener, byok_server::router(state), shutdown, connections).await.unwrap();
    });
    TestApp {
        base,
        client: reqwest::Client::new(),
        admin,
        db: Some(db),
        stop: Some(stop),
        server: Some(server),
        process: None,
    }
}

/// Starts `byok serve` (the binary, configured through its environment as a deployment
/// is) on `db` with the test master key, a fresh bootstrap admin, no background
/// re-verification or testing of new credentials, and `env` on top.
pub async fn spawn_serve(db: TestDb, env: Vec<(String, String)>) -> TestApp {
    let admin = generate_token("byok_adm_");
    let mut envs: Vec<(String, String)> = [
        ("BYOK_MASTER_KEY", TEST_KEY),
        ("DATABASE_URL", db.url.as_str()),
        ("BYOK_ADMIN_TOKEN", admin.as_str()),
        ("BYOK_REVERIFY_INTERVAL_SECS", "0"),
        ("BYOK_TEST_NEW_CREDENTIALS", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    envs.extend(env);
    let process = tokio::task::spawn_blocking(move || {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ServeProcess::start(&envs)
    })
    .await
    .expect("byok serve starts");
    TestApp {
        base: process.base.clone(),
        client: reqwest::Client::new(),
        admin,
        db: Some(db),
        stop: None,
        server: None,
        process: Some(process),
    }
}

/// Settings with one master key and the given database.
pub fn test_config(url: &str, key: &str) -> Config {
    Config::from_layer(Layer {
        master_key: Some(key.to_owned()),
        database_url: Some(url.to_owned()),
        ..Layer::default()
    })
    .unwrap()
}

/// An answer, kept whole so tests can search every byte of it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// Status line, headers and body as one string.
    pub fn everything(&self) -> String {
        let headers: String =
            self.headers.iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or(""))).collect();
        format!("{}\n{headers}\n{}", self.status, self.text)
    }

    /// byok's `code`: in problem+json, or inside a provider-shaped proxy refusal.
    pub fn code(&self) -> &str {
        [&self.body["code"], &self.body["error"]["code"], &self.body["details"]["byok_code"]]
            .into_iter()
            .find_map(|c| c.as_str())
            .unwrap_or("")
    }

    /// Asserts a problem+json answer with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert_eq!(
            self.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "not problem+json: {}",
            self.text
        );
        assert_eq!(self.code(), code, "unexpected code: {}", self.text);
        assert_eq!(self.body["status"], json!(status));
        for key in ["type", "title", "detail"] {
            assert!(self.body[key].is_string(), "problem lacks `{key}`: {}", self.text);
        }
    }
}

impl TestApp {
    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("database present while the app runs")
    }

    /// Stops the server and hands back its database, for a restart with other settings.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(process) = self.process.take() {
            tokio::task::spawn_blocking(move || process.terminate()).await.expect("byok serve stops");
        }
        self.db.take().expect("database present")
    }

    /// What the app logged so far: a `byok serve` process's own log, or the log of every
    /// in-process app of the test binary.
    pub fn logs(&self) -> String {
        self.process.as_ref().map_or_else(captured_logs, ServeProcess::logs)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request reaches the app");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    /// Waits (briefly) until `GET path`, asked by the admin, satisfies `done`: uses
    /// without a limit are counted just after their answer.
    pub async fn eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.get(path, &self.admin).await;
            if done(&r.body) {
                return r.body;
            }
            assert!(std::time::Instant::now() < deadline, "{path} never got there: {}", r.text);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(self.client.delete(self.url(path)).bearer_auth(token)).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(self.client.post(self.url(path)).bearer_auth(token).json(&body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(self.client.patch(self.url(path)).bearer_auth(token).json(&body)).await
    }

    /// Mints a token through the API with the bootstrap admin.
    pub async fn mint(&self, body: Value) -> String {
        let r = self.post("/v1/tokens", &self.admin, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["token"].as_str().unwrap().to_owned()
    }

    pub async fn service_token(&self) -> String {
        self.mint(json!({"role": "service"})).await
    }

    pub async fn user_token(&self, user: &str, orgs: &[&str]) -> String {
        self.mint(json!({"role": "user", "owner": format!("user:{user}"), "manage_orgs": orgs})).await
    }

    /// Stores an OpenAI credential and returns its id.
    pub async fn create_openai(&self, token: &str, owner: Option<&str>, api_key: &str) -> String {
        let mut body = json!({"provider": "openai", "fields": {"api_key": api_key}});
        if let Some(owner) = owner {
            body["owner"] = json!(owner);
        }
        let r = self.post("/v1/credentials", token, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Runs `crates/byok/tests/sdk/{script}` with the SDK venv's python (`BYOK_TEST_PYTHON`),
/// `input` as JSON on its stdin; its stdout as JSON.
pub fn python_json(script: &str, input: &Value) -> Value {
    use std::process::{Command, Stdio};
    let python = std::env::var("BYOK_TEST_PYTHON").expect("BYOK_TEST_PYTHON names the SDK venv's python (see README)");
    let path: std::path::PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "sdk", script].iter().collect();
    let mut child = Command::new(python)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A secret that must never be seen outside a sealed envelope; unique per call so
/// concurrently running tests cannot confuse each other's.
pub fn canary(prefix: &str) -> String {
    format!("{prefix}CANARY{}", uuid::Uuid::new_v4().simple())
}

/// A real `byok serve` process on a random port, killed when dropped.
pub struct ServeProcess {
    pub base: String,
    child: std::process::Child,
    log: Arc<Mutex<String>>,
}

impl ServeProcess {
    pub fn start(envs: &[(&str, &str)]) -> ServeProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_byok"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("BYOK_LOG_FORMAT", "json")
            .envs(envs.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("byok starts");
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let keep = |log: &Mutex<String>, line: &str| {
            let mut log = log.lock().unwrap();
            log.push_str(line);
            log.push('\n');
        };
        let addr = loop {
            let line = lines.next().expect("byok logs its address before exiting").unwrap();
            keep(&log, &line);
            if let Some(rest) = line.split("byok listening on http://").nth(1) {
                break rest.split('"').next().unwrap().to_owned();
            }
        };
        // Keep reading the log so the process never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                keep(&kept, &line);
            }
        });
        ServeProcess { base: format!("http://{addr}"), child, log }
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id, e.g. to count its open file descriptors.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process (SIGKILL: no chance to write anything) and waits for its end.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("byok is gone");
    }

    /// Asks the process to stop (SIGTERM) and waits until it has exited.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGTERM could not be sent");
        self.child.wait().expect("byok exits")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestDb {
    /// Every sealed envelope with the key id its row records.
    pub async fn envelopes(&self) -> Vec<(String, Vec<u8>)> {
        let sql = "SELECT key_id, sealed FROM credentials UNION ALL SELECT key_id, sealed FROM credential_versions \
                   UNION ALL SELECT key_id, sealed FROM audit_key UNION ALL SELECT key_id, sealed FROM webhooks";
        match self.engine {
            Engine::Sqlite => {
                let conn = sqlite(&self.url);
                let mut stmt = conn.prepare(sql).unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
            }
            Engine::Postgres => {
                let rows = postgres(&self.url).await.unwrap().query(sql, &[]).await.unwrap();
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            }
        }
    }
}

/// A connection of the test's own to a SQLite store, outside byok (waits out byok's
/// writes for up to 10 s).
pub fn sqlite(url: &str) -> rusqlite::Connection {
    let path = url.strip_prefix("sqlite://").expect("a sqlite:// URL");
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// `sql` with PostgreSQL's `$1` … `$n` written as SQLite's `?1` … `?n`, which bind by number.
fn numbered(sql: &str, params: usize) -> String {
    (1..=params).rev().fold(sql.to_owned(), |sql, n| sql.replace(&format!("${n}"), &format!("?{n}")))
}

/// A connection of the test's own to PostgreSQL, without TLS, outside byok.
pub async fn postgres(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}
