//! The settings page over plain HTTP: forms need the page's anti-forgery value, other
//! people's credentials are not found, secrets never come back, cards tell the truth.

use byok::config::Layer;
use byok_fakes::{FakeProviders, Scenario, fields};
use serde_json::json;

use crate::both_engines;
use crate::support::{AppOptions, Engine, TEST_KEY, TestApp, TestDb, canary, captured_logs, spawn_app, spawn_with};
use crate::ui::web::Browser;

both_engines!(
    forms_need_the_pages_form_token,
    another_users_credential_is_not_found,
    forms_never_echo_secrets,
    cards_show_status_usage_and_platform_fallback,
    unreadable_forms_are_refused_cleanly,
    cards_are_grouped_and_say_where_a_key_comes_from,
    a_test_under_way_shows_verifying,
    cloud_cards_say_whether_short_lived_tokens_can_be_minted,
);

async fn app_with_fakes(engine: Engine, env: Vec<(String, String)>) -> (TestApp, FakeProviders) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..Layer::default() };
    let mut all_env = fakes.env_vars();
    all_env.extend(env);
    let app =
        spawn_with(TestDb::fresh(engine).await, AppOptions { settings, env: all_env, ..AppOptions::default() }).await;
    (app, fakes)
}

fn good_openai_key() -> String {
    fields("openai", Scenario::Good).unwrap()["api_key"].clone()
}

async fn forms_need_the_pages_form_token(engine: Engine) {
    let app = spawn_app(engine).await;
    let alice = app.user_token("alice", &[]).await;
    let bob = app.user_token("bob", &[]).await;
    let id = app.create_openai(&alice, None, &canary("sk-proj-")).await;
    let browser = Browser::sign_in(&app, &alice).await;
    let csrf = browser.form_token().await;
    let bobs_csrf = Browser::sign_in(&app, &bob).await.form_token().await;
    assert_ne!(csrf, bobs_csrf, "each session has its own form token");
    let path = format!("/ui/credentials/{id}/delete");

    for (fields, headers, why) in [
        (vec![], vec![], "no form token"),
        (vec![("csrf", "0".repeat(64))], vec![], "a wrong form token"),
        (vec![("csrf", bobs_csrf.clone())], vec![], "another session's form token"),
        (vec![("csrf", csrf.clone())], vec![("sec-fetch-site", "cross-site")], "sent from another site"),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = browser.post_with(&path, &fields, &headers).await;
        assert_eq!(r.status, 403, "{why}: {}", r.text);
        assert!(
            r.text.contains("not sent from byok&#39;s settings page")
                || r.text.contains("not sent from byok's settings page"),
            "{}",
            r.text
        );
        assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.status, 200, "{why}: nothing deleted");
    }
    // Without the session cookie: to the sign-in page, nothing deleted.
    let r = Browser::new(&app).post(&path, &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui/login"));
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.status, 200);

    let r = browser.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (303, "/ui?notice=deleted"));
    app.get(&format!("/v1/credentials/{id}"), &alice).await.assert_problem(404, "not_found");
}

