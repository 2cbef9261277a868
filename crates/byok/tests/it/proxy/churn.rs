//! Many short proxied requests on fresh connections leave no file descriptors behind
//! in a real `byok serve` process.

use byok_crypto::generate_token;
use byok_fakes::FakeProviders;
use serde_json::{Value, json};

use super::real_key;
use crate::support::{Engine, ServeProcess, TEST_KEY, TestDb};

const REQUESTS: usize = 600;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc is readable").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_requests_leave_no_file_descriptors_behind() {
    let fakes = FakeProviders::start().await.unwrap();
    let db = TestDb::fresh(Engine::Sqlite).await;
    let admin = generate_token("byok_adm_");
    let mut envs: Vec<(String, String)> = fakes.env_vars();
    envs.extend([
        ("BYOK_MASTER_KEY".to_owned(), TEST_KEY.to_owned()),
        ("DATABASE_URL".to_owned(), db.url.clone()),
        ("BYOK_ADMIN_TOKEN".to_owned(), admin.clone()),
        ("BYOK_REVERIFY_INTERVAL_SECS".to_owned(), "0".to_owned()),
    ]);
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let byok = ServeProcess::start(&envs);
    let setup = reqwest::Client::new();
    let post = |path: &str, token: &str, body: Value| {
        setup.post(format!("{}{path}", byok.base)).bearer_auth(token.to_owned()).json(&body).send()
    };
    let svc: Value = post("/v1/tokens", &admin, json!({"role": "service"})).await.unwrap().json().await.unwrap();
    let svc = svc["token"].as_str().unwrap().to_owned();
    let r = post(
        "/v1/credentials",
        &svc,
        json!({"owner": "user:alice", "provider": "openai", "fields": {"api_key": real_key("openai")}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let vk: Value = post("/v1/tokens", &svc, json!({"role": "virtual", "owner": "user:alice"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vk = vk["token"].as_str().unwrap().to_owned();

    // A new connection for every request.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let url = format!("{}/v1/proxy/openai/v1/chat/completions", byok.base);
    let run = |n: usize| {
        let (client, url, vk) = (client.clone(), url.clone(), vk.clone());
        async move {
            for i in 0..n {
                let body = json!({"model": "gpt-4o-mini", "stream": i % 2 == 0, "messages": []});
                let key = if i % 5 == 4 { "byok_vk_wrong".to_owned() } else { vk.clone() };
                let r = client.post(&url).bearer_auth(key).json(&body).send().await.unwrap();
                let status = r.status().as_u16();
                let _ = r.bytes().await.unwrap();
                assert!(status == 200 || (i % 5 == 4 && status == 401), "request {i}: {status}");
            }
        }
    };
    run(50).await;
    let before = open_fds(byok.pid());
    run(REQUESTS).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = open_fds(byok.pid());
    assert!(after <= before + 8, "file descriptors grew from {before} to {after} over {REQUESTS} requests");
}
