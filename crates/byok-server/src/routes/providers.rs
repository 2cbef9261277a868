use axum::Json;
use axum::extract::State;

use crate::AppState;
use crate::auth::Auth;
use crate::views::{Page, ProviderView};

/// The provider catalog: ids, names, categories and credential fields.
#[utoipa::path(get, path = "/v1/providers", tag = "catalog", security(("bearer" = [])), responses(
    (status = 200, body = Page<ProviderView>),
    (status = 401, body = crate::Problem, content_type = "application/problem+json"),
))]
pub async fn list_providers(State(state): State<AppState>, _auth: Auth) -> Json<Page<ProviderView>> {
    Json(Page { items: state.catalog.providers().map(ProviderView::from).collect(), next: None })
}
