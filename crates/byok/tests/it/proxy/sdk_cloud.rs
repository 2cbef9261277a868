//! The clouds' AI APIs through the proxy with their official SDKs. Azure OpenAI with the
//! OpenAI SDK's `AzureOpenAI` client: byok is the endpoint and a virtual key the API key;
//! byok sends the owner's resource key, or, for a credential without one, a Microsoft
//! Entra token minted from its client credentials (once, then cached). Vertex AI with
//! google-genai in Vertex express mode: byok puts the request in the credential's
//! project and location and sends an access token minted from its key file; Veo's
//! operation is polled to completion. Bedrock with boto3: byok signs each request again
//! with the owner's AWS key. The stored secrets never reach the product, and the virtual
//! key never reaches the cloud.

use byok::config::Layer;
use byok_fakes::{AZURE_OPENAI_KEY, BEDROCK_TEXT, FakeProviders, Scenario, VEO_VIDEO_URI, VERTEX_PROJECT, fields};
use serde_json::json;

use super::sdk::run;
use super::sdk_llm::{BAD_KEY, counted};
use super::{World, assert_absent, served_world};
use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestDb, spawn_with};

both_engines!(
    azure_openai_works_with_the_resource_key,
    azure_openai_works_with_an_entra_token_minted_once,
    azure_resource_endpoints_elsewhere_are_refused,
    vertex_gemini_and_a_veo_video_work_through_the_proxy,
    vertex_paths_naming_a_project_are_only_polls_of_the_owners_own,
    bedrock_converse_is_re_signed_with_the_owners_key,
    cloud_secrets_and_minted_tokens_never_reach_answers_or_logs
);

/// Requests that reached the fake Azure OpenAI (not its Entra token endpoint).
fn inference(w: &World) -> Vec<byok_fakes::RecordedRequest> {
    w.fakes.requests_to("azure").into_iter().filter(|r| r.path.starts_with("/openai/")).collect()
}

