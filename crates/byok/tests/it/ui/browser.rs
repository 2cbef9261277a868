//! The settings page in headless Chromium: a person signs in, adds a key, tests it,
//! disables and re-enables it, sees a refusal inline, deletes it; no page ever holds
//! the secret.

use byok::config::Layer;
use byok_fakes::{FakeProviders, Scenario, fields};
use thirtyfour::prelude::*;

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestDb, spawn_with};
use crate::ui::chromium::Chromium;

both_engines!(a_person_manages_a_key_in_the_browser);

const CARD: &str = "#card-user-alice-openai";

async fn a_person_manages_a_key_in_the_browser(engine: Engine) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..Layer::default() };
    let options = AppOptions { settings, env: fakes.env_vars(), ..AppOptions::default() };
    let app = spawn_with(TestDb::fresh(engine).await, options).await;
    let token = app.user_token("alice", &["acme"]).await;
    let good = fields("openai", Scenario::Good).unwrap()["api_key"].clone();
    let invalid = fields("openai", Scenario::Invalid).unwrap()["api_key"].clone();

    let chromium = Chromium::start().await;
    let d = &chromium.driver;
    let mut sources = Vec::new();

    // Sign in with the link; the token leaves the address bar.
    d.goto(app.url(&format!("/ui/login?token={token}"))).await.unwrap();
    let url = d.current_url().await.unwrap();
    assert_eq!(url.path(), "/ui");
    assert!(!url.as_str().contains(&token));
    assert_eq!(text(d, "h1").await, "Integrations");
    assert!(text(d, "header").await.contains("Signed in as user:alice"));
    // Providers under what they are for; each card says whether a key is available.
    assert_eq!(text(d, "#g-user-alice-ai").await, "AI");
    assert_eq!(text(d, "#g-org-acme-messaging").await, "MESSAGING", "shown in capitals");
    let ai_group = d.find(By::Css("[aria-labelledby='g-user-alice-ai']")).await.unwrap();
    assert!(ai_group.find(By::Css(CARD)).await.is_ok(), "OpenAI's card is in the AI group");
    assert_eq!(text(d, &format!("{CARD} .availability")).await, "Not available: no key.");

    // Add a key; "Test with OpenAI before saving" is on by default.
    click(d, &format!("{CARD} a.button")).await;
    assert_eq!(text(d, "h1").await, "Add OpenAI key");
    d.find(By::Id("label")).await.unwrap().send_keys("Personal").await.unwrap();
    d.find(By::Id("f-api_key")).await.unwrap().send_keys(&good).await.unwrap();
    d.find(By::Id("monthly_limit")).await.unwrap().send_keys("1000").await.unwrap();
    sources.push(d.source().await.unwrap());
    submit(d).await;
    assert_eq!(text(d, ".notice").await, "Key added.");
    assert_eq!(text(d, &format!("{CARD} .badge")).await, "Connected");
    assert_eq!(text(d, &format!("{CARD} .availability")).await, "Available: your own key is used.");
    let card = text(d, CARD).await;
    assert!(card.contains("Personal") && card.contains("0 of 1000 requests this month"), "{card}");
    sources.push(d.source().await.unwrap());

    // Test connection: the result in the card.
    click(d, &format!("{CARD} form[action$='/test'] button")).await;
    let result = text(d, &format!("{CARD} .test-result")).await;
    assert!(result.starts_with("Test: Connected"), "{result}");
    if let Ok(path) = std::env::var("BYOK_UI_SCREENSHOT") {
        d.screenshot(std::path::Path::new(&path)).await.unwrap();
    }
    sources.push(d.source().await.unwrap());

    // Disable with the keyboard alone, then enable again.
    tab_to(d, "Disable Personal").await;
    let page = d.find(By::Tag("html")).await.unwrap();
    d.action_chain().send_keys(Key::Enter).perform().await.unwrap();
    page.wait_until().stale().await.unwrap();
    assert_eq!(text(d, ".notice").await, "Key disabled.");
    assert_eq!(text(d, &format!("{CARD} .badge")).await, "Disabled");
    click(d, &format!("{CARD} form[action$='/enabled'] button")).await;
    assert_eq!(text(d, ".notice").await, "Key enabled.");
    assert_eq!(text(d, &format!("{CARD} .badge")).await, "Connected");

    // A key OpenAI refuses: the reason inline, the secret input empty, nothing saved.
    click(d, &format!("{CARD} a.button")).await;
    d.find(By::Id("f-api_key")).await.unwrap().send_keys(&invalid).await.unwrap();
    submit(d).await;
    let error = text(d, "#form-error").await;
    assert!(error.contains("OpenAI refused the credential"), "{error}");
    let input = d.find(By::Id("f-api_key")).await.unwrap();
    assert_eq!(input.prop("value").await.unwrap().as_deref(), Some(""));
    assert_eq!(input.attr("type").await.unwrap().as_deref(), Some("password"));
    sources.push(d.source().await.unwrap());

    // Readable on a phone: nothing wider than the screen.
    d.set_window_rect(0, 0, 390, 844).await.unwrap();
    d.goto(app.url("/ui")).await.unwrap();
    let fits =
        d.execute("return document.documentElement.scrollWidth <= window.innerWidth;", Vec::new()).await.unwrap();
    assert_eq!(fits.json(), &serde_json::json!(true), "the page scrolls sideways on a phone-sized screen");
    assert_eq!(
        d.find_all(By::Css(format!("{CARD} .credential"))).await.unwrap().len(),
        1,
        "the refused key was not saved"
    );

    // Delete, with confirmation.
    click(d, &format!("{CARD} a.button.danger")).await;
    assert_eq!(text(d, "h1").await, "Delete Personal?");
    sources.push(d.source().await.unwrap());
    click(d, "form button.danger").await;
    assert_eq!(text(d, ".notice").await, "Key deleted.");
    assert!(text(d, CARD).await.contains("Not connected."));
    sources.push(d.source().await.unwrap());

    for source in &sources {
        assert!(!source.contains(&good) && !source.contains(&invalid), "a secret appeared in a page");
    }
    chromium.quit().await;
}

async fn text(d: &WebDriver, css: &str) -> String {
    d.query(By::Css(css)).first().await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

/// Clicks what `css` finds and waits for the next page to replace this one.
async fn click(d: &WebDriver, css: &str) {
    let page = d.find(By::Tag("html")).await.unwrap();
    d.find(By::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    page.wait_until().stale().await.unwrap_or_else(|e| panic!("no new page after clicking {css}: {e}"));
}

/// Presses Tab until the focused control's accessible text is `label`.
async fn tab_to(d: &WebDriver, label: &str) {
    let mut seen = Vec::new();
    for _ in 0..40 {
        d.action_chain().send_keys(Key::Tab).perform().await.unwrap();
        let focused = d.active_element().await.unwrap().text().await.unwrap();
        let focused = focused.split_whitespace().collect::<Vec<_>>().join(" ");
        if focused == label {
            return;
        }
        seen.push(focused);
    }
    panic!("{label} is not reachable with Tab; focus went through {seen:?}");
}

async fn submit(d: &WebDriver) {
    click(d, "form.stack button[type=submit]").await;
}
