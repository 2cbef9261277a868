//! `ANY /v1/proxy/{provider}/{path}` in the document. OpenAPI has no "any method", so
//! the methods provider APIs use are listed, each with the proxy's refusals: JSON in the
//! provider's own error shape (problem+json for providers without one). Anything else
//! is the provider's answer, passed back unchanged.

use utoipa::Modify;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, RefOr, Required, Response, ResponseBuilder};

const METHODS: [HttpMethod; 5] =
    [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch, HttpMethod::Delete];

const REFUSALS: [(&str, &str); 10] = [
    ("400", "a malformed request, or one that carries a byok token where the key does not go"),
    (
        "401",
        "no key, or not an active virtual key (`invalid_api_key`); for Resend also a method and path the key may not reach (its `restricted_api_key`)",
    ),
    (
        "403",
        "a token that may not use the proxy, this provider, this method and path or this model (`model_not_allowed`); for Resend also a key that is not active (its `invalid_api_key`)",
    ),
    ("404", "an unknown provider (`unknown_provider`) or no usable credential (`no_credential`)"),
    ("413", "the body is larger than the proxy's limit (`payload_too_large`)"),
    ("429", "the virtual key's or the credential's monthly limit is used up"),
    ("500", "an internal error, or a stored credential byok cannot open"),
    ("502", "the provider could not be reached (`upstream_error`)"),
    ("503", "the database is unreachable (`unavailable`)"),
    ("504", "the provider did not answer in time (`upstream_timeout`)"),
];

pub(super) struct ProxyPaths;

impl Modify for ProxyPaths {
    fn modify(&self, openapi: &mut OpenApi) {
        let item = PathItem::from_http_methods(METHODS, operation());
        openapi.paths.paths.insert("/v1/proxy/{provider}/{path}".to_owned(), item);
    }
}

fn operation() -> Operation {
    let mut operation = OperationBuilder::new()
        .tag("proxy")
        .summary(Some("Forwards a request to the provider with the caller's stored key."))
        .description(Some(
            "Authenticate with a virtual key where the provider's SDK puts its key (or a service \
             token naming a user and org). The answer is the provider's own, streamed back unchanged.",
        ))
        .parameter(path_parameter("provider", "a provider id from `GET /v1/providers`", "openai"))
        .parameter(path_parameter("path", "the provider API's path", "v1/chat/completions"))
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        .response("default", Response::new("the provider's answer, passed back unchanged"));
    for (status, description) in REFUSALS {
        operation = operation.response(status, refusal(description));
    }
    operation.build()
}

fn path_parameter(name: &str, description: &str, example: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(Schema::Object(Object::with_type(Type::String))))
        .example(Some(example.into()))
        .build()
}

/// Free-form JSON: each provider has its own error shape.
fn refusal(description: &str) -> RefOr<Response> {
    let any = || Content::new(Some(Schema::Object(Object::new())));
    let response = ResponseBuilder::new().description(description);
    RefOr::T(response.content("application/json", any()).content("application/problem+json", any()).build())
}
