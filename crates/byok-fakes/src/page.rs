//! A product's web page on 127.0.0.1: HTML at `/` that a test sets once it knows what the
//! page should do (e.g. post a form to byok the moment it loads).

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

pub struct ProductPage {
    /// The page's URL.
    pub url: String,
    html: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl ProductPage {
    /// Serves an empty page at `/` of `host` (`127.0.0.1`, or `localhost` for a
    /// different origin on the same machine).
    pub async fn start(host: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{host}:{}/", listener.local_addr()?.port());
        let html = Arc::new(Mutex::new(String::new()));
        let app = Router::new().route("/", get(serve)).with_state(html.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, html, task })
    }

    /// From now on the page is `html`.
    pub fn set_html(&self, html: String) {
        *self.html.lock().unwrap_or_else(PoisonError::into_inner) = html;
    }

    /// `scheme://host:port`, as browsers send it in `Origin`.
    pub fn origin(&self) -> String {
        self.url.trim_end_matches('/').to_owned()
    }
}

impl Drop for ProductPage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(html): State<Arc<Mutex<String>>>) -> Html<String> {
    Html(html.lock().unwrap_or_else(PoisonError::into_inner).clone())
}
