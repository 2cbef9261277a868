use serde_json::json;

use crate::both_engines;
use crate::support::{Engine, captured_logs, spawn_app};

both_engines!(health_metrics_and_docs, request_id_reaches_every_log_line);

async fn health_metrics_and_docs(engine: Engine) {
    let app = spawn_app(engine).await;
    let health = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!((health.status, health.body.clone()), (200, json!({"status": "ok"})));
    let ready = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!((ready.status, ready.body.clone()), (200, json!({"status": "ready"})));

    let providers = app.get("/v1/providers", &app.admin).await;
    assert_eq!(providers.body["items"].as_array().unwrap().len(), 13);
    let openai = &providers.body["items"][0];
    assert_eq!(openai["id"], "openai");
    assert_eq!(
        openai["fields"][0],
        json!({"name": "api_key", "label": "API key", "secret": true, "required": true,
        "pattern": "sk-[A-Za-z0-9_-]{16,}", "example": "sk-proj-…"})
    );
    app.send(app.client.get(app.url("/v1/providers"))).await.assert_problem(401, "unauthorized");

    let metrics = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains(r#"byok_http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains(r#"byok_http_requests_total{method="GET",route="/v1/providers",status="401"} 1"#));
    assert!(metrics.text.contains("byok_http_request_duration_seconds_bucket"));

    let openapi = app.send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(openapi.status, 200);
    for path in ["/v1/credentials", "/v1/credentials/{id}", "/v1/tokens", "/v1/tokens/{id}", "/v1/providers", "/readyz"]
    {
        assert!(openapi.body["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    assert!(openapi.body["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app.send(app.client.get(app.url("/docs/"))).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.to_lowercase().contains("swagger"), "{}", &docs.text[..docs.text.len().min(300)]);
}

async fn request_id_reaches_every_log_line(engine: Engine) {
    let app = spawn_app(engine).await;
    let svc = app.service_token().await;
    let request_id = format!("test-{}", uuid::Uuid::new_v4());
    let req =
        app.client.post(app.url("/v1/credentials")).bearer_auth(&svc).header("x-request-id", &request_id).json(
            &json!({"owner": "user:rita", "provider": "groq", "fields": {"api_key": "gsk_aaaaaaaaaaaaaaaaaaaaaa"}}),
        );
    let r = app.send(req).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.headers["x-request-id"], request_id.as_str());
    let generated = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(generated.headers["x-request-id"].len(), 36, "a request without an id gets one");

    let logs = captured_logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&request_id)).collect();
    assert!(lines.iter().any(|l| l.contains("credential created")), "the handler's own log line carries the id");
    assert!(lines.iter().any(|l| l.contains("finished processing request")), "so does the access log line");
    let id = r.body["id"].as_str().unwrap();
    for line in logs.lines().filter(|l| l.contains(id)) {
        assert!(line.contains(&request_id), "a log line about this request lacks its id: {line}");
    }
}
