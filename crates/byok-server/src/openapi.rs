use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

mod metrics;
mod problems;
mod proxy;

use metrics::MetricsPath;
use problems::SharedProblems;
use proxy::ProxyPaths;

/// The OpenAPI document, generated from the handlers and types themselves.
#[derive(OpenApi)]
#[openapi(
    info(title = "byok", description = "Self-hosted credential broker for bring-your-own-key products."),
    paths(
        routes::healthz,
        routes::readyz,
        routes::list_providers,
        routes::create_token,
        routes::revoke_token,
        routes::get_token,
        routes::create_credential,
        routes::list_credentials,
        routes::get_credential,
        routes::patch_credential,
        routes::delete_credential,
        routes::test_credential,
        routes::report_credential,
        routes::test_fields,
        routes::availability,
        routes::list_versions,
        routes::rollback,
        routes::list_audit,
        routes::resolve,
        routes::usage,
        routes::get_org_policy,
        routes::put_org_policy,
        routes::create_webhook,
        routes::list_webhooks,
        routes::delete_webhook,
        routes::list_deliveries,
        routes::retry_delivery,
    ),
    modifiers(&BearerAuth, &SharedProblems, &ProxyPaths, &MetricsPath)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
