//! The product's page signs its user in to the settings page with the JWT of its own
//! sign-in: posted in a form (never a URL), accepted only from the product's configured
//! origins (login CSRF), kept in the usual HttpOnly cookie.

use byok::config::Layer;
use byok_fakes::ProductPage;
use serde_json::json;
use thirtyfour::prelude::*;

use crate::both_engines;
use crate::jwt::{mint, now};
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, spawn_with};
use crate::ui::chromium::Chromium;

both_engines!(a_products_page_signs_its_user_in_with_its_jwt, only_the_products_pages_may_sign_anyone_in);

const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

/// byok with HS256 sign-in from `product`'s origin, and JWTs for alice, mallory and an
/// expired one.
async fn setup(engine: Engine, product: &ProductPage) -> (TestApp, serde_json::Value) {
    let settings = Layer {
        master_key: Some(TEST_KEY.to_owned()),
        reverify_interval_secs: Some(0),
        jwt_hs256_secret: Some(SECRET.into()),
        ui_sign_in_origins: Some(product.origin()),
        ..Layer::default()
    };
    let app = spawn_with(TestDb::fresh(engine).await, AppOptions { settings, ..AppOptions::default() }).await;
    let token = |sub: &str, exp: i64| json!({"alg": "HS256", "claims": {"sub": sub, "exp": exp}});
    let minted = mint(json!({"hs256_secret": SECRET, "tokens": {
        "alice": token("alice", now() + 3600), "mallory": token("mallory", now() + 3600),
        "expired": token("alice", now() - 300)}}));
    (app, minted)
}

/// A page that posts `jwt` to byok's JWT sign-in the moment it loads.
fn posting(app: &TestApp, jwt: &str) -> String {
    format!(
        r#"<!doctype html><html><body><form id="f" method="post" action="{}"><input type="hidden" name="jwt" value="{jwt}"></form><script>document.getElementById("f").submit()</script></body></html>"#,
        app.url("/ui/login/jwt")
    )
}

async fn a_products_page_signs_its_user_in_with_its_jwt(engine: Engine) {
    let product = ProductPage::start("127.0.0.1").await.unwrap();
    let attacker = ProductPage::start("localhost").await.unwrap();
    let (app, minted) = setup(engine, &product).await;
    let (alice, mallory) = (minted["tokens"]["alice"].as_str().unwrap(), minted["tokens"]["mallory"].as_str().unwrap());
    product.set_html(posting(&app, alice));
    attacker.set_html(posting(&app, mallory));

    let chromium = Chromium::start().await;
    let d = &chromium.driver;
    // Another site's page cannot sign the visitor in as its own user (login CSRF).
    d.goto(&attacker.url).await.unwrap();
    wait_for(d, "h1").await;
    assert!(d.source().await.unwrap().contains("This page may not sign you in"));
    d.goto(app.url("/ui")).await.unwrap();
    assert_eq!(d.current_url().await.unwrap().path(), "/ui/login", "still signed out");

    // The product's page signs alice in; the JWT is in no URL, and no page shows it.
    d.goto(&product.url).await.unwrap();
    wait_for(d, "header .who").await;
    let url = d.current_url().await.unwrap();
    assert_eq!(url.path(), "/ui");
    assert!(!url.as_str().contains(alice));
    let header = d.find(By::Css("header .who")).await.unwrap().text().await.unwrap();
    assert_eq!(header, "Signed in as user:alice");
    assert!(!d.source().await.unwrap().contains(alice));
    chromium.quit().await;
}

/// Waits until an element matching `css` is on the page.
async fn wait_for(d: &WebDriver, css: &str) {
    d.query(By::Css(css))
        .wait(std::time::Duration::from_secs(10), std::time::Duration::from_millis(50))
        .first()
        .await
        .unwrap();
}

async fn only_the_products_pages_may_sign_anyone_in(engine: Engine) {
    let product = ProductPage::start("127.0.0.1").await.unwrap();
    let (app, minted) = setup(engine, &product).await;
    let token = |name: &str| minted["tokens"][name].as_str().unwrap().to_owned();
    let post = |origin: Option<String>, jwt: String| {
        let mut req = app.client.post(app.url("/ui/login/jwt")).form(&[("jwt", jwt)]);
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        app.send(req)
    };
    assert_eq!(post(None, token("alice")).await.status, 403, "no origin");
    assert_eq!(post(Some("http://localhost:9".into()), token("alice")).await.status, 403, "another origin");
    assert_eq!(post(Some(product.origin()), token("expired")).await.status, 401);
    let byok_token = app.user_token("alice", &[]).await;
    assert_eq!(post(Some(product.origin()), byok_token).await.status, 422, "only a JWT here");

    let r = post(Some(product.origin()), token("alice")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cookie = r.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/ui"),
        "{cookie}"
    );
    let max_age: i64 = cookie.split("Max-Age=").nth(1).and_then(|v| v.split(';').next()).unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&max_age), "the session ends with the JWT: {max_age}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = app.send(app.client.get(app.url("/ui")).header("cookie", session)).await;
    assert!(page.text.contains("Signed in as <strong>user:alice</strong>"), "{}", page.text);

    // A JWT pasted into the token form is judged like any sign-in token.
    let pasted = app.send(app.client.post(app.url("/ui/login")).form(&[("token", token("expired"))])).await;
    assert_eq!(pasted.status, 401, "{}", pasted.text);
    assert!(pasted.text.contains("That sign-in link is not valid"), "the sign-in form again: {}", pasted.text);

    let refused = app.get("/v1/audit?action=auth.refused&limit=100", &app.admin).await;
    assert_eq!(refused.body["items"].as_array().unwrap().len(), 4, "{}", refused.text);
    assert!(!refused.text.contains(&token("alice")) && !refused.text.contains(&token("expired")));
}
