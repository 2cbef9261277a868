//! The `byok` program: configuration, start-up checks and wiring of the library
//! crates. `main.rs` is only the command line on top of this.

pub mod audit_cli;
pub mod audit_prune;
pub mod backup;
pub mod cli;
pub mod config;
pub mod credentials_cli;
pub mod dev;
pub mod import_env;
pub mod import_file;
pub mod logging;
pub mod operator;
pub mod platform_env;
pub mod rotate;
pub mod startup;
pub mod token_cli;
