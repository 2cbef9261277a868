//! Settings from, in rising precedence: a TOML file, the environment, flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use byok_core::{PathRule, PeriodAnchor, ProviderSpec, SecretValue, UsageThresholds};
use byok_server::{JwtSettings, WebhookSettings, parse_retry_schedule};
use serde::Deserialize;
use thiserror::Error;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://byok.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The proxy's default request body limit: 10 MiB.
pub const DEFAULT_PROXY_MAX_BODY: usize = 10 * 1024 * 1024;
/// How long the proxy waits for the next bytes from a provider by default.
pub const DEFAULT_PROXY_READ_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest (and default) time a client may take to send a request's head, or stay
/// idle between requests.
pub const MAX_HEADER_READ_TIMEOUT_SECS: u64 = 30;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid listen address `{0}`: expected HOST:PORT such as 127.0.0.1:8080")]
    Listen(String),
    #[error("invalid BYOK_LOG_FORMAT `{0}`: expected `text` or `json`")]
    LogFormat(String),
    #[error("invalid {0} `{1}`: expected a whole number")]
    Number(&'static str, String),
    #[error("invalid {0} `{1}`: expected true or false")]
    Bool(&'static str, String),
    #[error("invalid {0}: {1}")]
    Webhooks(&'static str, String),
    #[error("invalid header read timeout `{0}`: expected 1 to 30 seconds")]
    HeaderReadTimeout(String),
    #[error("invalid usage period day `{0}`: expected a day of the month from 1 to 28")]
    PeriodDay(String),
    #[error(
        "BYOK_ADMIN_TOKEN is not a byok admin token: it must be `byok_adm_` and 32 or more letters, digits, `-` or `_`, at most 128 characters in all (mint one with `byok token create --role admin`)"
    )]
    AdminToken,
    #[error("invalid JWT setting: {0}")]
    Jwt(String),
}

/// One layer of settings; every field optional so layers can be merged.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub master_key: Option<String>,
    pub master_keys: Option<String>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub admin_token: Option<String>,
    pub log_format: Option<String>,
    /// Day of the month (1–28, UTC) on which usage periods start.
    pub usage_period_day: Option<u8>,
    /// Connection tests allowed per owner per minute.
    pub probe_rate_per_minute: Option<u32>,
    /// Seconds between re-tests of connected credentials; 0 turns re-testing off.
    pub reverify_interval_secs: Option<u64>,
    /// Providers added to the built-in catalog (config file only).
    pub providers: Option<Vec<ProviderSpec>>,
    /// Largest request body the proxy forwards, in bytes.
    pub proxy_max_body_bytes: Option<u64>,
    /// Seconds the proxy waits for the next bytes from a provider.
    pub proxy_read_timeout_secs: Option<u64>,
    /// Mark the settings page's session cookie `Secure` (serve it over HTTPS).
    pub ui_secure_cookie: Option<bool>,
    /// Per provider, what the proxy forwards instead of the catalog's list (config file only).
    pub proxy_allow: Option<BTreeMap<String, Vec<PathRule>>>,
    /// Per provider, which forwarded requests are polls that count no use, instead of
    /// the catalog's list (config file only).
    pub proxy_polls: Option<BTreeMap<String, Vec<PathRule>>>,
    /// Seconds a client may take to send a request's head (or stay idle between requests).
    pub header_read_timeout_secs: Option<u64>,
    /// Test a newly stored secret in the background right away (default true).
    pub test_new_credentials: Option<bool>,
    /// Test submitted fields before storing them unless a request says `"validate": false`.
    pub validate_on_create: Option<bool>,
    /// The providers the settings page shows (ids of the catalog); all when unset.
    pub ui_providers: Option<Vec<String>>,
    /// The product's own sign-in: the issuer's JWKS (RS256, ES256, EdDSA).
    pub jwt_jwks_url: Option<String>,
    /// The product's own sign-in: an HS256 shared secret (Supabase's legacy JWT secret).
    pub jwt_hs256_secret: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// JSON pointer to the user id (default `/sub`).
    pub jwt_user_claim: Option<String>,
    /// JSON pointer to the org or orgs the user manages.
    pub jwt_orgs_claim: Option<String>,
    /// JSON pointer to the user's role in those orgs.
    pub jwt_org_role_claim: Option<String>,
    /// Comma list of the roles that make the user an org's manager.
    pub jwt_org_admin_roles: Option<String>,
    /// Comma list of the product's origins whose pages may sign people in to the
    /// settings page with a JWT.
    pub ui_sign_in_origins: Option<String>,
    /// Comma list of the fractions of a monthly limit at which usage alerts fire.
    pub usage_alert_thresholds: Option<String>,
    /// Comma list of the seconds before each retry of a failed webhook delivery.
    pub webhook_retry_schedule: Option<String>,
    /// Days delivered and failed webhook deliveries are kept.
    pub webhook_retention_days: Option<u64>,
    /// Seconds one webhook delivery attempt may take.
    pub webhook_timeout_secs: Option<u64>,
    /// Hours a webhook endpoint may fail every attempt before it is disabled.
    pub webhook_disable_after_hours: Option<u64>,
}

