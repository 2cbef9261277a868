//! What the proxy needs from the provider layer: the pooled outbound client behind
//! the SSRF guard, putting an owner's real key where the provider expects it, asking
//! OpenAI-style streams for a usage report, filling in a messaging provider's default
//! sender, and reading the tokens a provider reports.

mod answer_body;
mod bedrock;
mod connect;
mod default_sender;
mod inject;
mod outbound_body;
mod pool;
mod request_body;
mod resource_origin;
mod upstream;
#[cfg(test)]
mod upstream_tests;
mod usage;
mod vertex;

pub use answer_body::{AnswerBody, BodyError};
pub use bedrock::{bedrock_origin, sign_aws};
pub use default_sender::with_default_sender;
pub use inject::{InjectError, inject_auth, needs_token, proxyable};
pub use outbound_body::{OutboundBody, empty_body, full_body, streamed_body};
pub use request_body::ask_for_usage;
pub use resource_origin::resource_origin;
pub use upstream::{Answer, Upstream};
pub use usage::UsageMeter;
pub use vertex::{VertexScope, names_project, vertex_origin, vertex_path, vertex_scope};
