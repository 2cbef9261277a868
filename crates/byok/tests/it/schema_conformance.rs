//! Schemathesis (PyPI, pinned in `scripts/sdk-venv.sh`) fuzzes a real `byok serve` from
//! its own `/openapi.json`, once with each kind of token: no answer may be a 5xx, carry an
//! undocumented status or content type, or break the documented schema. The interpreter
//! comes from `BYOK_TEST_PYTHON`; without it this test fails, it does not skip.
//!
//! Every operation in the document is run; nothing is excluded. What the document does not
//! list is not API: the settings page (`/ui`, HTML forms for a browser), the Swagger UI
//! (`/docs`) and `/openapi.json` itself.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_engines;
use crate::proxy::Processes;
use crate::support::Engine;

both_engines!(schemathesis_finds_no_server_error_and_no_schema_break);

/// Test cases per operation and phase; with the fixed seed a run is repeatable.
const EXAMPLES_PER_OPERATION: &str = "25";
const SEED: &str = "16";
/// 5xx answers, undocumented statuses or content types, bodies that break the schema.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";
/// A run still going after this is stopped and fails the test.
const RUN_BOUND: Duration = Duration::from_secs(240);

async fn schemathesis_finds_no_server_error_and_no_schema_break(engine: Engine) {
    let processes = Processes::new(engine).await;
    let byok = processes.start();
    let alice = processes.owner(&byok, "user:alice").await;
    let client = reqwest::Client::new();
    let mint = |token: &str, body: Value| {
        let request = client.post(format!("{}/v1/tokens", byok.base)).bearer_auth(token).json(&body);
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
        }
    };
    let user = mint(&alice.svc, json!({"role": "user", "owner": "user:alice", "manage_orgs": ["org:acme"]})).await;
    let platform = json!({"owner": "platform", "provider": "anthropic",
                          "fields": {"api_key": crate::proxy::real_key("anthropic")}});
    let r = client.post(format!("{}/v1/credentials", byok.base)).bearer_auth(&processes.admin).json(&platform);
    assert_eq!(r.send().await.unwrap().status(), 201);

    let schema = format!("{}/openapi.json", byok.base);
    let document: Value = client.get(&schema).send().await.unwrap().json().await.unwrap();
    for path in ["/v1/proxy/{provider}/{path}", "/metrics", "/healthz", "/v1/audit"] {
        assert!(document["paths"][path].is_object(), "the OpenAPI document lacks {path}");
    }
    let runs = [
        ("admin", processes.admin.as_str(), None),
        ("service", alice.svc.as_str(), None),
        ("user", user.as_str(), None),
        // A virtual key authenticates only at the proxy: elsewhere it is a plain 401.
        ("virtual key", alice.vk.as_str(), Some("^/v1/proxy/")),
    ];
    for (who, token, only) in runs {
        let schema = schema.clone();
        let token = token.to_owned();
        let report = tokio::task::spawn_blocking(move || run_schemathesis(&schema, &token, only)).await.unwrap();
        if let Err(report) = report {
            panic!("schemathesis with the {who} token failed:\n{report}");
        }
    }
}

/// Runs schemathesis against `schema` with `token`; the report when anything failed.
fn run_schemathesis(schema: &str, token: &str, only_paths: Option<&str>) -> Result<(), String> {
    let python = std::env::var("BYOK_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("BYOK_TEST_PYTHON is not set: run `export BYOK_TEST_PYTHON=$(scripts/sdk-venv.sh)` (see README)")
    });
    // Schemathesis keeps its example database and reports in the working directory.
    let workdir = tempfile::tempdir().unwrap();
    let mut command = Command::new(python);
    command
        .current_dir(workdir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .args(["-m", "schemathesis.cli", "run", schema])
        .args(["--checks", CHECKS])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // One worker: with two, Hypothesis' lambda descriptions race in CPython 3.11's
        // parser ("AST constructor recursion depth mismatch"), a tool error, not byok's.
        .args(["--max-examples", EXAMPLES_PER_OPERATION, "--seed", SEED, "--workers", "1"])
        .args(["--request-timeout", "10", "--output-truncate", "false"]);
    if let Some(regex) = only_paths {
        command.args(["--include-path-regex", regex]);
    }
    // The report goes to a file, so the run can be stopped at the bound without a pipe to drain.
    let report_path = workdir.path().join("report.txt");
    let report_file = std::fs::File::create(&report_path).unwrap();
    command.stdout(report_file.try_clone().unwrap()).stderr(report_file);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("BYOK_TEST_PYTHON could not be run: {e}"));
    let deadline = Instant::now() + RUN_BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = std::fs::read_to_string(&report_path).unwrap_or_default();
    match status {
        None => return Err(format!("the run took more than {RUN_BOUND:?} and was stopped:\n{report}")),
        Some(status) if !status.success() => return Err(format!("exit status {status}:\n{report}")),
        Some(_) => {}
    }
    println!("{report}");
    Ok(())
}
