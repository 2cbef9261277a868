//! Headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs). Paths can be overridden with
//! `BYOK_TEST_CHROMIUM` and `BYOK_TEST_CHROMEDRIVER`; a missing browser fails the test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

pub struct Chromium {
    pub driver: WebDriver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn start() -> Chromium {
        let chromium = std::env::var("BYOK_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let chromedriver =
            std::env::var("BYOK_TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        for path in [&chromium, &chromedriver] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: install Debian's chromium and chromium-driver (`.ci/run` does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&url).await;
        let profile = tempfile::tempdir().unwrap();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium).unwrap();
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ] {
            caps.add_arg(arg).unwrap();
        }
        let driver = WebDriver::new(&url, caps).await.expect("a Chromium session starts");
        Chromium { driver, chromedriver: child, _profile: profile }
    }

    pub async fn quit(mut self) {
        let _ = self.driver.clone().quit().await;
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
    }
}

async fn wait_until_ready(url: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{url}/status")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
