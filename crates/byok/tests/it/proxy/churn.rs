//! Many short proxied requests on fresh connections leave no file descriptors behind
//! in a real `byok serve` process.

use serde_json::json;

use super::Processes;
use crate::support::Engine;

const REQUESTS: usize = 600;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc is readable").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_requests_leave_no_file_descriptors_behind() {
    let world = Processes::new(Engine::Sqlite).await;
    let byok = world.start();
    let vk = world.owner(&byok, "user:alice").await.vk;

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