impl Layer {
    /// Values from `over` win over `self`'s.
    fn overlay(self, over: Layer) -> Layer {
        Layer {
            master_key: over.master_key.or(self.master_key),
            master_keys: over.master_keys.or(self.master_keys),
            database_url: over.database_url.or(self.database_url),
            listen: over.listen.or(self.listen),
            admin_token: over.admin_token.or(self.admin_token),
            log_format: over.log_format.or(self.log_format),
            usage_period_day: over.usage_period_day.or(self.usage_period_day),
            probe_rate_per_minute: over.probe_rate_per_minute.or(self.probe_rate_per_minute),
            reverify_interval_secs: over.reverify_interval_secs.or(self.reverify_interval_secs),
            providers: over.providers.or(self.providers),
            proxy_max_body_bytes: over.proxy_max_body_bytes.or(self.proxy_max_body_bytes),
            proxy_read_timeout_secs: over.proxy_read_timeout_secs.or(self.proxy_read_timeout_secs),
            ui_secure_cookie: over.ui_secure_cookie.or(self.ui_secure_cookie),
            proxy_allow: over.proxy_allow.or(self.proxy_allow),
            proxy_polls: over.proxy_polls.or(self.proxy_polls),
            header_read_timeout_secs: over.header_read_timeout_secs.or(self.header_read_timeout_secs),
            test_new_credentials: over.test_new_credentials.or(self.test_new_credentials),
            validate_on_create: over.validate_on_create.or(self.validate_on_create),
            ui_providers: over.ui_providers.or(self.ui_providers),
            jwt_jwks_url: over.jwt_jwks_url.or(self.jwt_jwks_url),
            jwt_hs256_secret: over.jwt_hs256_secret.or(self.jwt_hs256_secret),
            jwt_issuer: over.jwt_issuer.or(self.jwt_issuer),
            jwt_audience: over.jwt_audience.or(self.jwt_audience),
            jwt_user_claim: over.jwt_user_claim.or(self.jwt_user_claim),
            jwt_orgs_claim: over.jwt_orgs_claim.or(self.jwt_orgs_claim),
            jwt_org_role_claim: over.jwt_org_role_claim.or(self.jwt_org_role_claim),
            jwt_org_admin_roles: over.jwt_org_admin_roles.or(self.jwt_org_admin_roles),
            ui_sign_in_origins: over.ui_sign_in_origins.or(self.ui_sign_in_origins),
            usage_alert_thresholds: over.usage_alert_thresholds.or(self.usage_alert_thresholds),
            webhook_retry_schedule: over.webhook_retry_schedule.or(self.webhook_retry_schedule),
            webhook_retention_days: over.webhook_retention_days.or(self.webhook_retention_days),
            webhook_timeout_secs: over.webhook_timeout_secs.or(self.webhook_timeout_secs),
            webhook_disable_after_hours: over.webhook_disable_after_hours.or(self.webhook_disable_after_hours),
        }
    }

    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let usage_period_day = get("BYOK_USAGE_PERIOD_DAY")
            .map(|d| d.trim().parse::<u8>().map_err(|_| ConfigError::PeriodDay(d.clone())))
            .transpose()?;
        let number = |name: &'static str| {
            get(name).map(|v| v.trim().parse::<u64>().map_err(|_| ConfigError::Number(name, v.clone()))).transpose()
        };
        let probe_rate_per_minute = number("BYOK_PROBE_RATE_PER_MINUTE")?
            .map(|n| u32::try_from(n).map_err(|_| ConfigError::Number("BYOK_PROBE_RATE_PER_MINUTE", n.to_string())))
            .transpose()?;
        let boolean = |name: &'static str| {
            get(name)
                .map(|v| match v.trim() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(ConfigError::Bool(name, v.clone())),
                })
                .transpose()
        };
        Ok(Layer {
            probe_rate_per_minute,
            ui_secure_cookie: boolean("BYOK_UI_SECURE_COOKIE")?,
            test_new_credentials: boolean("BYOK_TEST_NEW_CREDENTIALS")?,
            validate_on_create: boolean("BYOK_VALIDATE_ON_CREATE")?,
            ui_providers: get("BYOK_UI_PROVIDERS")
                .map(|list| list.split(',').map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()).collect()),
            reverify_interval_secs: number("BYOK_REVERIFY_INTERVAL_SECS")?,
            proxy_max_body_bytes: number("BYOK_PROXY_MAX_BODY_BYTES")?,
            proxy_read_timeout_secs: number("BYOK_PROXY_READ_TIMEOUT_SECS")?,
            header_read_timeout_secs: number("BYOK_HEADER_READ_TIMEOUT_SECS")?,
            providers: None,
            proxy_allow: None,
            proxy_polls: None,
            master_key: get("BYOK_MASTER_KEY"),
            master_keys: get("BYOK_MASTER_KEYS"),
            database_url: get("DATABASE_URL"),
            listen: get("BYOK_LISTEN"),
            admin_token: get("BYOK_ADMIN_TOKEN"),
            log_format: get("BYOK_LOG_FORMAT"),
            usage_period_day,
            jwt_jwks_url: get("BYOK_JWT_JWKS_URL"),
            jwt_hs256_secret: get("BYOK_JWT_HS256_SECRET"),
            jwt_issuer: get("BYOK_JWT_ISSUER"),
            jwt_audience: get("BYOK_JWT_AUDIENCE"),
            jwt_user_claim: get("BYOK_JWT_USER_CLAIM"),
            jwt_orgs_claim: get("BYOK_JWT_ORGS_CLAIM"),
            jwt_org_role_claim: get("BYOK_JWT_ORG_ROLE_CLAIM"),
            jwt_org_admin_roles: get("BYOK_JWT_ORG_ADMIN_ROLES"),
            ui_sign_in_origins: get("BYOK_UI_SIGN_IN_ORIGINS"),
            // Set but empty turns alerts off, so this one is read as given.
            usage_alert_thresholds: env("BYOK_USAGE_ALERT_THRESHOLDS"),
            webhook_retry_schedule: get("BYOK_WEBHOOK_RETRY_SCHEDULE"),
            webhook_retention_days: number("BYOK_WEBHOOK_RETENTION_DAYS")?,
            webhook_timeout_secs: number("BYOK_WEBHOOK_TIMEOUT_SECS")?,
            webhook_disable_after_hours: number("BYOK_WEBHOOK_DISABLE_AFTER_HOURS")?,
        })
    }

    pub fn from_file(path: &Path) -> Result<Layer, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.message().to_owned() })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The merged, checked settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub master_key: Option<String>,
    pub master_keys: Option<String>,
    pub database_url: String,
    /// Whether the database URL came from the settings rather than the default.
    pub database_url_given: bool,
    pub listen: SocketAddr,
    pub admin_token: Option<String>,
    pub log_format: LogFormat,
    pub period_anchor: PeriodAnchor,
    pub probe_rate_per_minute: u32,
    pub reverify_interval: Option<Duration>,
    pub extra_providers: Vec<ProviderSpec>,
    pub proxy_allow: BTreeMap<String, Vec<PathRule>>,
    pub proxy_polls: BTreeMap<String, Vec<PathRule>>,
    pub proxy_max_body_bytes: usize,
    pub proxy_read_timeout: Duration,
    pub ui_secure_cookie: bool,
    pub header_read_timeout: Duration,
    pub test_new_credentials: bool,
    pub validate_on_create: bool,
    /// Checked against the catalog at start-up (which the config file may extend).
    pub ui_providers: Option<Vec<String>>,
    /// The product's own sign-in; `None` when neither a JWKS URL nor a secret is set.
    pub jwt: Option<JwtSettings>,
    /// Origins whose pages may sign people in to the settings page with a JWT.
    pub ui_sign_in_origins: Vec<String>,
    pub webhooks: WebhookSettings,
}

