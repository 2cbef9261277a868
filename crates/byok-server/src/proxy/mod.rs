//! `ANY /v1/proxy/{provider}/{path…}`: an official provider SDK pointed at byok works
//! unchanged. The caller's key (a virtual key, or a service token naming a user and
//! org) is checked, one unit is taken from the key's own limit and from the owner's
//! credential exactly as `resolve` takes it (a poll of work already paid for takes
//! none and counts as no use), the real key goes where the provider expects it, and
//! the provider's answer streams back unchanged while its token usage is read in
//! passing.

mod account_path;
mod answer;
mod body_limit;
mod caller;
mod failover;
mod forward;
mod keys;
mod messaging_refusals;
mod models;
mod outbound;
mod pay;
mod refusal;
mod stray_tokens;
mod surface;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::{OriginalUri, Request, State};
use axum::response::Response;
use byok_core::{Dialect, ProviderSpec, echo_name};
use byok_providers::{SendFailure, names_project, proxyable};

use crate::AppState;
use crate::state::ServerSettings;
use crate::usage_writer::UsageEvent;
use account_path::take_account;
use answer::{Settlement, stream_back};
use caller::identify;
use forward::{RequestBody, request_body, request_headers, target_url};
use keys::VirtualKeys;
use outbound::{is_aws, is_vertex};
use refusal::Refusal;
use surface::Reach;

const PREFIX: &str = "/v1/proxy/";

/// The proxy's share of the application state.
pub(crate) struct ProxyState {
    keys: VirtualKeys,
    max_body: usize,
}

impl ProxyState {
    pub(crate) fn new(settings: &ServerSettings) -> Self {
        Self { keys: VirtualKeys::default(), max_body: settings.proxy_max_body_bytes }
    }
}

/// The proxy's handler, for every method.
pub(crate) async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let uri = request.extensions().get::<OriginalUri>().map_or_else(|| request.uri().clone(), |u| u.0.clone());
    let (name, path) = uri
        .path()
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .map_or(("", ""), |(name, _)| (name, &uri.path()[PREFIX.len() + name.len()..]));
    let Ok(spec) = state.catalog.get(name) else {
        return Refusal::UnknownProvider(echo_name(name)).answer(Dialect::Generic);
    };
    let dialect = spec.dialect;
    match forward(&state, spec, path, uri.query(), request).await {
        Ok(response) => response,
        Err(refusal) => refusal.answer(dialect),
    }
}

