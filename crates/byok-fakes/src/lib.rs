//! Fake provider servers for byok's tests: one HTTP server per built-in provider on
//! `127.0.0.1`, each answering that provider's connection-test endpoints the way the
//! provider documents them (status codes, bodies, content types), decided by the
//! credential it receives. The AI and search fakes also answer the work a product sends
//! through byok's proxy (OpenAI, Anthropic, Gemini, Groq and OpenRouter generation in
//! JSON and SSE, OpenAI's responses and embeddings, Exa's search, Runway's tasks and
//! polls, Stability's images) with fixed bytes, for the proxy's tests. Nothing here talks to the internet.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use byok_fakes::{FakeProviders, Scenario, fields};
//!
//! let fakes = FakeProviders::start().await?;
//! // Point byok at the fakes: `BYOK_PROVIDER_<ID>_BASE_URL` for every provider, and
//! // `BYOK_ALLOW_PRIVATE_NETWORKS=true` (the fakes listen on loopback).
//! let env: Vec<(String, String)> = fakes.env_vars();
//! // The fields that make the OpenAI fake accept the key, as `POST /v1/credentials`
//! // takes them.
//! let good = fields("openai", Scenario::Good).expect("every provider has a good key");
//! // … store and test a credential through byok …
//! let sent = fakes.requests_to("openai");
//! assert_eq!(sent[0].path, "/v1/models");
//! # Ok(()) }
//! ```
//!
//! Per provider, the scenario is chosen by the key (or Twilio's auth token, AWS's
//! access key id, Azure's client secret, the Google service account's email); see
//! [`Scenario`]. Any credential the fake does not know gets the provider's
//! invalid-credential answer.

mod credentials;
mod jwks;
mod page;
mod providers;
mod receiver;
mod record;
mod server;

pub use credentials::{PROVIDERS, Scenario, fields};
pub use jwks::JwksServer;
pub use page::ProductPage;
pub use providers::azure_openai::AZURE_OPENAI_KEY;
pub use providers::bedrock::BEDROCK_TEXT;
pub use providers::key_admin::MINTED_KEY;
pub use providers::llm::{CHAT_COMPLETION, MESSAGE, SLOW_PAUSE};
pub use providers::runway_tasks::RUNWAY_OUTPUT;
pub use providers::stability_generate::STABILITY_IMAGE;
pub use providers::vertex::{VEO_VIDEO_URI, VERTEX_PROJECT};
pub use receiver::{Delivered, WebhookReceiver};
pub use record::RecordedRequest;
pub use server::FakeProviders;