impl Config {
    /// Merges file < environment < flags and checks the result.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: Layer,
    ) -> Result<Config, ConfigError> {
        let file_path =
            file.map(Path::to_owned).or_else(|| env("BYOK_CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from));
        let base = match file_path {
            Some(path) => Layer::from_file(&path)?,
            None => Layer::default(),
        };
        Config::from_layer(base.overlay(Layer::from_env(env)?).overlay(flags))
    }

    pub fn from_layer(layer: Layer) -> Result<Config, ConfigError> {
        let jwt = jwt_settings(&layer)?;
        let webhooks = webhook_settings(&layer)?;
        let listen_text = layer.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| ConfigError::Listen(listen_text.clone()))?;
        let log_format = match layer.log_format.as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(ConfigError::LogFormat(other.to_owned())),
        };
        if let Some(token) = &layer.admin_token
            && !byok_crypto::is_token_shaped(token, "byok_adm_")
        {
            return Err(ConfigError::AdminToken);
        }
        let proxy_max_body_bytes = match layer.proxy_max_body_bytes {
            None => DEFAULT_PROXY_MAX_BODY,
            Some(n @ 1..) => {
                usize::try_from(n).map_err(|_| ConfigError::Number("proxy_max_body_bytes", n.to_string()))?
            }
            Some(0) => return Err(ConfigError::Number("proxy_max_body_bytes", "0".into())),
        };
        let proxy_read_timeout = match layer.proxy_read_timeout_secs {
            None => DEFAULT_PROXY_READ_TIMEOUT,
            Some(0) => return Err(ConfigError::Number("proxy_read_timeout_secs", "0".into())),
            Some(secs) => Duration::from_secs(secs),
        };
        let header_read_timeout = match layer.header_read_timeout_secs {
            None => Duration::from_secs(MAX_HEADER_READ_TIMEOUT_SECS),
            Some(secs @ 1..=MAX_HEADER_READ_TIMEOUT_SECS) => Duration::from_secs(secs),
            Some(secs) => return Err(ConfigError::HeaderReadTimeout(secs.to_string())),
        };
        let day = layer.usage_period_day.unwrap_or(1);
        let period_anchor = PeriodAnchor::new(day).map_err(|_| ConfigError::PeriodDay(day.to_string()))?;
        Ok(Config {
            period_anchor,
            probe_rate_per_minute: layer.probe_rate_per_minute.unwrap_or(10),
            reverify_interval: match layer.reverify_interval_secs {
                Some(0) => None,
                Some(secs) => Some(Duration::from_secs(secs)),
                None => Some(Duration::from_secs(24 * 3600)),
            },
            extra_providers: layer.providers.unwrap_or_default(),
            proxy_allow: layer.proxy_allow.unwrap_or_default(),
            proxy_polls: layer.proxy_polls.unwrap_or_default(),
            proxy_max_body_bytes,
            proxy_read_timeout,
            header_read_timeout,
            ui_secure_cookie: layer.ui_secure_cookie.unwrap_or(false),
            test_new_credentials: layer.test_new_credentials.unwrap_or(true),
            validate_on_create: layer.validate_on_create.unwrap_or(false),
            ui_providers: layer.ui_providers,
            jwt,
            ui_sign_in_origins: sign_in_origins(layer.ui_sign_in_origins.as_deref())?,
            webhooks,
            master_key: layer.master_key,
            master_keys: layer.master_keys,
            database_url_given: layer.database_url.is_some(),
            database_url: layer.database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            listen,
            admin_token: layer.admin_token,
            log_format,
        })
    }
}

