//! An identity provider's JSON Web Key Set (`/.well-known/jwks.json`, as Supabase, Clerk
//! and Auth0 publish theirs) on 127.0.0.1, whose keys a test replaces to rotate them and
//! which counts how often it was fetched.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

type Shared = (Arc<Mutex<Value>>, Arc<AtomicUsize>);

pub struct JwksServer {
    /// The key set's URL.
    pub url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Serves `{"keys": keys}`.
    pub async fn start(keys: Vec<Value>) -> std::io::Result<Self> {
        let keys = Arc::new(Mutex::new(json!({ "keys": keys })));
        let fetches = Arc::new(AtomicUsize::new(0));
        let app = Router::new().route("/.well-known/jwks.json", get(serve)).with_state((keys.clone(), fetches.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, keys, fetches, task })
    }

    /// From now on the set is `{"keys": keys}` (a rotation: new keys in, old ones out).
    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = json!({ "keys": keys });
    }

    /// How many times the set was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State((keys, fetches)): State<Shared>) -> Json<Value> {
    fetches.fetch_add(1, Ordering::SeqCst);
    Json(keys.lock().unwrap_or_else(PoisonError::into_inner).clone())
}
