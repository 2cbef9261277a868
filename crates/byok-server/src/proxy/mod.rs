//! `ANY /v1/proxy/{provider}/{path…}`: an official provider SDK pointed at byok works
//! unchanged. The caller's key (a virtual key, or a service token naming a user and
//! org) is checked, one unit is taken from the key's own limit and from the owner's
//! credential exactly as `resolve` takes it (a poll of work already paid for takes
//! none and counts as no use), the real key goes where the provider expects it, and
//! the provider's answer streams back unchanged while its token usage is read in
//! passing.

mod account_path;
mod answer;
mod caller;
mod forward;
mod keys;
mod messaging_refusals;
mod pay;
mod refusal;
mod stray_tokens;
mod surface;
mod usage_writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::{OriginalUri, Request, State};
use axum::response::Response;
use byok_core::{AuthSpec, Dialect, ProviderSpec, echo_name};
use byok_providers::{
    InjectError, SendFailure, ShortLived, bedrock_origin, full_body, inject_auth, names_project, needs_token,
    proxyable, resource_origin, sign_aws, vertex_origin, vertex_path, vertex_scope, with_default_sender,
};
use reqwest::Url;

use crate::AppState;
use crate::state::ServerSettings;
use account_path::{fill_account, take_account};
use answer::{Settlement, stream_back};
use axum::body::Bytes;
use caller::identify;
use forward::{RequestBody, request_body, request_headers, target_url};
use keys::VirtualKeys;
use refusal::Refusal;
use surface::Reach;
use usage_writer::{UsageEvent, UsageWriter};

const PREFIX: &str = "/v1/proxy/";

/// The proxy's share of the application state.
pub(crate) struct ProxyState {
    keys: VirtualKeys,
    usage: UsageWriter,
    max_body: usize,
}

impl ProxyState {
    pub(crate) fn new(
        store: Arc<dyn byok_store::Store>,
        clock: Arc<dyn byok_core::Clock>,
        settings: &ServerSettings,
    ) -> Self {
        Self {
            keys: VirtualKeys::default(),
            usage: UsageWriter::start(store, clock, settings.period_anchor),
            max_body: settings.proxy_max_body_bytes,
        }
    }