/// `BYOK_USAGE_ALERT_THRESHOLDS` and `BYOK_WEBHOOK_*`.
fn webhook_settings(layer: &Layer) -> Result<WebhookSettings, ConfigError> {
    let mut settings = WebhookSettings::default();
    if let Some(list) = &layer.usage_alert_thresholds {
        settings.usage_thresholds = UsageThresholds::parse(list)
            .map_err(|e| ConfigError::Webhooks("BYOK_USAGE_ALERT_THRESHOLDS", e.to_string()))?;
    }
    if let Some(list) = &layer.webhook_retry_schedule {
        settings.retry_schedule =
            parse_retry_schedule(list).map_err(|e| ConfigError::Webhooks("BYOK_WEBHOOK_RETRY_SCHEDULE", e))?;
    }
    let positive = |name: &'static str, value: Option<u64>, unit: u64| match value {
        None => Ok(None),
        Some(0) => Err(ConfigError::Number(name, "0".into())),
        Some(n) => Ok(Some(Duration::from_secs(n.saturating_mul(unit)))),
    };
    if let Some(d) = positive("BYOK_WEBHOOK_RETENTION_DAYS", layer.webhook_retention_days, 24 * 3600)? {
        settings.retention = d;
    }
    if let Some(d) = positive("BYOK_WEBHOOK_TIMEOUT_SECS", layer.webhook_timeout_secs, 1)? {
        settings.timeout = d;
    }
    if let Some(d) = positive("BYOK_WEBHOOK_DISABLE_AFTER_HOURS", layer.webhook_disable_after_hours, 3600)? {
        settings.disable_after = d;
    }
    Ok(settings)
}

