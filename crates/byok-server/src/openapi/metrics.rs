//! `GET /metrics` in the document: Prometheus text, not JSON, so it is described here
//! rather than by an annotation on the handler.

use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::{Content, OpenApi, Ref, ResponseBuilder};

pub(super) struct MetricsPath;

impl Modify for MetricsPath {
    fn modify(&self, openapi: &mut OpenApi) {
        let text = Content::new(Some(Schema::Object(Object::with_type(Type::String))));
        let problem = Content::new(Some(Ref::from_schema_name("Problem")));
        let operation = OperationBuilder::new()
            .tag("operations")
            .summary(Some("Prometheus metrics (OpenMetrics text)."))
            .response(
                "200",
                ResponseBuilder::new().description("the metrics").content("application/openmetrics-text", text),
            )
            .response(
                "500",
                ResponseBuilder::new()
                    .description("the metrics could not be rendered (`internal`)")
                    .content("application/problem+json", problem),
            )
            .build();
        openapi.paths.paths.insert("/metrics".to_owned(), PathItem::new(HttpMethod::Get, operation));
    }
}