    /// Writes the counts of finished requests still held.
    pub(crate) async fn flush(&self) {
        self.usage.flush().await;
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
    let mut url = target_url(&origin, &account.path, query, &caller.key)?;
    let reach = surface::check(spec, &parts.method, &url)?;
    let names_account = account.named.is_some() || (is_vertex(spec) && names_project(url.path()));
    if names_account && reach != Reach::Poll {
        // Only reads of what was sent may name the real account or project (Twilio's
        // links and Vertex's operation names do).
        return Err(Refusal::PathNotAllowed(spec.name.clone()));
    }
    let mut headers = request_headers(&parts.headers)?;
    let exceeded = Arc::new(AtomicBool::new(false));
    let body = request_body(body, &parts.headers, spec.dialect, state.proxy.max_body, &exceeded).await?;
    if is_aws(spec) && matches!(body, RequestBody::Streamed(_)) {
        return Err(Refusal::NotProxyable(format!(
            "{} requests are signed over their whole body, which must be JSON",
            spec.name
        )));
    }

    let info = crate::audit::request_info(&parts);
    let paid = match reach {
        Reach::Use => pay::take_units(state, spec, &caller, &info).await?,
        Reach::Poll => pay::for_poll(state, spec, &caller, &info).await?,
    };
    let token = if needs_token(spec, paid.secrets()) { Some(minted_token(state, spec, &paid).await?) } else { None };
    let token = token.as_ref().and_then(|t| t.fields.get("access_token")).map(|t| t.expose());
    inject_auth(spec, paid.config(), paid.secrets(), token, &mut headers, &mut url).map_err(|e| match e {
        InjectError::NotProxyable(_) => Refusal::NotProxyable(e.to_string()),
        other => Refusal::internal(&format!("credential {:?} of {}", paid.credential(), paid.owner()), other),
    })?;
    let overridden = state.prober.is_overridden(spec);
    if is_vertex(spec) {
        to_vertex(spec, &paid, overridden, &mut url)?;
    } else if is_aws(spec) && !overridden {
        let origin = bedrock_origin(paid.config()).map_err(|e| Refusal::NotProxyable(e.to_string()))?;
        move_to(&mut url, &origin)?;
    } else if !overridden {
        move_to_resource(spec, paid.config(), &mut url)?;
    }
    fill_account(spec, paid.config(), account.named.as_deref(), &mut url)?;
    let body = match body {
        RequestBody::Whole(bytes) => {
            let bytes = with_default_sender(spec.dialect, parts.method.as_str(), url.path(), &bytes, paid.config())
                .map_or(bytes, Bytes::from);
            if is_aws(spec) {
                // Signed last, over the request exactly as it goes out.
                sign_aws(paid.config(), paid.secrets(), parts.method.as_str(), &url, &mut headers, &bytes).map_err(
                    |e| Refusal::internal(&format!("credential {:?} of {}", paid.credential(), paid.owner()), e),
                )?;
            }
            full_body(bytes)
        }
        RequestBody::Streamed(body) => body,
    };
    let mut settlement = Settlement {
        writer: state.proxy.usage.clone(),
        event: UsageEvent {
            credential: paid.credential(),
            count_credential: paid.count_later,
            virtual_key: caller.token_id(),
            count_request: reach == Reach::Use
                && caller.virtual_key.as_ref().is_some_and(|k| k.monthly_limit.is_none()),
            tokens: 0,
        },
        provider: spec.id.clone(),
        status: 0,
        started,
    };
    match state.prober.upstream().send(parts.method, &url, headers, body).await {
        Ok(answer) => {
            settlement.status = answer.status.as_u16();
            Ok(stream_back(answer, settlement))
        }
        Err(failure) => {
            settlement.unanswered();
            if exceeded.load(Ordering::Relaxed) {
                return Err(Refusal::PayloadTooLarge(state.proxy.max_body));
            }
            Err(match failure {
                SendFailure::Timeout => Refusal::UpstreamTimeout(format!("{} did not answer in time", spec.name)),
                SendFailure::Connect => Refusal::Upstream(format!("could not connect to {}", spec.name)),
                SendFailure::Blocked => Refusal::Upstream(format!(
                    "byok did not call {}: its address is in a loopback, private or link-local network",
                    spec.name
                )),
                SendFailure::Other => Refusal::Upstream(format!("the request to {} failed", spec.name)),
            })
        }
    }
}

/// A token minted from the paying credential (Azure without a resource key), from the
/// short-lived cache or minted now.
async fn minted_token(state: &AppState, spec: &ProviderSpec, paid: &pay::Paid<'_>) -> Result<Arc<ShortLived>, Refusal> {
    let (credential, revision) = paid.token_key();
    let key = (credential.as_str(), revision);
    let minted = state.short_lived.mint(&state.prober, spec, key, paid.config(), paid.secrets(), None).await;
    minted.map_err(|failure| {
        Refusal::Upstream(format!("{} did not issue a token for the credential: {}", spec.name, failure.message))
    })
}

/// Whether `spec` is served as Amazon Bedrock (AWS access keys, requests re-signed).
fn is_aws(spec: &ProviderSpec) -> bool {
    matches!(spec.auth, Some(AuthSpec::AwsSigv4))
}

/// Whether `spec` is served as Vertex AI (Google Cloud service accounts).
fn is_vertex(spec: &ProviderSpec) -> bool {
    matches!(spec.auth, Some(AuthSpec::GoogleServiceAccount))
}

/// Puts the request in the paying credential's Vertex project and location, at its
/// regional origin unless the operator overrides it; a path naming another project or
/// location is refused.
fn to_vertex(spec: &ProviderSpec, paid: &pay::Paid<'_>, overridden: bool, url: &mut Url) -> Result<(), Refusal> {
    let scope = vertex_scope(paid.config(), paid.secrets()).map_err(|e| Refusal::NotProxyable(e.to_string()))?;
    let path = vertex_path(url.path(), &scope).ok_or_else(|| Refusal::PathNotAllowed(spec.name.clone()))?;
    url.set_path(&path);
    if !overridden {
        move_to(url, &vertex_origin(&scope))?;
    }
    Ok(())
}

/// Sends the request to the paying credential's own resource where the provider has
/// one (an Azure OpenAI endpoint), keeping its path and query.
fn move_to_resource(spec: &ProviderSpec, config: &BTreeMap<String, String>, url: &mut Url) -> Result<(), Refusal> {
    let origin = resource_origin(spec, config).map_err(|e| Refusal::NotProxyable(e.to_string()))?;
    if let Some(origin) = origin {
        move_to(url, &origin)?;
    }
    Ok(())
}

/// `url` at `origin`, its path and query kept.
fn move_to(url: &mut Url, origin: &str) -> Result<(), Refusal> {
    let mut moved = Url::parse(origin).map_err(|e| Refusal::internal("proxy", e))?;
    moved.set_path(url.path());
    moved.set_query(url.query());
    *url = moved;
    Ok(())
}
