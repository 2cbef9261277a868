//! byok's HTTP API: routes, authentication, problem+json errors, metrics, OpenAPI.

pub mod audit;
pub mod audit_spool;
pub mod audit_verify;
mod auth;
mod credential_cache;
mod epoch_poll;
mod error;
mod extract;
mod jwt;
mod metrics;
mod minute_limits;
mod openapi;
mod probing;
mod proxy;
mod routes;
mod sealing;
mod short_lived;
mod state;
mod token_cache;
mod token_counts;
mod ui;
mod usage_writer;
mod views;
mod webhooks;

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::routing::{any, delete, get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use audit::Auditor;
pub use error::{ApiError, Problem};
pub use jwt::{JwtRefusal, JwtSettings};
pub use openapi::ApiDoc;
pub use sealing::{NewCredential, new_credential};
pub use state::{AppParts, AppState, ServerSettings};
pub use webhooks::{WebhookSettings, credential_change, parse_retry_schedule};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/providers", get(routes::list_providers))
        .route("/providers/{id}/test", post(routes::test_fields))
        .route("/availability", get(routes::availability))
        .route("/tokens", post(routes::create_token))
        .route("/tokens/{id}", get(routes::get_token).delete(routes::revoke_token))
        .route("/resolve", post(routes::resolve))
        .route("/usage", get(routes::usage))
        .route("/orgs/{org}/policy", get(routes::get_org_policy).put(routes::put_org_policy))
        .route("/credentials", post(routes::create_credential).get(routes::list_credentials))
        .route("/credentials/{id}/test", post(routes::test_credential))
        .route("/credentials/{id}/report", post(routes::report_credential))
        .route("/credentials/{id}/versions", get(routes::list_versions))
        .route("/credentials/{id}/rollback", post(routes::rollback))
        .route("/audit", get(routes::list_audit))
        .route("/webhooks", post(routes::create_webhook).get(routes::list_webhooks))
        .route("/webhooks/{id}", delete(routes::delete_webhook))
        .route("/webhooks/{id}/deliveries", get(routes::list_deliveries))
        .route("/webhooks/{id}/deliveries/{delivery_id}/retry", post(routes::retry_delivery))
        .route(
            "/credentials/{id}",
            get(routes::get_credential).patch(routes::patch_credential).delete(routes::delete_credential),
        )
        .route("/proxy/{provider}/", any(proxy::proxy))
        .route("/proxy/{provider}/{*path}", any(proxy::proxy));
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(metrics::render))
        .nest("/v1", v1)
        .merge(ui::routes())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            // Spans carry the request id, method and path only: never headers or the
            // query string, which may hold tokens.
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    let path = byok_core::redact_tokens(req.uri().path());
                    tracing::info_span!("request", request_id = %byok_core::redact_tokens(id), method = %req.method(), path = %path)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// How [`serve`] treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    /// How long a client may take to send a request's head, which also bounds how long
    /// a kept-alive connection may wait idle for its next request: a stalled client
    /// (slowloris) is disconnected instead of holding its connection forever.
    pub header_read_timeout: Duration,
    /// How long requests in flight may run on once shutdown is asked for.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in
/// flight finish (for at most the shutdown grace). Connections are served by hyper
/// directly, as `axum::serve` offers no header-read timeout.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    settings: ConnectionSettings,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // As `axum::serve` does: a failed accept (a reset connection, too many
                    // open files) stops nothing; pause briefly when it is not the client's.
                    tracing::debug!(error = %e, "a connection could not be accepted");
                    if !matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset) {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // No Nagle delay: streamed chunks leave as soon as they are written.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
        let Ok(service) = make_service.call(addr).await;
        let connection = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(settings.shutdown_grace) => {
            tracing::warn!("requests still running after the shutdown grace period; stopping anyway");
        }
    }
    Ok(())
}
