//! byok's integration tests: one binary, one `spawn_app()`. Tests that touch storage
//! run once per engine (`…::sqlite` and `…::postgres`).

mod support;

mod audit;
mod audit_prune;
mod background_tests;
mod backup;
mod bad_input;
mod batches;
mod canary;
mod cli;
mod connection_tests;
mod credentials;
mod hardening;
mod import;
mod isolation;
mod jwt;
mod metering;
mod operations;
mod operator_cli;
mod pg_cluster;
mod postgres_tls;
mod provider_checks;
mod proxy;
mod reports;
mod resolve;
mod rotation;
mod schema_conformance;
mod short_lived;
mod startup_keys;
mod tokens;
mod ui;
mod upgrade;
mod versions;
mod webhooks;
