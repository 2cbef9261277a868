//! A product's webhook receiver on 127.0.0.1: records every delivery (headers and body)
//! and answers with the statuses a test scripts (`500, 500, 200`), then 204; or holds
//! each request without answering, as a receiver that hangs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Delivered {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Delivered>>,
    script: Mutex<VecDeque<u16>>,
    hang: AtomicBool,
}

pub struct WebhookReceiver {
    /// Where deliveries go.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let app = Router::new().route("/hooks", post(receive)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, shared, task })
    }

    /// The next answers, in order; 204 after them.
    pub fn answer_with(&self, statuses: &[u16]) {
        lock(&self.shared.script).extend(statuses);
    }

    /// Holds every request from now on without answering.
    pub fn hang(&self) {
        self.shared.hang.store(true, Ordering::SeqCst);
    }

    /// Answers requests from now on (those held so far stay held).
    pub fn answer_normally(&self) {
        self.shared.hang.store(false, Ordering::SeqCst);
    }

    /// What arrived so far, in order (hung requests included).
    pub fn received(&self) -> Vec<Delivered> {
        lock(&self.shared.received).clone()
    }

    /// Waits up to `within` until `count` deliveries arrived; then what arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Delivered> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    lock(&shared.received).push(Delivered { headers, body: String::from_utf8_lossy(&body).into_owned() });
    if shared.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let status = lock(&shared.script).pop_front().unwrap_or(204);
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
