//! Signing in to the settings page: the cookie, the URL, and the session's end.

use std::time::Duration;

use byok::config::Layer;
use byok_core::{Role, Timestamp, Token, TokenId};
use byok_crypto::{generate_token, hash_token};
use serde_json::json;

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, spawn_app, spawn_with};
use crate::ui::web::{Browser, form_token_in};

both_engines!(
    login_csrf_another_site_signs_in_only_with_a_one_time_link,
    sign_in_sets_a_strict_cookie_and_drops_the_token,
    session_ends_with_the_token,
    sign_out_forgets_the_cookie
);

async fn mint_user(app: &TestApp, extra: serde_json::Value) -> (String, String) {
    let mut body = json!({"role": "user", "owner": "user:alice", "manage_orgs": ["acme"]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app.post("/v1/tokens", &app.admin, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (r.body["id"].as_str().unwrap().to_owned(), r.body["token"].as_str().unwrap().to_owned())
}

async fn refusals(app: &TestApp) -> usize {
    let r = app.get("/v1/audit?action=auth.refused", &app.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().len()
}

async fn login_csrf_another_site_signs_in_only_with_a_one_time_link(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, token) = mint_user(&app, json!({"expires_in": 3600})).await;
    let browser = Browser::new(&app);
    let before = refusals(&app).await;
    // Another site (or a sibling subdomain) cannot sign a visitor in as whoever's token it holds.
    for site in ["cross-site", "same-site"] {
        let r = browser.get_from(&format!("/ui/login?token={token}"), site).await;
        assert_eq!(r.status, 403, "{site}: {}", r.text);
        assert!(r.headers.get("set-cookie").is_none(), "{site} signed the browser in");
        let r = browser.post_with("/ui/login", &[("token", &token)], &[("sec-fetch-site", site)]).await;
        assert_eq!(r.status, 403, "{site} form: {}", r.text);
        assert!(r.headers.get("set-cookie").is_none());
    }
    assert_eq!(refusals(&app).await, before + 4, "each refused sign-in is audited");
    // Typed, pasted or from byok's own page, the token signs in as before.
    for site in ["none", "same-origin"] {
        assert_eq!(browser.get_from(&format!("/ui/login?token={token}"), site).await.status, 303, "{site}");
    }

    // The product's backend asks for a one-time link: it works from the product's site once.
    let r =
        app.post("/v1/tokens", &app.admin, json!({"role": "user", "owner": "user:bob", "sign_in_link": true})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let link = r.body["sign_in_url"].as_str().unwrap().to_owned();
    assert_eq!(link, format!("/ui/login?token={}", r.body["token"].as_str().unwrap()));
    let first = browser.get_from(&link, "cross-site").await;
    assert_eq!(first.status, 303, "{}", first.text);
    assert!(first.headers["set-cookie"].to_str().unwrap().starts_with("byok_session=byok_usr_"));
    assert_eq!(browser.get_from(&link, "cross-site").await.status, 403, "a link signs in from another site once");
    assert_eq!(browser.get_from(&link, "same-origin").await.status, 303, "the token itself stays valid");

    // A link expires a minute after it is made.
    let store = byok_store::connect(&app.db().url).await.unwrap();
    let (secret, token) = user_token("user:carol");
    let expired =
        byok_store::Change::InsertToken { token, sign_in_link_until: Some(Timestamp::now().plus_seconds(-1)) };
    assert!(store.commit_change(&expired, &[], &[]).await.unwrap());
    assert_eq!(browser.get_from(&format!("/ui/login?token={secret}"), "cross-site").await.status, 403);

    // Only user tokens get links.
    let r = app.post("/v1/tokens", &app.admin, json!({"role": "service", "sign_in_link": true})).await;
    r.assert_problem(422, "invalid_field");
}

fn user_token(owner: &str) -> (String, Token) {
    let secret = generate_token("byok_usr_");
    let token = Token {
        id: TokenId::new(),
        hash: hash_token(&secret),
        role: Role::User,
        owner: Some(owner.parse().unwrap()),
        manage_orgs: Vec::new(),
        name: None,
        created_at: Timestamp::now(),
        expires_at: None,
        revoked_at: None,
    };
    (secret, token)
}

async fn sign_in_sets_a_strict_cookie_and_drops_the_token(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, token) = mint_user(&app, json!({"expires_in": 3600})).await;
    let anonymous = Browser::new(&app);

    let r = anonymous.get(&format!("/ui/login?token={token}")).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers["location"], "/ui", "the token leaves the address bar");
    assert_eq!(r.headers["referrer-policy"], "no-referrer");
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with(&format!("byok_session={token};")), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} missing: {cookie}");
    }
    let max_age: i64 = cookie.split("; ").find_map(|a| a.strip_prefix("Max-Age=")).expect("Max-Age").parse().unwrap();
    assert!((3590..=3600).contains(&max_age), "the cookie expires with the token: {max_age}");
    assert!(!cookie.contains("Secure"), "Secure is off unless configured: {cookie}");

    let browser = Browser::sign_in(&app, &token).await;
    let page = browser.get("/ui").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(page.text.contains("Signed in as <strong>user:alice</strong>"), "{}", page.text);
    assert!(page.text.contains("Your integrations") && page.text.contains("Organization acme"));
    assert!(!page.text.contains(&token), "the page never shows the token");

    // The sign-in form does the same as the link.
    let r = anonymous.post("/ui/login", &[("token", &token)]).await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui"));

    // No session: to the sign-in page.
    let r = anonymous.get("/ui").await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui/login"));

    // Refused sign-ins: a made-up token, a service token. Each is audited.
    let before = refusals(&app).await;
    let service = app.service_token().await;
    for bad in ["byok_usr_0000000000000000000000000000000000000000000000000000000000000000", service.as_str()] {
        let r = anonymous.get(&format!("/ui/login?token={bad}")).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.text.contains("That sign-in link is not valid"), "{}", r.text);
        assert!(r.headers.get("set-cookie").is_none());
        assert!(!r.text.contains(bad), "a refused token is not echoed");
    }
    let r = anonymous.post("/ui/login", &[("token", "")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(refusals(&app).await, before + 2);
}

async fn session_ends_with_the_token(engine: Engine) {
    let app = spawn_app(engine).await;
    let (id, token) = mint_user(&app, json!({})).await;
    let browser = Browser::sign_in(&app, &token).await;
    assert_eq!(browser.get("/ui").await.status, 200);
    assert_eq!(app.delete(&format!("/v1/tokens/{id}"), &app.admin).await.status, 204);
    let r = browser.get("/ui").await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui/login"), "revoked: signed out");

    let (_, short) = mint_user(&app, json!({"expires_in": 1})).await;
    let browser = Browser::sign_in(&app, &short).await;
    assert_eq!(browser.get("/ui").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = browser.get("/ui").await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui/login"), "expired: signed out");
}

async fn sign_out_forgets_the_cookie(engine: Engine) {
    let app = spawn_app(engine).await;
    let (_, token) = mint_user(&app, json!({})).await;
    let browser = Browser::sign_in(&app, &token).await;
    let r = browser.post("/ui/logout", &[]).await;
    assert_eq!(r.status, 403, "signing out needs the form token too: {}", r.text);
    let csrf = browser.form_token().await;
    let r = browser.post("/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui/login"));
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("byok_session=;") && cookie.contains("Max-Age=0"), "{cookie}");
    assert_eq!(form_token_in(&browser.get("/ui").await.text), csrf, "the token itself stays valid");
}

#[tokio::test]
async fn secure_cookie_when_configured() {
    let settings = Layer {
        master_key: Some(TEST_KEY.to_owned()),
        reverify_interval_secs: Some(0),
        ui_secure_cookie: Some(true),
        ..Layer::default()
    };
    let app = spawn_with(TestDb::fresh(Engine::Sqlite).await, AppOptions { settings, ..AppOptions::default() }).await;
    let token = app.user_token("alice", &[]).await;
    let r = Browser::new(&app).get(&format!("/ui/login?token={token}")).await;
    assert!(r.headers["set-cookie"].to_str().unwrap().ends_with("; Secure"), "{:?}", r.headers["set-cookie"]);
}