/// Stores an Azure credential for `owner` with `extra` fields on top of the fake's
/// client credentials; returns its id.
async fn azure_credential(w: &World, owner: &str, extra: serde_json::Value) -> String {
    let mut body = json!({"owner": owner, "provider": "azure", "fields": fields("azure", Scenario::Good).unwrap()});
    for (k, v) in extra.as_object().unwrap() {
        body["fields"][k] = v.clone();
    }
    let r = w.app.post("/v1/credentials", &w.svc, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

fn run_sdk(w: &World, vk: &str) {
    run(
        "azure_openai_sdk.py",
        &[("BYOK_BASE_URL", &w.proxy_url("azure", "")), ("BYOK_VIRTUAL_KEY", vk), ("BYOK_BAD_KEY", BAD_KEY)],
    );
}

async fn azure_openai_works_with_the_resource_key(engine: Engine) {
    let w = served_world(engine).await;
    let credential = azure_credential(&w, "user:alice", json!({"api_key": AZURE_OPENAI_KEY})).await;
    let (_, vk) = w.virtual_key("user:alice", &["azure"], None).await;
    run_sdk(&w, &vk);
    let sent = inference(&w);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for s in &sent {
        assert_eq!(s.path, "/openai/deployments/gpt-4o-mini/chat/completions");
        assert_eq!(s.query.as_deref(), Some("api-version=2024-10-21"));
        assert_eq!(s.header("api-key"), Some(AZURE_OPENAI_KEY), "the resource key in Azure's own header");
        assert_eq!(s.header("authorization"), None);
        assert_absent(s, &vk);
        assert_absent(s, "byok_");
    }
    assert_eq!(w.fakes.requests_to("azure").len(), 2, "no token was minted");
    counted(&w, &credential, 2, 28).await;
}

async fn azure_openai_works_with_an_entra_token_minted_once(engine: Engine) {
    let w = served_world(engine).await;
    let credential = azure_credential(&w, "org:acme", json!({})).await;
    let (_, vk) = w.virtual_key("org:acme", &["azure"], None).await;
    run_sdk(&w, &vk);
    run_sdk(&w, &vk);
    let sent = inference(&w);
    assert_eq!(sent.len(), 4);
    let token = sent[0].header("authorization").unwrap().to_owned();
    assert!(token.starts_with("Bearer eyJ"), "{token}");
    for s in &sent {
        assert_eq!(s.header("authorization"), Some(token.as_str()), "one token for every request");
        assert_eq!(s.header("api-key"), None);
        assert_absent(s, &vk);
    }
    let minted: Vec<_> = w.fakes.requests_to("azure").into_iter().filter(|r| r.path.ends_with("/token")).collect();
    assert_eq!(minted.len(), 1, "minted once");
    let scope = minted[0].form().into_iter().find(|(k, _)| k == "scope").unwrap().1;
    assert_eq!(scope, "https://cognitiveservices.azure.com/.default");
    counted(&w, &credential, 4, 56).await;
}

async fn azure_resource_endpoints_elsewhere_are_refused(engine: Engine) {
    // Without an operator's override the proxy goes to the credential's own resource,
    // which must be an Azure OpenAI host: the field refuses any other, and a credential
    // without one is not proxied.
    let fakes = FakeProviders::start().await.expect("fakes start");
    let env = fakes.env_vars().into_iter().filter(|(k, _)| k != "BYOK_PROVIDER_AZURE_BASE_URL").collect();
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..Layer::default() };
    let app = spawn_with(TestDb::fresh(engine).await, AppOptions { settings, env, ..AppOptions::default() }).await;
    let svc = app.service_token().await;
    let w = World { app, fakes, svc };

    let mut body = json!({"owner": "user:a", "provider": "azure", "fields": fields("azure", Scenario::Good).unwrap()});
    body["fields"]["api_key"] = json!(AZURE_OPENAI_KEY);
    for endpoint in
        ["https://evil.example", "http://acme.openai.azure.com", "https://acme.openai.azure.com.evil.example"]
    {
        let mut elsewhere = body.clone();
        elsewhere["fields"]["endpoint"] = json!(endpoint);
        w.app.post("/v1/credentials", &w.svc, elsewhere).await.assert_problem(422, "invalid_field");
    }
    assert_eq!(w.app.post("/v1/credentials", &w.svc, body).await.status, 201);
    let (_, vk) = w.virtual_key("user:a", &["azure"], None).await;
    let r = w
        .app
        .send(
            w.app
                .client
                .post(w.proxy_url("azure", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"))
                .header("api-key", &vk)
                .json(&json!({"messages": [{"role": "user", "content": "hi"}]})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "not_proxyable", "{}", r.text);
    assert!(r.text.contains("endpoint"), "{}", r.text);
    assert!(!r.text.contains(AZURE_OPENAI_KEY));
    assert!(w.fakes.requests_to("azure").is_empty(), "nothing went out");
}

/// Requests that reached the fake Vertex AI (not its token endpoint).
fn vertex_calls(w: &World) -> Vec<byok_fakes::RecordedRequest> {
    w.fakes.requests_to("gcp").into_iter().filter(|r| r.path != "/token").collect()
}

async fn vertex_gemini_and_a_veo_video_work_through_the_proxy(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "gcp", None).await;
    // A limit on the key, so its units are taken as the requests go.
    let (key_id, vk) = w.virtual_key("user:alice", &["gcp"], Some(10)).await;
    run(
        "vertex_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("gcp", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_BAD_KEY", BAD_KEY),
            ("BYOK_VIDEO_URI", VEO_VIDEO_URI),
        ],
    );
    let calls = vertex_calls(&w);
    let scope = format!("/v1beta1/projects/{VERTEX_PROJECT}/locations/us-central1/publishers/google/models/");
    let paths: Vec<String> = calls.iter().map(|c| c.path.replace(&scope, "…/")).collect();
    assert_eq!(
        paths,
        [
            "…/gemini-2.5-flash:generateContent",
            "…/gemini-2.5-flash:streamGenerateContent",
            "…/veo-3.0-generate-001:predictLongRunning",
            "…/veo-3.0-generate-001:fetchPredictOperation",
            "…/veo-3.0-generate-001:fetchPredictOperation",
        ]
    );
    let token = calls[0].header("authorization").unwrap().to_owned();
    assert!(token.starts_with("Bearer ya29."), "{token}");
    for c in &calls {
        assert_eq!(c.header("authorization"), Some(token.as_str()), "one minted token for every call");
        assert_eq!(c.header("x-goog-api-key"), None);
        assert_absent(c, &vk);
        assert_absent(c, "byok_");
    }
    assert_eq!(w.fakes.requests_to("gcp").iter().filter(|r| r.path == "/token").count(), 1, "minted once");
    // Generating (twice) and the video are uses; polling the video is none.
    let key = w.app.get(&format!("/v1/tokens/{key_id}"), &w.svc).await;
    assert_eq!(key.body["usage"]["period"], 3, "{}", key.text);
    counted(&w, &credential, 3, 19).await;
}

async fn vertex_paths_naming_a_project_are_only_polls_of_the_owners_own(engine: Engine) {
    let w = super::world(engine).await;
    w.credential("user:alice", "gcp", None).await;
    let (_, vk) = w.virtual_key("user:alice", &["gcp"], None).await;
    let post = |path: String, body: serde_json::Value| {
        let req = w.app.client.post(w.proxy_url("gcp", &path)).header("x-goog-api-key", &vk).json(&body);
        w.app.send(req)
    };
    let model = "publishers/google/models/veo-3.0-generate-001";
    let generate = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    for (path, body) in [
        // A use may not name a project, not even the owner's own.
        (format!("/v1beta1/projects/{VERTEX_PROJECT}/locations/us-central1/{model}:generateContent"), generate),
        // A poll may name only the owner's own project and location.
        (
            format!("/v1beta1/projects/someone-else/locations/us-central1/{model}:fetchPredictOperation"),
            json!({"operationName": format!("projects/someone-else/locations/us-central1/{model}/operations/1")}),
        ),
        (
            format!("/v1beta1/projects/{VERTEX_PROJECT}/locations/europe-west4/{model}:fetchPredictOperation"),
            json!({"operationName": "x"}),
        ),
    ] {
        let r = post(path.clone(), body).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
        assert_eq!(r.body["error"]["status"], "PERMISSION_DENIED", "google.rpc shape: {}", r.text);
    }
    assert!(vertex_calls(&w).is_empty(), "nothing reached Vertex: {:?}", vertex_calls(&w));
}

async fn bedrock_converse_is_re_signed_with_the_owners_key(engine: Engine) {
    let w = served_world(engine).await;
    let credential = w.credential("user:alice", "aws", None).await;
    let stored_key_id = fields("aws", Scenario::Good).unwrap()["access_key_id"].clone();
    let (_, vk) = w.virtual_key("user:alice", &["aws"], None).await;
    run(
        "bedrock_sdk.py",
        &[
            ("BYOK_BASE_URL", &w.proxy_url("aws", "")),
            ("BYOK_VIRTUAL_KEY", &vk),
            ("BYOK_BAD_KEY", BAD_KEY),
            ("BYOK_TEXT", BEDROCK_TEXT),
        ],
    );
    // The fake recomputed each signature with the owner's secret: a request byok had not
    // signed with it would have been refused.
    let calls: Vec<_> = w.fakes.requests_to("aws").into_iter().filter(|r| r.path.starts_with("/model/")).collect();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls[0].path.ends_with("/converse") && calls[1].path.ends_with("/converse-stream"), "{calls:#?}");
    for c in &calls {
        assert!(c.path.contains("anthropic.claude-3-haiku-20240307-v1"), "{}", c.path);
        let auth = c.header("authorization").unwrap();
        assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={stored_key_id}/")), "{auth}");
        assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
        assert_absent(c, &vk);
        assert_absent(c, "byok_");
        assert_absent(c, "not-checked-by-byok");
    }
    // Tokens from the answer's `usage` and the stream's `metadata` event.
    counted(&w, &credential, 2, 27).await;
}

