use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs to stderr, as text or JSON lines; `RUST_LOG` or `BYOK_LOG` choose levels.
pub fn init(format: LogFormat) {
    let filter = std::env::var("BYOK_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).init(),
    }
}
