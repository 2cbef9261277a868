//! The proxy with virtual keys, against the fake providers: what reaches the provider,
//! what comes back, what is counted, and how refusals look to each provider's SDK.

mod audited;
mod budgets;
mod cache;
mod canary;
mod churn;
mod failover;
mod forwarding;
mod keys;
mod messaging_sdk;
mod minute_limits;
mod models;
mod quota;
mod refusals;
mod sdk;
mod sdk_cloud;
mod sdk_llm;
mod sdk_media;
mod sdk_search;
mod streaming;
mod surface;

use byok::config::Layer;
use byok_fakes::{FakeProviders, RecordedRequest, Scenario, fields};
use serde_json::{Value, json};

use crate::support::{AppOptions, Engine, Resp, ServeProcess, TEST_KEY, TestApp, TestDb, spawn_serve, spawn_with};

/// byok started against the fakes, with a service token.
pub struct World {
    pub app: TestApp,
    pub fakes: FakeProviders,
    pub svc: String,
}

pub async fn world(engine: Engine) -> World {
    world_with(engine, Layer::default()).await
}

pub async fn world_with(engine: Engine, settings: Layer) -> World {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..settings };
    let options = AppOptions { settings, env: fakes.env_vars(), ..AppOptions::default() };
    let app = spawn_with(TestDb::fresh(engine).await, options).await;
    let svc = app.service_token().await;
    World { app, fakes, svc }
}

/// A [`world`] whose byok is a real `byok serve` process, configured through its
/// environment as a deployment is: what the SDK tests run against.
pub async fn served_world(engine: Engine) -> World {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let app = spawn_serve(TestDb::fresh(engine).await, fakes.env_vars()).await;
    let svc = app.service_token().await;
    World { app, fakes, svc }
}

/// The key the fake for `provider` accepts.
pub fn real_key(provider: &str) -> String {
    fields(provider, Scenario::Good).expect("a good key")["api_key"].clone()
}

impl World {
    /// Stores a working credential for `owner` and returns its id.
    pub async fn credential(&self, owner: &str, provider: &str, limit: Option<i64>) -> String {
        let mut body = json!({"owner": owner, "provider": provider, "fields": fields(provider, Scenario::Good)});
        if let Some(limit) = limit {
            body["monthly_limit"] = json!(limit);
        }
        let token = if owner == "platform" { self.app.admin.clone() } else { self.svc.clone() };
        let r = self.app.post("/v1/credentials", &token, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Mints a virtual key for `providers` (none given: `["*"]`); returns (id, key).
    pub async fn virtual_key(&self, owner: &str, providers: &[&str], limit: Option<i64>) -> (String, String) {
        let providers = if providers.is_empty() { &["*"][..] } else { providers };
        let mut body = json!({"role": "virtual", "owner": owner, "providers": providers});
        if let Some(limit) = limit {
            body["monthly_limit"] = json!(limit);
        }
        let r = self.app.post("/v1/tokens", &self.svc, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert!(r.body["token"].as_str().unwrap().starts_with("byok_vk_"));
        (r.body["id"].as_str().unwrap().to_owned(), r.body["token"].as_str().unwrap().to_owned())
    }

    pub fn proxy_url(&self, provider: &str, path: &str) -> String {
        self.app.url(&format!("/v1/proxy/{provider}{path}"))
    }

    /// `POST` a JSON body through the proxy with `Authorization: Bearer key`.
    pub async fn post_json(&self, provider: &str, path: &str, key: &str, body: &Value) -> Resp {
        self.app.send(self.app.client.post(self.proxy_url(provider, path)).bearer_auth(key).json(body)).await
    }

    /// The same request sent straight to the fake with the real key.
    pub async fn direct(&self, provider: &str, sent: &RecordedRequest) -> Resp {
        let origin = self.fakes.base_url(provider).unwrap();
        let mut req = self.app.client.request(sent.method.parse().unwrap(), format!("{origin}{}", sent.path));
        for (name, value) in &sent.headers {
            if name != "host" && name != "content-length" {
                req = req.header(name, value);
            }
        }
        self.app.send(req.body(sent.body.clone())).await
    }

    /// The last request the fake for `provider` received.
    pub fn last_sent(&self, provider: &str) -> RecordedRequest {
        self.fakes.requests_to(provider).pop().expect("the fake received a request")
    }

    /// Waits (briefly) until `GET path` satisfies `done`: usage is written just after
    /// the answer ends.
    pub async fn eventually(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.app.eventually(path, done).await
    }
}

/// Asserts that no header, the query or the body of `sent` contains `secret`.
pub fn assert_absent(sent: &RecordedRequest, secret: &str) {
    for (name, value) in &sent.headers {
        assert!(!value.contains(secret), "the key reached the provider in header {name}");
    }
    assert!(!sent.query.as_deref().unwrap_or("").contains(secret), "the key reached the provider in the query");
    assert!(!sent.body_text().contains(secret), "the key reached the provider in the body");
}

/// Real `byok serve` processes against the fakes, on one fresh database.
pub struct Processes {
    /// Kept running while the processes call them.
    _fakes: FakeProviders,
    pub db: TestDb,
    pub admin: String,
    envs: Vec<(String, String)>,
}

/// What [`Processes::owner`] made: a service token and a virtual key for the owner,
/// whose one working OpenAI credential is `credential`.
pub struct Owned {
    pub svc: String,
    pub credential: String,
    pub vk: String,
}

impl Processes {
    pub async fn new(engine: Engine) -> Processes {
        let fakes = FakeProviders::start().await.expect("fakes start");
        let db = TestDb::fresh(engine).await;
        let admin = byok_crypto::generate_token("byok_adm_");
        let mut envs = fakes.env_vars();
        envs.extend([
            ("BYOK_MASTER_KEY".to_owned(), TEST_KEY.to_owned()),
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("BYOK_ADMIN_TOKEN".to_owned(), admin.clone()),
            ("BYOK_REVERIFY_INTERVAL_SECS".to_owned(), "0".to_owned()),
        ]);
        Processes { _fakes: fakes, db, admin, envs }
    }

    /// One more environment variable for the processes started from now on.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.envs.push((name.to_owned(), value.to_owned()));
    }

    pub fn start(&self) -> ServeProcess {
        let envs: Vec<(&str, &str)> = self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ServeProcess::start(&envs)
    }

    /// Through `byok`: a service token, a working OpenAI credential for `owner` and a
    /// virtual key of `owner`.
    pub async fn owner(&self, byok: &ServeProcess, owner: &str) -> Owned {
        let client = reqwest::Client::new();
        let post = |path: &str, token: &str, body: Value| {
            client.post(format!("{}{path}", byok.base)).bearer_auth(token.to_owned()).json(&body).send()
        };
        let created = |r: reqwest::Response| async move {
            assert_eq!(r.status(), 201);
            let body: Value = r.json().await.unwrap();
            body
        };
        let svc = created(post("/v1/tokens", &self.admin, json!({"role": "service"})).await.unwrap()).await;
        let svc = svc["token"].as_str().unwrap().to_owned();
        let body = json!({"owner": owner, "provider": "openai", "fields": {"api_key": real_key("openai")}});
        let credential = created(post("/v1/credentials", &svc, body).await.unwrap()).await;
        let vk = json!({"role": "virtual", "owner": owner, "providers": ["openai"]});
        let vk = created(post("/v1/tokens", &svc, vk).await.unwrap()).await;
        Owned {
            svc,
            credential: credential["id"].as_str().unwrap().to_owned(),
            vk: vk["token"].as_str().unwrap().to_owned(),
        }
    }
}
