//! byok's provider layer: the built-in catalog (data in `catalog.toml`, embedded in
//! the binary), the connection probes that prove a credential works, and the adapters
//! for providers whose authentication is more than a header.

mod adapters;
mod aws_region;
mod catalog;
mod mint;
mod origin;
mod probe;
mod proxy;
mod template;

pub use catalog::{CatalogError, build_catalog, builtin_catalog, builtin_providers};
pub use mint::{MintFailure, ShortLived, mints_short_lived, takes_scope};
pub use probe::{
    Failure as SendFailure, ProbeOutcome, ProbeOutcomeKind, ProbeSettings, ProbeSetupError, Prober, base_url_env_var,
};
pub use proxy::{
    Answer, AnswerBody, BodyError, InjectError, OutboundBody, Upstream, UsageMeter, VertexScope, ask_for_usage,
    bedrock_origin, empty_body, full_body, inject_auth, names_project, needs_token, proxyable, resource_origin,
    sign_aws, streamed_body, vertex_origin, vertex_path, vertex_scope, with_default_sender,
};
