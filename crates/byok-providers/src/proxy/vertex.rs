//! Vertex AI through the proxy. google-genai in Vertex "express mode" (an API key, no
//! project) sends `/{version}/publishers/google/models/{model}:{method}`; byok sends it to
//! the paying credential's project and location
//! (`/{version}/projects/{project}/locations/{location}/publishers/…` at
//! `{location}-aiplatform.googleapis.com`). Vertex's own answers name the project (a
//! long-running operation's name, which the SDK polls by), so a path may name it too,
//! and then only the credential's own project and location.

use std::collections::BTreeMap;

use byok_core::SecretFields;

use super::InjectError;

/// Where Vertex requests go when the credential names no location.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The project and location a credential's Vertex requests go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VertexScope {
    pub project: String,
    pub location: String,
}

/// The credential's `project_id` (default: its key file's) and `location` (default
/// `us-central1`), each a plain Google Cloud name.
pub fn vertex_scope(config: &BTreeMap<String, String>, secrets: &SecretFields) -> Result<VertexScope, InjectError> {
    let field = |name: &str| config.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let from_key_file = || {
        let file = secrets.get("service_account_json")?;
        let json: serde_json::Value = serde_json::from_str(file.expose()).ok()?;
        json.get("project_id")?.as_str().map(str::to_owned)
    };
    let project =
        field("project_id").or_else(from_key_file).ok_or_else(|| InjectError::MissingField("project_id".into()))?;
    let location = field("location").unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
    let plain = |s: &str| {
        !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !plain(&project) {
        return Err(InjectError::BadValue("project_id".into()));
    }
    if !plain(&location) {
        return Err(InjectError::BadValue("location".into()));
    }
    Ok(VertexScope { project, location })
}

/// The regional Vertex AI origin of `scope` (the global endpoint for `global`).
pub fn vertex_origin(scope: &VertexScope) -> String {
    match scope.location.as_str() {
        "global" => "https://aiplatform.googleapis.com".to_owned(),
        location => format!("https://{location}-aiplatform.googleapis.com"),
    }
}

/// Whether `path` names a project (`/{version}/projects/…`).
pub fn names_project(path: &str) -> bool {
    path.trim_start_matches('/').split('/').nth(1) == Some("projects")
}

/// `path` within `scope`: an express-mode path gains the project and location; a path
/// naming them keeps them if they are `scope`'s. `None`: it names another project or
/// location.
pub fn vertex_path(path: &str, scope: &VertexScope) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [version, "projects", project, "locations", location, ..] => (*project == scope.project
            && *location == scope.location)
            .then(|| path.to_owned())
            .filter(|_| !version.is_empty()),
        [_, "projects", ..] => None,
        [version, rest @ ..] if rest.first() == Some(&"publishers") => {
            Some(format!("/{version}/projects/{}/locations/{}/{}", scope.project, scope.location, rest.join("/")))
        }
        _ => Some(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use byok_core::SecretValue;

    use super::*;

    fn scope() -> VertexScope {
        VertexScope { project: "acme-video".into(), location: "us-east4".into() }
    }

    #[test]
    fn the_project_comes_from_the_field_or_the_key_file() {
        let secrets: SecretFields = [(
            "service_account_json".to_owned(),
            SecretValue::new(r#"{"type":"service_account","project_id":"from-file"}"#.into()),
        )]
        .into();
        let found = vertex_scope(&BTreeMap::new(), &secrets).unwrap();
        assert_eq!(found, VertexScope { project: "from-file".into(), location: "us-central1".into() });
        let config = [("project_id".to_owned(), "acme".to_owned()), ("location".to_owned(), "europe-west4".to_owned())];
        let found = vertex_scope(&config.into(), &secrets).unwrap();
        assert_eq!((found.project.as_str(), found.location.as_str()), ("acme", "europe-west4"));
        let bad = [("location".to_owned(), "evil.example/x".to_owned())].into();
        assert_eq!(vertex_scope(&bad, &secrets), Err(InjectError::BadValue("location".into())));
        assert!(matches!(vertex_scope(&BTreeMap::new(), &SecretFields::new()), Err(InjectError::MissingField(_))));
    }

    #[test]
    fn express_paths_gain_the_project_and_named_ones_must_be_it() {
        let express = "/v1beta1/publishers/google/models/veo-3.0-generate-001:predictLongRunning";
        assert_eq!(
            vertex_path(express, &scope()).unwrap(),
            "/v1beta1/projects/acme-video/locations/us-east4/publishers/google/models/veo-3.0-generate-001:predictLongRunning"
        );
        let named =
            "/v1beta1/projects/acme-video/locations/us-east4/publishers/google/models/veo:fetchPredictOperation";
        assert_eq!(vertex_path(named, &scope()).as_deref(), Some(named));
        assert!(names_project(named) && !names_project(express));
        for other in [
            "/v1beta1/projects/other/locations/us-east4/publishers/google/models/veo:fetchPredictOperation",
            "/v1beta1/projects/acme-video/locations/europe-west4/publishers/google/models/veo:fetchPredictOperation",
            "/v1beta1/projects/acme-video",
        ] {
            assert_eq!(vertex_path(other, &scope()), None, "{other}");
        }
        assert_eq!(vertex_origin(&scope()), "https://us-east4-aiplatform.googleapis.com");
        let global = VertexScope { location: "global".into(), ..scope() };
        assert_eq!(vertex_origin(&global), "https://aiplatform.googleapis.com");
    }
}
