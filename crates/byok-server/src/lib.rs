//! byok's HTTP API: routes, authentication, problem+json errors, metrics, OpenAPI.

pub mod audit;
pub mod audit_verify;
mod auth;
mod credential_cache;
mod epoch_poll;
mod error;
mod extract;
mod metrics;
mod openapi;
mod probing;
mod proxy;
mod routes;
mod sealing;
mod state;
mod token_cache;
mod token_counts;
mod ui;
mod views;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use audit::Auditor;
pub use error::{ApiError, Problem};
pub use openapi::ApiDoc;
pub use sealing::{NewCredential, new_credential};
pub use state::{AppParts, AppState, ServerSettings};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/providers", get(routes::list_providers))
        .route("/tokens", post(routes::create_token))
        .route("/tokens/{id}", get(routes::get_token).delete(routes::revoke_token))
        .route("/resolve", post(routes::resolve))
        .route("/usage", get(routes::usage))
        .route("/orgs/{org}/policy", get(routes::get_org_policy).put(routes::put_org_policy))
        .route("/credentials", post(routes::create_credential).get(routes::list_credentials))
        .route("/credentials/{id}/test", post(routes::test_credential))
        .route("/credentials/{id}/versions", get(routes::list_versions))
        .route("/credentials/{id}/rollback", post(routes::rollback))
        .route("/audit", get(routes::list_audit))
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
                    let path = redact_tokens(req.uri().path());
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %path)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// A path with any segment that looks like a byok token replaced, for logs: a caller
/// may paste a key into a URL.
fn redact_tokens(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains("byok_") {
        return path.into();
    }
    path.split('/')
        .map(|seg| if seg.contains("byok_") { "[redacted]" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in
/// flight finish (for at most `grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // No Nagle delay: streamed chunks leave as soon as they are written.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
    });
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut stopped = stop_rx.clone();
    tokio::select! {
        result = server => result,
        _ = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("requests still running after the shutdown grace period; stopping anyway");
            Ok(())
        }
    }
}
