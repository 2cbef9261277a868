//! The command line: `serve`, `keygen`, `token create`, `providers`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use byok_core::{Role, Timestamp, Token, TokenId};
use byok_crypto::{generate_master_key_hex, generate_token, hash_token};
use byok_store::Change;
use clap::{Args, Parser, Subcommand, ValueEnum};
use thiserror::Error;

use crate::config::{Config, ConfigError, Layer};
use crate::startup::{self, StartupError};
use crate::{dev, logging, platform_env};

#[derive(Debug, Parser)]
#[command(name = "byok", version, about = "A self-hosted credential broker for bring-your-own-key products")]
pub struct Cli {
    /// TOML config file (also BYOK_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL, overriding DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Development mode: a local key and database in ./.byok/, created when absent.
    #[arg(long, global = true)]
    pub dev: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on (also BYOK_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Print a new random master key (64 hex characters).
    Keygen,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// List the provider catalog.
    Providers,
    /// Re-seal every secret under the primary master key (resumable).
    RotateKey {
        /// Rows per transaction.
        #[arg(long, default_value_t = 200)]
        batch_size: u32,
    },
    /// Check or export the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import credentials from JSON lines (`{owner, provider, label?, fields}`).
    Import {
        file: PathBuf,
        /// Environment variable holding the 64-hex key of legacy `iv:authTag:ciphertext` values.
        #[arg(long, value_name = "VAR")]
        legacy_key_env: Option<String>,
        /// Check every line, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Lines written per transaction, with one multi-row insert (large files).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
    },
    /// List, show, disable, enable or delete stored credentials (never a secret).
    #[command(subcommand)]
    Credentials(crate::credentials_cli::CredentialsCommand),
    /// Copy a SQLite store into FILE while it serves (PostgreSQL: use pg_dump).
    Backup { file: PathBuf },
    /// Copy platform credentials from the environment (and .env) into the store.
    ImportEnv {
        /// Show what would be imported, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every chain; exit 1 naming the first broken entry.
    Verify {
        /// Heads printed by an earlier verify, to detect truncation.
        #[arg(long, value_name = "FILE")]
        heads: Option<PathBuf>,
    },
    /// Write every entry as JSON lines.
    Export {
        /// Only entries older than this RFC 3339 date or date-time (what a prune removes).
        #[arg(long, value_parser = crate::audit_prune::parse_before)]
        before: Option<Timestamp>,
    },
    /// Remove entries older than a date that an export holds; chains stay verifiable.
    Prune(crate::audit_prune::PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an admin or service token and print it once.
    Create(TokenCreate),
    /// List tokens (never their values).
    List(crate::token_cli::TokenList),
    /// Revoke a token.
    Revoke(crate::token_cli::TokenRevoke),
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    #[arg(long, value_enum)]
    pub role: CliRole,
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub expires_in: Option<u32>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CliRole {
    Admin,
    Service,
}

#[derive(Debug, Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Startup(#[from] StartupError),
    #[error("--dev could not prepare ./.byok: {0}")]
    Dev(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("import failed: {0}")]
    Import(byok_store::StoreError),
    #[error("{0}")]
    Rotate(#[from] crate::rotate::RotateError),
    #[error("the audit log is broken (see above)")]
    AuditBroken,
    #[error("backup failed: {0}")]
    Backup(byok_store::StoreError),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Operator(#[from] crate::operator::OperatorError),
    #[error("{failed} of {total} lines failed (see above)")]
    ImportLines { failed: usize, total: usize },
}

impl Cli {
    pub async fn run(self) -> Result<(), CliError> {
        let flags = Layer { database_url: self.database_url.clone(), ..Layer::default() };
        match self.command {
            Command::Keygen => {
                println!("{}", generate_master_key_hex());
                Ok(())
            }
            Command::Providers => providers(),
            Command::Serve { ref listen } => {
                let flags = Layer { listen: listen.clone(), ..flags };
                let config = self.load(flags)?;
                serve(config).await
            }
            Command::Token(TokenCommand::Create(ref args)) => {
                let config = self.load(flags)?;
                create_token(&config, args).await
            }
            Command::ImportEnv { dry_run } => {
                let config = self.load(flags)?;
                import_env(&config, dry_run).await
            }
            Command::RotateKey { batch_size } => {
                let config = self.load(flags)?;
                rotate_key(&config, batch_size.max(1)).await
            }
            Command::Audit(AuditCommand::Verify { ref heads }) => {
                let config = self.load(flags)?;
                if crate::audit_cli::verify_command(&config, heads.as_deref()).await? {
                    Ok(())
                } else {
                    Err(CliError::AuditBroken)
                }
            }
            Command::Audit(AuditCommand::Export { before }) => {
                let config = self.load(flags)?;
                let written = crate::audit_cli::export_command(&config, before).await?;
                eprintln!("byok: exported {written} audit entries");
                Ok(())
            }
            Command::Audit(AuditCommand::Prune(ref args)) => {
                let config = self.load(flags)?;
                let report = crate::audit_prune::prune(&config, args).await?;
                println!(
                    "pruned {} audit entries before {} from {} chains",
                    report.removed, args.before, report.chains
                );
                Ok(())
            }
            Command::Credentials(ref command) => {
                let config = self.load(flags)?;
                Ok(crate::credentials_cli::run(&config, command).await?)
            }
            Command::Token(TokenCommand::List(ref args)) => {
                let config = self.load(flags)?;
                Ok(crate::token_cli::list(&config, args).await?)
            }
            Command::Token(TokenCommand::Revoke(ref args)) => {
                let config = self.load(flags)?;
                Ok(crate::token_cli::revoke(&config, args).await?)
            }
            Command::Backup { ref file } => {
                let config = self.load(flags)?;
                crate::backup::backup_command(&config, file).await.map_err(CliError::Backup)
            }
            Command::Import { ref file, ref legacy_key_env, dry_run, batch_size } => {
                let config = self.load(flags)?;
                import_file(&config, file, legacy_key_env.as_deref(), dry_run, batch_size as usize).await
            }
        }
    }

    fn load(&self, flags: Layer) -> Result<Config, CliError> {
        let env = |name: &str| std::env::var(name).ok();
        let mut config = Config::load(self.config.as_deref(), &env, flags)?;
        if self.dev {
            eprintln!("{}", dev::WARNING);
            let cwd = std::env::current_dir().map_err(CliError::Dev)?;
            for note in dev::apply(&mut config, &cwd).map_err(CliError::Dev)? {
                eprintln!("byok: {note}");
            }
        }
        Ok(config)
    }
}

fn providers() -> Result<(), CliError> {
    let catalog = byok_providers::builtin_catalog().map_err(StartupError::from)?;
    for p in catalog.providers() {
        let fields: Vec<String> = p
            .fields
            .iter()
            .map(|f| format!("{}{}{}", f.name, if f.secret { "*" } else { "" }, if f.required { "" } else { "?" }))
            .collect();
        let category = format!("{:?}", p.category).to_lowercase();
        println!("{:<12} {:<30} {:<10} {}", p.id, p.name, category, fields.join(" "));
    }
    println!("\n* secret (sealed, shown only as a hint)   ? optional");
    Ok(())
}

/// Opens the application with the real environment (process and `./.env`) and clock.
async fn open(config: &Config) -> Result<byok_server::AppState, CliError> {
    let (env, problem) = platform_env::lookup_with_dotenv(std::path::Path::new(".env"));
    if let Some(problem) = problem {
        tracing::warn!(%problem, ".env ignored in part");
    }
    let world = startup::World { env: &env, clock: std::sync::Arc::new(byok_core::SystemClock) };
    Ok(startup::open(config, world).await?)
}

async fn serve(config: Config) -> Result<(), CliError> {
    logging::init(config.log_format);
    let state = open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| CliError::Listen { addr: config.listen.to_string(), source })?;
    let addr = listener.local_addr().map_err(CliError::Serve)?;
    tracing::info!(%addr, "byok listening on http://{addr}");
    state.start_background();
    let app = byok_server::router(state.clone());
    let connections = byok_server::ConnectionSettings {
        header_read_timeout: config.header_read_timeout,
        shutdown_grace: Duration::from_secs(20),
    };
    byok_server::serve(listener, app, shutdown_signal(), connections).await.map_err(CliError::Serve)?;
    state.flush().await;
    tracing::info!("byok stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; finishing requests in flight");
}

async fn import_env(config: &Config, dry_run: bool) -> Result<(), CliError> {
    let state = open(config).await?;
    for line in crate::import_env::import_env(&state, dry_run).await.map_err(CliError::Import)? {
        println!("{line}");
    }
    Ok(())
}

async fn rotate_key(config: &Config, batch: u32) -> Result<(), CliError> {
    let state = open(config).await?;
    let primary = state.keyring.primary_id().to_string();
    let progress = |done: u64, left: i64| {
        let total = done + left.max(0) as u64;
        let width = 30usize;
        let filled = if total == 0 { width } else { (done as usize * width) / total as usize };
        eprint!("\rre-sealing under {primary} [{}{}] {done}/{total}", "#".repeat(filled), ".".repeat(width - filled));
    };
    let report = crate::rotate::rotate(&state, batch, &progress).await?;
    eprintln!();
    if report.remaining == 0 {
        let old: Vec<&str> = state.keyring.key_ids().into_iter().filter(|k| *k != primary).collect();
        println!("re-sealed {} envelopes; every secret is now sealed under `{primary}`.", report.resealed);
        if !old.is_empty() {
            println!("no row uses {} any more: remove it from BYOK_MASTER_KEYS.", old.join(", "));
        }
    } else {
        println!(
            "re-sealed {}; {} rows were changed meanwhile under an older key (an instance with an old keyring?): run rotate-key again.",
            report.resealed, report.remaining
        );
    }
    Ok(())
}

async fn import_file(
    config: &Config,
    file: &std::path::Path,
    legacy_env: Option<&str>,
    dry_run: bool,
    batch_size: usize,
) -> Result<(), CliError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| CliError::Input(format!("cannot read {}: {e}", file.display())))?;
    let legacy = match legacy_env {
        Some(var) => {
            let value = std::env::var(var).map_err(|_| CliError::Input(format!("{var} is not set")))?;
            Some(byok_crypto::LegacyKey::from_hex(&value).map_err(|e| CliError::Input(format!("{var}: {e}")))?)
        }
        None => None,
    };
    let state = open(config).await?;
    let options = crate::import_file::ImportOptions { legacy: legacy.as_ref(), dry_run, batch_size };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let summary = crate::import_file::import(&state, &text, &options, &mut |line| {
        let _ = writeln!(out, "{line}");
    })
    .await;
    drop(out);
    let verb = if dry_run { "would import" } else { "imported" };
    println!("{verb} {}, failed {}", summary.imported, summary.failed);
    if summary.failed > 0 {
        return Err(CliError::ImportLines { failed: summary.failed, total: summary.imported + summary.failed });
    }
    Ok(())
}

async fn create_token(config: &Config, args: &TokenCreate) -> Result<(), CliError> {
    let state = open(config).await?;
    let role = match args.role {
        CliRole::Admin => Role::Admin,
        CliRole::Service => Role::Service,
    };
    let secret = generate_token(role.token_prefix());
    let now = Timestamp::now();
    let token = Token {
        id: TokenId::new(),
        hash: hash_token(&secret),
        role,
        owner: None,
        manage_orgs: Vec::new(),
        name: args.name.clone(),
        created_at: now,
        expires_at: args.expires_in.map(|s| now.plus_seconds(i64::from(s))),
        revoked_at: None,
    };
    let mut event = crate::operator::event(byok_core::AuditAction::TokenCreate);
    event.detail = Some(format!("{role} token {}", token.id));
    let id = token.id;
    crate::operator::commit(&state.audit, Change::InsertToken { token, sign_in_link_until: None }, vec![event]).await?;
    eprintln!("byok: created {role} token {} (shown only now)", id);
    println!("{secret}");
    Ok(())
}
