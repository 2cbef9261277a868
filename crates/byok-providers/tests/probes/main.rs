//! Connection tests against the fake providers of `byok-fakes` on 127.0.0.1: every
//! built-in provider's answers, short-lived credentials minted from cloud keys, the requests byok sends, and the SSRF guard.

mod cloud;
mod common;
mod config_providers;
mod keys;
mod messaging;
mod mint;
mod network;
mod support;