/// `BYOK_UI_SIGN_IN_ORIGINS`: each an origin (`https://app.example.com`, no path).
fn sign_in_origins(list: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = list
        .unwrap_or_default()
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    for origin in &origins {
        let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty() || host.contains(['/', '?', '#', '@'])) {
            return Err(ConfigError::Jwt(format!(
                "BYOK_UI_SIGN_IN_ORIGINS: `{origin}` is not an origin such as https://app.example.com"
            )));
        }
    }
    Ok(origins)
}

/// The JWT settings, checked: an http(s) JWKS URL, claims as JSON pointers.
fn jwt_settings(layer: &Layer) -> Result<Option<JwtSettings>, ConfigError> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (jwks_url, secret) = (text(&layer.jwt_jwks_url), text(&layer.jwt_hs256_secret));
    if jwks_url.is_none() && secret.is_none() {
        return Ok(None);
    }
    if let Some(url) = &jwks_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ConfigError::Jwt(format!("BYOK_JWT_JWKS_URL `{url}` is not an http(s) URL")));
    }
    let pointer = |name: &str, v: &Option<String>| match text(v) {
        Some(p) if !p.starts_with('/') => {
            Err(ConfigError::Jwt(format!("{name} `{p}` is not a JSON pointer (it starts with `/`, e.g. `/sub`)")))
        }
        other => Ok(other),
    };
    Ok(Some(JwtSettings {
        jwks_url,
        hs256_secret: secret.map(SecretValue::new),
        issuer: text(&layer.jwt_issuer),
        audience: text(&layer.jwt_audience),
        user_claim: pointer("BYOK_JWT_USER_CLAIM", &layer.jwt_user_claim)?.unwrap_or_else(|| "/sub".to_owned()),
        orgs_claim: pointer("BYOK_JWT_ORGS_CLAIM", &layer.jwt_orgs_claim)?,
        org_role_claim: pointer("BYOK_JWT_ORG_ROLE_CLAIM", &layer.jwt_org_role_claim)?,
        org_admin_roles: text(&layer.jwt_org_admin_roles)
            .map(|roles| roles.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect())
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn jwt_settings_are_read_and_checked() {
        let config = Config::load(
            None,
            &env(&[
                ("BYOK_JWT_JWKS_URL", "https://clerk.example/.well-known/jwks.json"),
                ("BYOK_JWT_ORGS_CLAIM", "/o/id"),
                ("BYOK_JWT_ORG_ADMIN_ROLES", "admin, owner ,"),
            ]),
            Layer::default(),
        )
        .unwrap();
        let jwt = config.jwt.unwrap();
        assert_eq!((jwt.user_claim.as_str(), jwt.orgs_claim.as_deref()), ("/sub", Some("/o/id")));
        assert_eq!(jwt.org_admin_roles, ["admin", "owner"]);
        assert!(Config::load(None, &env(&[]), Layer::default()).unwrap().jwt.is_none(), "off unless configured");
        for (name, value) in [("BYOK_JWT_USER_CLAIM", "sub"), ("BYOK_JWT_JWKS_URL", "file:///etc/jwks.json")] {
            let vars = [("BYOK_JWT_HS256_SECRET", "s3cr3t"), (name, value)];
            let err = Config::load(None, &env(&vars), Layer::default()).unwrap_err();
            assert!(matches!(err, ConfigError::Jwt(_)), "{name}={value}: {err}");
        }
    }

    #[test]
    fn flags_override_env_which_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("byok.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\ndatabase_url = \"sqlite://file.db\"\nlog_format = \"json\"\n")
            .unwrap();
        let env = env(&[("BYOK_LISTEN", "127.0.0.1:2"), ("DATABASE_URL", "sqlite://env.db")]);
        let flags = Layer { listen: Some("127.0.0.1:3".into()), ..Layer::default() };
        let config = Config::load(Some(&file), &env, flags).unwrap();
        assert_eq!(config.listen.port(), 3);
        assert_eq!(config.database_url, "sqlite://env.db");
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn config_file_adds_providers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("byok.toml");
        // The README's example.
        std::fs::write(
            &file,
            r#"
[[providers]]
id = "acme-llm"
name = "Acme LLM"
category = "llm"
base_url = "https://llm.acme.example"
fields = [{ name = "api_key", label = "API key", secret = true, required = true }]
auth = { type = "bearer" }
probe = { path = "/v1/models", errors = { code = ["/error/code"], message = ["/error/message"] } }
"#,
        )
        .unwrap();
        let config = Config::load(Some(&file), &env(&[]), Layer::default()).unwrap();
        let catalog = byok_providers::build_catalog(config.extra_providers).unwrap();
        assert_eq!(catalog.get("acme-llm").unwrap().name, "Acme LLM");
        assert!(catalog.get("openai").is_ok(), "built-in providers stay");
    }

    #[test]
    fn config_file_sets_what_the_proxy_forwards() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("byok.toml");
        // The README's example.
        std::fs::write(
            &file,
            r#"
[proxy_allow]
openai = ["POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models"]
resend = ["POST /emails", "POST /emails/batch"]

[proxy_polls]
runway = ["GET /v1/tasks/*"]
"#,
        )
        .unwrap();
        let config = Config::load(Some(&file), &env(&[]), Layer::default()).unwrap();
        let openai: Vec<&str> = config.proxy_allow["openai"].iter().map(PathRule::as_str).collect();
        assert_eq!(openai, ["POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models"]);
        assert_eq!(config.proxy_polls["runway"].iter().map(PathRule::as_str).collect::<Vec<_>>(), ["GET /v1/tasks/*"]);
        std::fs::write(&file, "[proxy_allow]\nopenai = [\"/v1/models\"]\n").unwrap();
        let err = Config::load(Some(&file), &env(&[]), Layer::default()).unwrap_err();
        assert!(err.to_string().contains("METHODS /path"), "{err}");
    }

    #[test]
    fn deployment_settings_for_connection_tests_and_the_page() {
        let config = Config::load(None, &env(&[]), Layer::default()).unwrap();
        assert!(config.test_new_credentials && !config.validate_on_create && config.ui_providers.is_none());
        let vars = env(&[
            ("BYOK_VALIDATE_ON_CREATE", "true"),
            ("BYOK_TEST_NEW_CREDENTIALS", "false"),
            ("BYOK_UI_PROVIDERS", "openai, anthropic,twilio,resend"),
        ]);
        let config = Config::load(None, &vars, Layer::default()).unwrap();
        assert!(config.validate_on_create && !config.test_new_credentials);
        assert_eq!(config.ui_providers.unwrap(), ["openai", "anthropic", "twilio", "resend"]);
        let err = Config::load(None, &env(&[("BYOK_VALIDATE_ON_CREATE", "yes")]), Layer::default()).unwrap_err();
        assert_eq!(err.to_string(), "invalid BYOK_VALIDATE_ON_CREATE `yes`: expected true or false");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("byok.toml");
        std::fs::write(&file, "validate_on_create = true\nui_providers = [\"openai\", \"resend\"]\n").unwrap();
        let config = Config::load(Some(&file), &env(&[]), Layer::default()).unwrap();
        assert!(config.validate_on_create);
        assert_eq!(config.ui_providers.unwrap(), ["openai", "resend"]);
    }

    #[test]
    fn defaults_and_errors() {
        let config = Config::load(None, &env(&[]), Layer::default()).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert!(!config.database_url_given);
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert!(matches!(
            Config::load(None, &env(&[("BYOK_LISTEN", "nope")]), Layer::default()),
            Err(ConfigError::Listen(_))
        ));
        assert!(matches!(
            Config::load(None, &env(&[("BYOK_ADMIN_TOKEN", "hunter2")]), Layer::default()),
            Err(ConfigError::AdminToken)
        ));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "colour = 1\n").unwrap();
        assert!(matches!(Config::load(Some(&file), &env(&[]), Layer::default()), Err(ConfigError::Parse { .. })));
    }
}