/// Pieces of `secret` long enough to be recognised (a key file's private key is checked
/// line by line, so a re-wrapped copy would still be found).
fn pieces(secret: &str) -> Vec<String> {
    secret.lines().map(str::trim).filter(|l| l.len() >= 16 && !l.starts_with("-----")).map(str::to_owned).collect()
}

async fn cloud_secrets_and_minted_tokens_never_reach_answers_or_logs(engine: Engine) {
    let w = served_world(engine).await;
    let mut stored = Vec::new();
    for provider in ["azure", "gcp", "aws"] {
        w.credential("user:alice", provider, None).await;
        let good = fields(provider, Scenario::Good).unwrap();
        let catalog = byok_providers::builtin_catalog().unwrap();
        for field in catalog.get(provider).unwrap().fields.iter().filter(|f| f.secret) {
            if let Some(value) = good.get(&field.name) {
                stored.extend(pieces(value).into_iter().chain([value.clone()]).filter(|p| !p.contains('{')));
            }
        }
    }
    assert!(stored.len() >= 4, "the client secret, key file and AWS secret: {}", stored.len());
    let (key_id, vk) = w.virtual_key("user:alice", &["azure", "gcp", "aws"], None).await;
    let c = &w.app.client;
    let messages = json!({"messages": [{"role": "user", "content": "hi"}]});
    let sigv4 = format!(
        "AWS4-HMAC-SHA256 Credential={vk}/20261202/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00"
    );
    let answers = [
        w.app
            .send(
                c.post(w.proxy_url("azure", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"))
                    .header("api-key", &vk)
                    .json(&messages),
            )
            .await,
        w.app
            .send(
                c.post(w.proxy_url("gcp", "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"))
                    .header("x-goog-api-key", &vk)
                    .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})),
            )
            .await,
        w.app
            .send(
                c.post(w.proxy_url("aws", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"))
                    .header("authorization", &sigv4)
                    .json(&json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]})),
            )
            .await,
    ];
    // What byok sent upstream in the clouds' auth places: the minted tokens and signatures.
    let minted: Vec<String> = ["azure", "gcp", "aws"]
        .iter()
        .flat_map(|p| w.fakes.requests_to(p))
        .filter_map(|r| r.header("authorization").map(|a| a.rsplit([' ', '=']).next().unwrap_or(a).to_owned()))
        .collect();
    assert_eq!(minted.len(), 3, "a token or signature for each cloud: {minted:?}");
    let logs = w.app.logs();
    assert!(logs.contains(&key_id), "the log shows this test's proxied requests");
    for (answer, provider) in answers.iter().zip(["azure", "gcp", "aws"]) {
        assert_eq!(answer.status, 200, "{provider}: {}", answer.text);
        let all = answer.everything();
        for secret in stored.iter().chain(&minted) {
            assert!(!all.contains(secret.as_str()), "{provider}: a secret in the answer");
        }
    }
    for secret in stored.iter().chain(&minted).chain([&vk]) {
        assert!(!logs.contains(secret.as_str()), "a secret in byok's log");
    }
}
