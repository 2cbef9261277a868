//! Start-up: build the keyring, open the store, and prove the keyring is the one the
//! database was sealed with before anything else happens.

use std::sync::Arc;

use byok_core::{Catalog, Clock, PlatformEnv, ProviderId, Timestamp};
use byok_crypto::{AuditKey, KeyCheck, Keyring, KeyringError, hash_token};
use byok_providers::{CatalogError, ProbeSettings, ProbeSetupError, Prober, build_catalog};
use byok_server::audit::{AuditSetupError, load_audit_key};
use byok_server::audit_spool::SpoolDir;
use byok_server::{AppParts, AppState, Auditor, ServerSettings};
use byok_store::{KeyCheckRecord, Store, StoreError};
use thiserror::Error;

use crate::config::Config;

#[derive(Debug, Error)]
pub enum StartupError {
    #[error("{0}")]
    Keyring(#[from] KeyringError),
    #[error("master key `{0}` is not the key this database was sealed with; refusing to start")]
    WrongKey(String),
    #[error(
        "the database holds secrets sealed under master key `{0}`, which the configured keyring lacks; add it to BYOK_MASTER_KEYS"
    )]
    MissingKey(String),
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("provider settings: {0}")]
    Probes(#[from] ProbeSetupError),
    #[error("{0}")]
    Audit(#[from] AuditSetupError),
    #[error("proxy_allow in the config file: {0}")]
    ProxyAllow(String),
    #[error("proxy_polls in the config file: {0}")]
    ProxyPolls(String),
    #[error("BYOK_UI_PROVIDERS names {0}, which the catalog does not have (known: {1})")]
    UiProviders(String, String),
    #[error("BYOK_UI_PROVIDERS names no provider: leave it unset to show them all")]
    NoUiProviders,
}

/// Builds the keyring from the settings: fails on a missing or malformed key before
/// any database is opened or created.
pub fn keyring(config: &Config) -> Result<Keyring, StartupError> {
    Ok(Keyring::from_settings(config.master_key.as_deref(), config.master_keys.as_deref())?)
}

/// Compares every stored key-check value with the keyring, and checks that every key
/// id in use is present, before recording checks for keys new to this database.
pub async fn verify_keyring(store: &dyn Store, keyring: &Keyring) -> Result<(), StartupError> {
    for stored in store.key_checks().await? {
        let check = KeyCheck { key_id: stored.key_id.clone(), check: stored.check };
        if keyring.matches(&check) == Some(false) {
            return Err(StartupError::WrongKey(stored.key_id));
        }
    }
    if let Some(missing) = store.sealed_key_ids().await?.into_iter().find(|id| !keyring.contains(id)) {
        return Err(StartupError::MissingKey(missing));
    }
    for check in keyring.key_checks() {
        store.insert_key_check(&KeyCheckRecord { key_id: check.key_id, check: check.check }, Timestamp::now()).await?;
    }
    Ok(())
}

/// What byok takes from around it besides its settings: where platform credentials'
/// environment variables are looked up, and the clock.
pub struct World<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub clock: Arc<dyn Clock>,
}

/// Opens everything `serve` needs, in the order that fails safest.
pub async fn open(config: &Config, world: World<'_>) -> Result<AppState, StartupError> {
    let keyring = keyring(config)?;
    let mut catalog = build_catalog(config.extra_providers.clone())?;
    for (provider, rules) in &config.proxy_allow {
        catalog.set_proxy_allow(provider, rules.clone()).map_err(|e| StartupError::ProxyAllow(e.to_string()))?;
    }
    for (provider, rules) in &config.proxy_polls {
        catalog.set_proxy_polls(provider, rules.clone()).map_err(|e| StartupError::ProxyPolls(e.to_string()))?;
    }
    let ui_providers = config.ui_providers.as_deref().map(|ids| ui_providers(&catalog, ids)).transpose()?;
    let probe_settings = ProbeSettings {
        proxy_read_timeout: config.proxy_read_timeout,
        ..ProbeSettings::from_env(&catalog, world.env)?
    };
    let prober = Prober::new(probe_settings)?;
    prober.check_catalog(&catalog)?;
    let store = byok_store::connect(&config.database_url).await?;
    verify_keyring(store.as_ref(), &keyring).await?;
    let platform_env = PlatformEnv::read(&catalog, world.env);
    for (provider, problem) in &platform_env.ignored {
        tracing::warn!(%provider, %problem, "platform credential in the environment ignored");
    }
    for found in &platform_env.credentials {
        tracing::info!(provider = %found.provider, variables = ?found.variables, "platform credential from the environment");
    }
    let settings = ServerSettings {
        admin_token_hash: config.admin_token.as_deref().map(hash_token),
        period_anchor: config.period_anchor,
        probe_rate_per_minute: config.probe_rate_per_minute,
        reverify_interval: config.reverify_interval,
        proxy_max_body_bytes: config.proxy_max_body_bytes,
        ui_secure_cookie: config.ui_secure_cookie,
        test_new_credentials: config.test_new_credentials,
        validate_on_create: config.validate_on_create,
        ui_providers,
        jwt: config.jwt.clone(),
        ui_sign_in_origins: config.ui_sign_in_origins.clone(),
        webhooks: config.webhooks.clone(),
        ..ServerSettings::default()
    };
    let audit_key = load_audit_key(store.as_ref(), &keyring).await?;
    let spool = SpoolDir::claim(&std::env::temp_dir()).map_err(AuditSetupError::from)?;
    let auditor = Auditor::start_spooled(store.clone(), audit_key, world.clock.clone(), spool).await?;
    let mut parts = AppParts::new(store, Arc::new(keyring), Arc::new(catalog), prober, auditor);
    parts.platform_env = platform_env;
    parts.clock = world.clock;
    Ok(AppState::new(parts, settings))
}

/// The settings page's providers, each one the catalog has.
fn ui_providers(catalog: &Catalog, ids: &[String]) -> Result<Vec<ProviderId>, StartupError> {
    if ids.is_empty() {
        return Err(StartupError::NoUiProviders);
    }
    let unknown: Vec<String> = ids.iter().filter(|id| catalog.get(id).is_err()).map(|id| format!("`{id}`")).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = catalog.providers().map(|p| p.id.as_str()).collect();
        return Err(StartupError::UiProviders(unknown.join(", "), known.join(", ")));
    }
    Ok(ids.iter().filter_map(|id| catalog.get(id).ok().map(|p| p.id.clone())).collect())
}

/// Opens the store and the audit key only, writing nothing: for `byok audit`.
pub async fn open_audit(config: &Config) -> Result<(Arc<dyn Store>, AuditKey), StartupError> {
    let keyring = keyring(config)?;
    let store = byok_store::connect(&config.database_url).await?;
    verify_keyring(store.as_ref(), &keyring).await?;
    let sealed =
        store.audit_key().await?.ok_or_else(|| AuditSetupError::Start("this database has no audit log yet".into()))?;
    let key = keyring.open_blob(byok_crypto::AUDIT_KEY_PURPOSE, &sealed.1).map_err(AuditSetupError::from)?;
    Ok((store, AuditKey::from_bytes(&key)))
}
