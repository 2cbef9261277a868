//! The problem+json answers that byok's shared machinery gives on every route it
//! applies to, added to each operation so the document lists every status a route can
//! answer without repeating them in each handler's annotation.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

pub(super) struct SharedProblems;

impl Modify for SharedProblems {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for (status, description) in shared_statuses(operation) {
                    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description));
                }
            }
        }
    }
}

/// The statuses `operation` can answer through the extractors and the store, whatever
/// its handler does.
fn shared_statuses(operation: &Operation) -> Vec<(&'static str, &'static str)> {
    let mut statuses = Vec::new();
    if operation.security.is_some() {
        statuses.push(("401", "no valid bearer token (`unauthorized`)"));
        statuses.push(("500", "an internal error, e.g. the database failed (`internal`)"));
        statuses.push(("503", "the database is unreachable (`unavailable`)"));
    }
    let parameters = operation.parameters.iter().flatten().filter_map(|p| match p {
        RefOr::T(p) => Some(&p.parameter_in),
        RefOr::Ref(_) => None,
    });
    let (mut in_path, mut in_query) = (false, false);
    for place in parameters {
        in_path |= matches!(place, ParameterIn::Path);
        in_query |= matches!(place, ParameterIn::Query);
    }
    if in_path {
        statuses.push(("404", "nothing with this id that the caller may see (`not_found`)"));
    }
    if in_query {
        statuses.push(("400", "an unknown or malformed query parameter (`invalid_query`)"));
        statuses.push(("422", "a query parameter out of range (`invalid_field`)"));
    }
    if operation.request_body.is_some() {
        statuses.push(("400", "the body is not JSON (`malformed_json`)"));
        statuses.push(("413", "the body is larger than allowed (`payload_too_large`)"));
        statuses.push(("415", "the body is not `application/json` (`unsupported_media_type`)"));
        statuses.push(("422", "a field is missing, of the wrong type or invalid (`invalid_field`)"));
    }
    statuses
}

fn problem(description: &str) -> RefOr<Response> {
    let content = Content::new(Some(Ref::from_schema_name("Problem")));
    RefOr::T(ResponseBuilder::new().description(description).content("application/problem+json", content).build())
}
