//! The data-driven probe: one request as the catalog describes it, its answer read
//! with the catalog's `probe.errors` rules.

use async_trait::async_trait;
use byok_core::ProbeMethod;
use reqwest::Method;

use super::Adapter;
use crate::probe::{ProbeContext, ProbeOutcomeKind, Reply, Verdict};

pub(crate) struct Generic;

#[async_trait]
impl Adapter for Generic {
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict {
        match send(cx).await {
            Ok(reply) => classify(cx, &reply),
            Err(verdict) => verdict,
        }
    }
}

/// Sends the catalog's probe request.
pub(crate) async fn send(cx: &ProbeContext<'_>) -> Result<Reply, Verdict> {
    let probe = cx.probe;
    let method = match probe.method {
        ProbeMethod::Get => Method::GET,
        ProbeMethod::Post => Method::POST,
    };
    let mut request = cx.authorized(method, cx.url(&probe.path)?)?;
    for (name, value) in &probe.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    for (name, field) in &probe.field_headers {
        if let Some(value) = cx.config(field) {
            request = request.header(name.as_str(), value);
        }
    }
    if let Some(body) = &probe.json_body {
        request = request.json(body);
    }
    cx.send(request).await
}

/// Reads an answer with the catalog's rules. Rules on codes and messages come first,
/// then statuses; an answer no rule explains is "unavailable", never "invalid".
pub(crate) fn classify(cx: &ProbeContext<'_>, reply: &Reply) -> Verdict {
    let reading = cx.reading(reply);
    if reply.is_success() {
        return reading.detail.verdict(cx.name(), ProbeOutcomeKind::Connected);
    }
    let errors = &cx.probe.errors;
    let raw = reading.raw.to_lowercase();
    let says = |fragments: &[String]| fragments.iter().any(|f| !f.is_empty() && raw.contains(&f.to_lowercase()));
    let has_code = |codes: &[String]| reading.codes.iter().any(|c| codes.contains(c));
    let restricted_by_rule = has_code(&errors.restricted_codes) || says(&errors.restricted_messages);
    let invalid_by_rule = has_code(&errors.invalid_codes) || says(&errors.invalid_messages);
    let kind = if restricted_by_rule {
        ProbeOutcomeKind::Restricted
    } else if invalid_by_rule || errors.invalid_status.contains(&reply.status) {
        ProbeOutcomeKind::Invalid
    } else if errors.restricted_status.contains(&reply.status) {
        ProbeOutcomeKind::Restricted
    } else {
        ProbeOutcomeKind::Unavailable
    };
    reading.detail.verdict(cx.name(), kind)
}