async fn another_users_credential_is_not_found(engine: Engine) {
    let app = spawn_app(engine).await;
    let alice = app.user_token("alice", &[]).await;
    let bob = app.user_token("bob", &[]).await;
    let id = app.create_openai(&alice, None, &canary("sk-proj-")).await;
    let before = app.get(&format!("/v1/credentials/{id}"), &alice).await.body;
    let browser = Browser::sign_in(&app, &bob).await;
    let csrf = browser.form_token().await;
    let missing = "0193a000-0000-7000-8000-000000000000";

    let mut bodies = Vec::new();
    for target in [id.as_str(), missing, "not-an-id"] {
        for path in [format!("/ui/credentials/{target}/edit"), format!("/ui/credentials/{target}/delete")] {
            let r = browser.get(&path).await;
            assert_eq!(r.status, 404, "{path}: {}", r.text);
            assert!(r.text.contains("<h1>Not found</h1>"), "{}", r.text);
            bodies.push(r.text);
        }
        for action in ["test", "enabled", "delete", "edit"] {
            let path = format!("/ui/credentials/{target}/{action}");
            let r = browser.post(&path, &[("csrf", &csrf), ("enabled", "false"), ("label", "mine now")]).await;
            assert_eq!(r.status, 404, "{path}: {}", r.text);
        }
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "a foreign id looks exactly like a missing one");
    for path in
        ["/ui/credentials/new?owner=user:alice&provider=openai", "/ui/credentials/new?owner=org:acme&provider=openai"]
    {
        assert_eq!(browser.get(path).await.status, 404, "{path}");
    }
    let r = browser.post("/ui/platform", &[("csrf", &csrf), ("owner", "user:alice"), ("provider", "openai")]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = browser
        .post(
            "/ui/credentials",
            &[
                ("csrf", &csrf),
                ("owner", "user:alice"),
                ("provider", "openai"),
                ("field.api_key", "sk-proj-0123456789abcdef"),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    assert!(!browser.get("/ui").await.text.contains(&id), "bob's page does not list alice's key");
    let after = app.get(&format!("/v1/credentials/{id}"), &alice).await.body;
    assert_eq!(before, after, "alice's credential is untouched");
    let r = app.get("/v1/credentials?owner=user:alice", &alice).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

async fn forms_never_echo_secrets(engine: Engine) {
    let (app, _fakes) = app_with_fakes(engine, Vec::new()).await;
    let alice = app.user_token("alice", &[]).await;
    let browser = Browser::sign_in(&app, &alice).await;
    let csrf = browser.form_token().await;
    let secret = canary("sk-proj-");
    let invalid = fields("openai", Scenario::Invalid).unwrap()["api_key"].clone();
    let mut seen = String::new();

    let form = browser.get("/ui/credentials/new?owner=user:alice&provider=openai").await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(form.text.contains(r#"type="password""#) && form.text.contains(r#"name="field.api_key""#));
    assert!(form.text.contains(r#"<label for="f-api_key">"#), "inputs are labelled");

    // A key the provider refuses: the form comes back with the provider's reason, the
    // public field kept, the secret input empty, nothing stored.
    let r = browser
        .post(
            "/ui/credentials",
            &[
                ("csrf", &csrf),
                ("owner", "user:alice"),
                ("provider", "openai"),
                ("label", "Work"),
                ("field.api_key", &invalid),
                ("field.organization", "org-keepme"),
                ("validate", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains(r#"role="alert""#) && r.text.contains("OpenAI refused the credential"), "{}", r.text);
    assert!(r.text.contains(r#"value="org-keepme""#), "public values are kept");
    assert!(!r.text.contains(&invalid), "the refused secret is not echoed back");
    assert_eq!(app.get("/v1/credentials", &alice).await.body["items"], json!([]));
    seen.push_str(&r.text);

    // Not a number: shown inline too.
    let add = |extra: &'static [(&'static str, &'static str)], key: String| {
        let csrf = csrf.clone();
        let browser = &browser;
        async move {
            let mut form = vec![
                ("csrf", csrf),
                ("owner", "user:alice".into()),
                ("provider", "openai".into()),
                ("field.api_key", key),
            ];
            form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post("/ui/credentials", &form).await
        }
    };
    let r = add(&[("monthly_limit", "lots")], secret.clone()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("invalid monthly limit"), "{}", r.text);
    seen.push_str(&r.text);

    // Saved without a test: sealed, shown only as a hint.
    let r = add(&[("label", "Personal"), ("monthly_limit", "50")], secret.clone()).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.headers["location"].to_str().unwrap().to_owned();
    let id = location.rsplit("#cred-").next().unwrap().to_owned();
    assert!(location.starts_with("/ui?notice=added#cred-"), "{location}");
    let stored = app.get(&format!("/v1/credentials/{id}"), &alice).await.body;
    assert_eq!((stored["label"].as_str(), stored["usage"]["monthly_limit"].as_i64()), (Some("Personal"), Some(50)));
    let hint = stored["secret_hints"]["api_key"].as_str().unwrap().to_owned();

    let page = browser.get("/ui?notice=added").await;
    assert!(page.text.contains("Key added.") && page.text.contains(&hint), "{}", page.text);
    let edit = browser.get(&format!("/ui/credentials/{id}/edit")).await;
    assert_eq!(edit.status, 200);
    assert!(edit.text.contains(&format!("Now {hint}. Leave empty to keep it.")), "{}", edit.text);
    seen.push_str(&page.text);
    seen.push_str(&edit.text);

    // An edit with the secret left empty keeps it; a new one makes a new version.
    let edit_path = format!("/ui/credentials/{id}/edit");
    let r = browser
        .post(&edit_path, &[("csrf", &csrf), ("label", "Renamed"), ("field.api_key", ""), ("monthly_limit", "")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let stored = app.get(&format!("/v1/credentials/{id}"), &alice).await.body;
    assert_eq!((stored["label"].as_str(), stored["version"].as_i64()), (Some("Renamed"), Some(1)));
    assert!(stored["usage"]["monthly_limit"].is_null(), "an emptied limit is removed");
    let newer = canary("sk-proj-");
    let r = browser.post(&edit_path, &[("csrf", &csrf), ("label", "Renamed"), ("field.api_key", &newer)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.body["version"], 2);
    for path in ["/ui".to_owned(), edit_path.clone(), format!("/ui/credentials/{id}/delete")] {
        seen.push_str(&browser.get(&path).await.text);
    }
    for s in [&secret, &newer, &invalid] {
        assert!(!seen.contains(s.as_str()), "a secret appeared in a page");
    }
    let logs = captured_logs();
    assert!(!logs.contains(&secret) && !logs.contains(&newer), "a secret appeared in the logs");
}

async fn cards_show_status_usage_and_platform_fallback(engine: Engine) {
    let platform_key = good_openai_key();
    let (app, _fakes) = app_with_fakes(engine, vec![("OPENAI_API_KEY".into(), platform_key.clone())]).await;
    let alice = app.user_token("alice", &["acme"]).await;
    let svc = app.service_token().await;
    let browser = Browser::sign_in(&app, &alice).await;
    let csrf = browser.form_token().await;

    let page = browser.get("/ui").await.text;
    let platform_note = "Without a key here, byok uses the platform&#39;s OpenAI key from OPENAI_API_KEY";
    let platform_note_plain = "Without a key here, byok uses the platform's OpenAI key from OPENAI_API_KEY";
    assert!(page.contains(platform_note) || page.contains(platform_note_plain), "{page}");
    assert!(!page.contains(&platform_key), "the platform key is shown only as a hint");
    assert_eq!(page.matches(r#"class="card""#).count(), 2 * 13, "a card per provider for alice and for acme");

    // Alice's own key, limited, used three times.
    let r = app
        .post("/v1/credentials", &alice, json!({"provider": "openai", "label": "Mine", "fields": {"api_key": good_openai_key()}, "monthly_limit": 10}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let r = app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice"})).await;
        assert_eq!((r.status, r.body["source"].as_str()), (200, Some("user")), "{}", r.text);
    }
    let page = browser.get("/ui").await.text;
    assert!(page.contains(r#"<progress max="10" value="3""#) && page.contains("3 of 10 requests this month"), "{page}");
    assert!(page.contains("Not verified") && page.contains("Use platform credentials instead"), "{page}");
    assert!(!page.contains("limit-alert"), "no alert at 30 %");
    // Near the limit (80 %), then at it: the card says so.
    for used in 4..=10 {
        let r = app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = browser.get("/ui").await.text;
        let (near, at) = (page.contains("Near its monthly limit"), page.contains("At its monthly limit"));
        assert_eq!((near, at), ((8..10).contains(&used), used == 10), "{used} of 10: {page}");
    }

    // Tested from the page: the result in the card.
    let r = browser.post(&format!("/ui/credentials/{id}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Test: <strong>Connected</strong>"), "{}", r.text);
    assert!(r.text.contains(r#"class="badge badge-connected">Connected"#), "{}", r.text);

    // Disable and enable from the page.
    let r = browser.post(&format!("/ui/credentials/{id}/enabled"), &[("csrf", &csrf), ("enabled", "false")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.body["enabled"], false);
    assert!(browser.get("/ui").await.text.contains(r#"class="badge badge-disabled">Disabled"#));
    for action in ["credential.test", "credential.disable"] {
        let r = app.get(&format!("/v1/audit?action={action}&credential={id}"), &app.admin).await;
        let entry = &r.body["items"][0];
        assert_eq!(
            (entry["actor_role"].as_str(), entry["outcome"].is_string()),
            (Some("user"), true),
            "{action} audited: {}",
            r.text
        );
    }
    let r = browser.post(&format!("/ui/credentials/{id}/enabled"), &[("csrf", &csrf), ("enabled", "true")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.body["enabled"], true);

    // "Use platform credentials instead": alice's key is disabled, resolve falls through.
    let r = browser.post("/ui/platform", &[("csrf", &csrf), ("owner", "user:alice"), ("provider", "openai")]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.body["enabled"], false);
    let r = app.post("/v1/resolve", &svc, json!({"provider": "openai", "user": "alice"})).await;
    assert_eq!((r.status, r.body["source"].as_str()), (200, Some("platform")), "{}", r.text);

    // An org that forbids platform keys is told so, and offered none.
    let r = app
        .send(
            app.client
                .put(app.url("/v1/orgs/acme/policy"))
                .bearer_auth(&svc)
                .json(&json!({"allow_platform_fallback": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let page = browser.get("/ui").await.text;
    assert!(page.contains("This organization uses its own keys only"), "{page}");
    let org_part = &page[page.find("Organization acme").unwrap()..];
    assert!(!org_part.contains("OPENAI_API_KEY"), "no platform offer for acme");
}

async fn unreadable_forms_are_refused_cleanly(engine: Engine) {
    let app = spawn_app(engine).await;
    let alice = app.user_token("alice", &[]).await;
    let id = app.create_openai(&alice, None, &canary("sk-proj-")).await;
    let before = app.get(&format!("/v1/credentials/{id}"), &alice).await.body;
    let browser = Browser::sign_in(&app, &alice).await;
    let csrf = browser.form_token().await;
    let path = format!("/ui/credentials/{id}/enabled");

    let json = format!(r#"{{"csrf":"{csrf}","enabled":"false"}}"#).into_bytes();
    let too_big = format!("csrf={csrf}&enabled=false&pad={}", "x".repeat(70 * 1024)).into_bytes();
    for (content_type, body, status) in [
        ("application/json", json, 415),
        ("application/x-www-form-urlencoded", too_big, 413),
        ("application/x-www-form-urlencoded", format!("csrf={csrf}&enabled=maybe").into_bytes(), 400),
        ("application/x-www-form-urlencoded", format!("csrf={csrf}").into_bytes(), 400),
    ] {
        let r = browser.post_raw(&path, content_type, body).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert!(
            r.headers["content-type"].to_str().unwrap().starts_with("text/html") && r.text.contains("<h1>"),
            "{}",
            r.text
        );
    }
    let r = browser.get("/ui/credentials/new?owner=user:alice").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/credentials/{id}"), &alice).await.body, before, "nothing changed");
}

/// The HTML of one card.
fn card<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("no card {id}: {page}"));
    let end = start + page[start..].find("</article>").unwrap();
    &page[start..end]
}

async fn cards_are_grouped_and_say_where_a_key_comes_from(engine: Engine) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let ui_providers = ["openai", "anthropic", "twilio", "resend"].map(String::from).to_vec();
    let settings =
        Layer { master_key: Some(TEST_KEY.to_owned()), ui_providers: Some(ui_providers), ..Layer::default() };
    let mut env = fakes.env_vars();
    env.push(("OPENAI_API_KEY".into(), good_openai_key()));
    let app = spawn_with(TestDb::fresh(engine).await, AppOptions { settings, env, ..AppOptions::default() }).await;
    let alice = app.user_token("alice", &["acme"]).await;
    let browser = Browser::sign_in(&app, &alice).await;

    let page = browser.get("/ui").await.text;
    // Only the providers the deployment uses, under their groups.
    assert_eq!(page.matches(r#"class="card""#).count(), 2 * 4, "four cards for alice and four for acme");
    for absent in ["card-user-alice-exa", "card-user-alice-runway", "card-org-acme-gcp"] {
        assert!(!page.contains(absent), "{absent} is not shown");
    }
    assert!(page.contains(r#"<h3 class="group-heading" id="g-user-alice-ai">AI</h3>"#), "{page}");
    assert!(page.contains(r#"<h3 class="group-heading" id="g-org-acme-messaging">Messaging</h3>"#), "{page}");
    for group in ["media", "search", "cloud"] {
        assert!(!page.contains(&format!("g-user-alice-{group}")), "no empty {group} group");
    }
    let ai = page.find("g-user-alice-ai").unwrap();
    let messaging = page.find("g-user-alice-messaging").unwrap();
    let openai = page.find("card-user-alice-openai").unwrap();
    let twilio = page.find("card-user-alice-twilio").unwrap();
    assert!(ai < openai && openai < messaging && messaging < twilio, "cards sit under their group");

    // Where a request would find a key, tier by tier.
    assert!(card(&page, "card-user-alice-openai").contains(r#"class="availability available" data-source="platform""#));
    assert!(card(&page, "card-user-alice-anthropic").contains("Not available: no key."));
    let svc = app.service_token().await;
    let org_key = json!({"owner": "org:acme", "provider": "anthropic", "fields": fields("anthropic", Scenario::Good)});
    assert_eq!(app.post("/v1/credentials", &svc, org_key).await.status, 201);
    let mine = json!({"provider": "openai", "fields": {"api_key": good_openai_key()}, "monthly_limit": 0});
    assert_eq!(app.post("/v1/credentials", &alice, mine).await.status, 201);
    let page = browser.get("/ui").await.text;
    assert!(card(&page, "card-org-acme-anthropic").contains(r#"class="availability available" data-source="org""#));
    assert!(card(&page, "card-user-alice-openai").contains("Not available: every key is at its monthly limit."));
}

async fn a_test_under_way_shows_verifying(engine: Engine) {
    let fakes = FakeProviders::start().await.expect("fakes start");
    let settings =
        Layer { master_key: Some(TEST_KEY.to_owned()), test_new_credentials: Some(true), ..Layer::default() };
    let options = AppOptions { settings, env: fakes.env_vars(), ..AppOptions::default() };
    let app = spawn_with(TestDb::fresh(engine).await, options).await;
    let alice = app.user_token("alice", &[]).await;
    let browser = Browser::sign_in(&app, &alice).await;
    let csrf = browser.form_token().await;
    assert!(!browser.get("/ui").await.text.contains("http-equiv"), "no reload while nothing is tested");

    // Added from the page without testing first: tested in the background; the provider
    // has not answered yet, so the card says so and the page reloads itself.
    let hanging = fields("anthropic", Scenario::Hang).unwrap()["api_key"].clone();
    let r = browser
        .post(
            "/ui/credentials",
            &[("csrf", &csrf), ("owner", "user:alice"), ("provider", "anthropic"), ("field.api_key", &hanging)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = browser.get("/ui").await.text;
    assert!(card(&page, "card-user-alice-anthropic").contains(r#"class="badge badge-verifying">Verifying"#), "{page}");
    assert!(page.contains(r#"<meta http-equiv="refresh" content="3">"#), "{page}");
    assert!(!page.contains(&hanging));
}

#[tokio::test]
async fn unknown_ui_providers_refuse_to_start() {
    let db = TestDb::fresh(Engine::Sqlite).await;
    let config = |ids: &[&str]| {
        byok::config::Config::from_layer(Layer {
            master_key: Some(TEST_KEY.to_owned()),
            database_url: Some(db.url.clone()),
            ui_providers: Some(ids.iter().map(|s| s.to_string()).collect()),
            ..Layer::default()
        })
        .unwrap()
    };
    let err = crate::support::open_state(&config(&["openai", "twillio"])).await.err().expect("refused");
    let line = err.to_string();
    assert!(
        line.starts_with("BYOK_UI_PROVIDERS names `twillio`, which the catalog does not have (known: openai,"),
        "{line}"
    );
    let err = crate::support::open_state(&config(&[])).await.err().expect("refused");
    assert!(err.to_string().contains("names no provider"), "{err}");
    assert!(crate::support::open_state(&config(&["openai", "resend"])).await.is_ok());
}

async fn cloud_cards_say_whether_short_lived_tokens_can_be_minted(engine: Engine) {
    let (app, fakes) = app_with_fakes(engine, vec![]).await;
    let alice = app.user_token("alice", &[]).await;
    let browser = Browser::sign_in(&app, &alice).await;
    let csrf = browser.form_token().await;
    let store = |provider: &str, scenario: Scenario| {
        let body = json!({"provider": provider, "fields": fields(provider, scenario).unwrap()});
        let alice = alice.clone();
        let app = &app;
        async move {
            let r = app.post("/v1/credentials", &alice, body).await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    let good = store("azure", Scenario::Good).await;
    let bad = store("gcp", Scenario::Invalid).await;
    store("openai", Scenario::Good).await;
    let page = browser.get("/ui").await.text;
    assert!(card(&page, "card-user-alice-azure").contains("Not tested yet: test the connection to find out."));
    assert!(!card(&page, "card-user-alice-openai").contains("Short-lived tokens"), "only clouds mint them");

    // The test button mints one: a token request reached Entra, and the card says so.
    for id in [&good, &bad] {
        assert_eq!(browser.post(&format!("/ui/credentials/{id}/test"), &[("csrf", &csrf)]).await.status, 200);
    }
    let minted = fakes.requests_to("azure");
    assert_eq!(minted.len(), 1);
    assert!(minted[0].body_text().contains("scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"));
    let page = browser.get("/ui").await.text;
    assert!(card(&page, "card-user-alice-azure").contains("Can be minted (the last test minted one)."), "{page}");
    assert!(card(&page, "card-user-alice-gcp").contains("Cannot be minted: see the last test."), "{page}");
}
