//! Starting the fakes: one listener per provider on `127.0.0.1:0`.

use std::collections::{BTreeMap, HashMap};

use axum::middleware;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::credentials::PROVIDERS;
use crate::providers;
use crate::record::{RecordedRequest, RequestLog, record};

/// The running fakes. Dropping this stops them.
pub struct FakeProviders {
    origins: BTreeMap<&'static str, String>,
    tasks: Vec<JoinHandle<()>>,
    log: RequestLog,
}

impl FakeProviders {
    /// Starts a fake for every provider in [`PROVIDERS`], each on its own port.
    pub async fn start() -> std::io::Result<Self> {
        let log = RequestLog::default();
        let mut origins = BTreeMap::new();
        let mut tasks = Vec::with_capacity(PROVIDERS.len());
        for provider in PROVIDERS {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let origin = format!("http://{}", listener.local_addr()?);
            let app = providers::router(provider, &origin)
                .layer(middleware::from_fn_with_state((log.clone(), provider), record));
            tasks.push(tokio::spawn(async move {
                // A fake that stops serving makes the test that uses it fail.
                let _ = axum::serve(listener, app).await;
            }));
            origins.insert(provider, origin);
        }
        Ok(Self { origins, tasks, log })
    }

    /// The origin (`http://127.0.0.1:PORT`) of the fake for `provider`.
    pub fn base_url(&self, provider: &str) -> Option<&str> {
        self.origins.get(provider).map(String::as_str)
    }

    /// Provider id to origin, for every fake: what byok's base-URL overrides take.
    pub fn base_urls(&self) -> HashMap<String, String> {
        self.origins.iter().map(|(id, origin)| ((*id).to_owned(), origin.clone())).collect()
    }

    /// `BYOK_PROVIDER_<ID>_BASE_URL` for every fake, plus
    /// `BYOK_ALLOW_PRIVATE_NETWORKS=true`, for starting byok against the fakes.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = self
            .origins
            .iter()
            .map(|(id, origin)| (format!("BYOK_PROVIDER_{}_BASE_URL", id.to_ascii_uppercase()), origin.clone()))
            .collect();
        vars.push(("BYOK_ALLOW_PRIVATE_NETWORKS".to_owned(), "true".to_owned()));
        vars
    }

    /// Every request received so far, by all fakes, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log.all()
    }

    /// The requests the fake for `provider` received, in order.
    pub fn requests_to(&self, provider: &str) -> Vec<RecordedRequest> {
        self.log.all().into_iter().filter(|r| r.provider == provider).collect()
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
