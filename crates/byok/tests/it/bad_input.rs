//! Invariant 6: bad input gets a clear 4xx problem+json answer and writes nothing.

use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, spawn_app};

both_engines!(bad_input_table);

async fn bad_input_table(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let post_raw = |body: &'static str, content_type: &'static str| {
        app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).header("content-type", content_type).body(body)
    };
    let good = |patch: serde_json::Value| {
        let mut body =
            json!({"owner": "user:alice", "provider": "openai", "fields": {"api_key": "sk-good-key-aaaaaaaaaaaaaa"}});
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let oversized = good(json!({"label": "x".repeat(100 * 1024)}));

    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("malformed JSON", post_raw("{\"owner\": ", "application/json"), 400, "malformed_json"),
        ("wrong content type", post_raw("{}", "text/plain"), 415, "unsupported_media_type"),
        (
            "unknown provider",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"provider": "nope"}))),
            422,
            "unknown_provider",
        ),
        (
            "missing required field",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"fields": {}}))),
            422,
            "invalid_field",
        ),
        (
            "unknown credential field",
            app.client
                .post(app.url("/v1/credentials"))
                .bearer_auth(&svc)
                .json(&good(json!({"fields": {"api_key": "sk-good-key-aaaaaaaaaaaaaa", "colour": "red"}}))),
            422,
            "invalid_field",
        ),
        (
            "field with wrong format",
            app.client
                .post(app.url("/v1/credentials"))
                .bearer_auth(&svc)
                .json(&good(json!({"fields": {"api_key": "not-a-key"}}))),
            422,
            "invalid_field",
        ),
        (
            "invalid owner string",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"owner": "alice"}))),
            422,
            "invalid_field",
        ),
        (
            "owner missing for a service",
            app.client
                .post(app.url("/v1/credentials"))
                .bearer_auth(&svc)
                .json(&json!({"provider": "openai", "fields": {"api_key": "sk-good-key-aaaaaaaaaaaaaa"}})),
            422,
            "invalid_field",
        ),
        (
            "unknown top-level field",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"colour": "red"}))),
            422,
            "invalid_field",
        ),
        (
            "wrong type",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"priority": "high"}))),
            422,
            "invalid_field",
        ),
        (
            "negative limit",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"monthly_limit": -1}))),
            422,
            "invalid_field",
        ),
        (
            "empty label",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&good(json!({"label": "  "}))),
            422,
            "invalid_field",
        ),
        (
            "oversized body",
            app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).json(&oversized),
            413,
            "payload_too_large",
        ),
        ("no token", app.client.post(app.url("/v1/credentials")).json(&good(json!({}))), 401, "unauthorized"),
        (
            "garbage token",
            app.client.post(app.url("/v1/credentials")).bearer_auth("byok_svc_nope").json(&good(json!({}))),
            401,
            "unauthorized",
        ),
        ("bad query", app.client.get(app.url("/v1/credentials?limit=lots")).bearer_auth(&svc), 400, "invalid_query"),
        (
            "limit out of range",
            app.client.get(app.url("/v1/credentials?limit=0")).bearer_auth(&svc),
            400,
            "invalid_query",
        ),
        ("bad cursor", app.client.get(app.url("/v1/credentials?cursor=zzz")).bearer_auth(&svc), 400, "invalid_query"),
        (
            "unknown query parameter",
            app.client.get(app.url("/v1/credentials?colour=red")).bearer_auth(&svc),
            400,
            "invalid_query",
        ),
        (
            "unknown provider filter",
            app.client.get(app.url("/v1/credentials?provider=nope")).bearer_auth(&svc),
            422,
            "unknown_provider",
        ),
        ("malformed id", app.client.get(app.url("/v1/credentials/not-an-id")).bearer_auth(&svc), 404, "not_found"),
        ("unknown route", app.client.get(app.url("/v1/nothing-here")).bearer_auth(&svc), 404, "not_found"),
        ("wrong method", app.client.put(app.url("/v1/credentials")).bearer_auth(&svc), 405, "method_not_allowed"),
        (
            "token with bad role",
            app.client.post(app.url("/v1/tokens")).bearer_auth(&app.admin).json(&json!({"role": "root"})),
            422,
            "invalid_field",
        ),
        (
            "user token with org owner",
            app.client
                .post(app.url("/v1/tokens"))
                .bearer_auth(&app.admin)
                .json(&json!({"role": "user", "owner": "org:acme"})),
            422,
            "invalid_field",
        ),
        (
            "token expiry out of range",
            app.client
                .post(app.url("/v1/tokens"))
                .bearer_auth(&app.admin)
                .json(&json!({"role": "service", "expires_in": 0})),
            422,
            "invalid_field",
        ),
    ];
    for (name, req, status, code) in cases {
        let r = app.send(req).await;
        assert_eq!(r.status, status, "{name}: {}", r.text);
        r.assert_problem(status, code);
    }
    let all = app.get("/v1/credentials", &svc).await;
    assert_eq!(all.body["items"], json!([]), "no bad request wrote anything");
}