async fn forward(
    state: &AppState,
    spec: &ProviderSpec,
    path: &str,
    query: Option<&str>,
    request: Request,
) -> Result<Response, Refusal> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let caller = match identify(state, &spec.id, &parts.headers, query).await {
        Err(refusal @ (Refusal::MissingKey | Refusal::InvalidKey)) => {
            crate::auth::record_refusal(state, &parts).await;
            return Err(refusal);
        }
        identified => identified?,
    };
    if !proxyable(spec) {
        return Err(Refusal::NotProxyable(format!(
            "{} cannot be proxied yet: its authentication is signed or token-based; use /v1/resolve",
            spec.name
        )));
    }
    let origin = state
        .prober
        .base_url(spec)
        .ok_or_else(|| Refusal::NotProxyable(format!("the catalog has no base URL for {}", spec.name)))?;
    let account = take_account(spec, path, &caller.key)?;
    let url = target_url(&origin, &account.path, query, &caller.key)?;
    let reach = surface::check(spec, &parts.method, &url)?;
    let names_account = account.named.is_some() || (is_vertex(spec) && names_project(url.path()));
    if names_account && reach != Reach::Poll {
        // Only reads of what was sent may name the real account or project (Twilio's
        // links and Vertex's operation names do).
        return Err(Refusal::PathNotAllowed(spec.name.clone()));
    }
    let headers = request_headers(&parts.headers)?;
    let exceeded = Arc::new(AtomicBool::new(false));
    let body = request_body(body, &parts.headers, spec.dialect, state.proxy.max_body, &exceeded).await?;
    if let Some(key) = &caller.virtual_key {
        let whole = match &body {
            RequestBody::Whole(bytes) => Some(&bytes[..]),
            RequestBody::Streamed(_) => None,
        };
        models::check(key, url.path(), whole)?;
    }
    if is_aws(spec) && matches!(body, RequestBody::Streamed(_)) {
        return Err(Refusal::NotProxyable(format!(
            "{} requests are signed over their whole body, which must be JSON",
            spec.name
        )));
    }

    let info = crate::audit::request_info(&parts);
    let mut paid = match reach {
        Reach::Use => pay::take_units(state, spec, &caller, &info).await?,
        Reach::Poll => pay::for_poll(state, spec, &caller, &info).await?,
    };
    // A use whose body is whole can go out again, with the next key, if this one is refused.
    let again = match (&body, reach) {
        (RequestBody::Whole(bytes), Reach::Use) => Some(bytes.clone()),
        _ => None,
    };
    // Counted with the first attempt's spooled use, the key's request is not counted again.
    let key_counted = paid.key_counted;
    // The caller's URL and headers are kept for another attempt only when there can be one.
    let mut target = Some((url, headers));
    let mut body = Some(body);
    let mut attempts = 1;
    let mut tried = Vec::new();
    loop {
        let this_target = if again.is_some() { target.clone() } else { target.take() };
        let this_body = body.take().or_else(|| again.clone().map(RequestBody::Whole));
        let (Some(this_target), Some(this_body)) = (this_target, this_body) else {
            return Err(Refusal::internal("proxy", "a retry without its request"));
        };
        let named = account.named.as_deref();
        let (out_url, out_headers, out_body) =
            outbound::prepare(state, spec, &paid, &parts.method, named, this_target, this_body).await?;
        let mut settlement = Settlement {
            writer: state.usage.clone(),
            event: UsageEvent {
                credential: paid.credential(),
                count_credential: paid.count_later,
                virtual_key: caller.token_id(),
                count_request: reach == Reach::Use
                    && !key_counted
                    && caller.virtual_key.as_ref().is_some_and(|k| k.monthly_limit.is_none()),
                tokens: 0,
            },
            provider: spec.id.clone(),
            status: 0,
            started,
            budgeted: caller.virtual_key.as_ref().is_some_and(|k| k.monthly_token_limit.is_some())
                || paid.token_budgeted(),
        };
        match state.prober.upstream().send(parts.method.clone(), &out_url, out_headers, out_body).await {
            Ok(answer) => {
                settlement.status = answer.status.as_u16();
                if let (true, Some(used)) = (failover::worth_another_key(settlement.status), paid.stored_version()) {
                    tried.push(used.0);
                    if again.is_some() && attempts < failover::MAX_ATTEMPTS {
                        if let Some(next) =
                            failover::next_key(state, spec, &caller, &info, &paid, &tried, settlement.status).await?
                        {
                            settlement.failed_attempt();
                            paid = next;
                            attempts += 1;
                            continue;
                        }
                    } else if failover::key_refused(settlement.status) {
                        failover::mark_refused_later(state, spec, used, settlement.status);
                    }
                }
                return Ok(stream_back(answer, settlement, attempts));
            }
            Err(failure) => {
                settlement.unanswered();
                if exceeded.load(Ordering::Relaxed) {
                    return Err(Refusal::PayloadTooLarge(state.proxy.max_body));
                }
                return Err(match failure {
                    SendFailure::Timeout => Refusal::UpstreamTimeout(format!("{} did not answer in time", spec.name)),
                    SendFailure::Connect => Refusal::Upstream(format!("could not connect to {}", spec.name)),
                    SendFailure::Blocked => Refusal::Upstream(format!(
                        "byok did not call {}: its address is in a loopback, private or link-local network",
                        spec.name
                    )),
                    SendFailure::Other => Refusal::Upstream(format!("the request to {} failed", spec.name)),
                });
            }
        }
    }
}
