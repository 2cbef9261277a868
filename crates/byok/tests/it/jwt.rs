//! The product's own sign-in: JWTs minted with PyJWT, shaped like Supabase's, Clerk's
//! and Auth0's, act as user tokens on the API (with the orgs they say the user
//! administers); the issuer's JWKS is served by a local fake that rotates its key; every
//! refusal answers 401 with its own code and is audited without the token.

use std::sync::Arc;

use byok::config::Layer;
use byok_core::{ManualClock, Timestamp};
use byok_fakes::JwksServer;
use serde_json::{Value, json};

use crate::both_engines;
use crate::support::{AppOptions, Engine, Resp, TEST_KEY, TestApp, TestDb, python_json, spawn_with};

both_engines!(
    supabase_tokens_with_the_legacy_secret_or_the_projects_keys,
    clerk_session_tokens_carry_the_active_org_and_role,
    auth0_tokens_with_namespaced_claims,
    every_refusal_has_its_own_code_and_is_audited,
    a_rotated_signing_key_is_fetched_at_most_every_30_seconds,
);

const HS256_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

/// Keys and tokens made by `jwt_tokens.py` (PyJWT) from `spec`.
pub(crate) fn mint(spec: Value) -> Value {
    python_json("jwt_tokens.py", &spec)
}

pub(crate) fn now() -> i64 {
    Timestamp::now().millis() / 1000
}

/// The issuer's key set, serving the public keys `kids` of `minted`.
async fn jwks(minted: &Value, kids: &[&str]) -> JwksServer {
    JwksServer::start(kids.iter().map(|kid| minted["jwks"][kid].clone()).collect()).await.expect("JWKS starts")
}

async fn app(engine: Engine, jwt: Layer, clock: Option<Arc<ManualClock>>) -> TestApp {
    let settings = Layer { master_key: Some(TEST_KEY.to_owned()), reverify_interval_secs: Some(0), ..jwt };
    let mut options = AppOptions {
        settings,
        env: vec![("BYOK_ALLOW_PRIVATE_NETWORKS".into(), "true".into())],
        ..AppOptions::default()
    };
    if let Some(clock) = clock {
        options.clock = clock;
    }
    spawn_with(TestDb::fresh(engine).await, options).await
}

async fn list(app: &TestApp, jwt: &str) -> Resp {
    app.get("/v1/credentials", jwt).await
}

/// Stores an OpenAI key for `owner` with the JWT; the answer.
async fn store_for(app: &TestApp, jwt: &str, owner: &str) -> Resp {
    let label = uuid::Uuid::new_v4().simple().to_string();
    let body = json!({"owner": owner, "provider": "openai", "label": label,
                      "fields": {"api_key": "sk-proj-jwt-test-key-0123456789"}});
    app.post("/v1/credentials", jwt, body).await
}

async fn supabase_tokens_with_the_legacy_secret_or_the_projects_keys(engine: Engine) {
    let user = "0b9a6e8c-3f0a-4c5e-9d2b-1e7f6a5c4d3b";
    let issuer = "https://abcdefghijklmnop.supabase.co/auth/v1";
    let claims = |exp: i64| {
        json!({"aud": "authenticated", "exp": exp, "iat": now(), "iss": issuer, "sub": user,
               "email": "alice@example.com", "role": "authenticated", "aal": "aal1", "session_id": "5c7f"})
    };
    let minted = mint(json!({
        "keys": [{"kid": "supabase-es256", "alg": "ES256"}],
        "hs256_secret": HS256_SECRET,
        "tokens": {
            "legacy": {"alg": "HS256", "claims": claims(now() + 3600)},
            "asymmetric": {"alg": "ES256", "kid": "supabase-es256", "claims": claims(now() + 3600)},
        }
    }));
    let keys = jwks(&minted, &["supabase-es256"]).await;
    let settings = Layer {
        jwt_jwks_url: Some(keys.url.clone()),
        jwt_hs256_secret: Some(HS256_SECRET.into()),
        jwt_issuer: Some(issuer.into()),
        jwt_audience: Some("authenticated".into()),
        ..Layer::default()
    };
    let app = app(engine, settings, None).await;
    for name in ["legacy", "asymmetric"] {
        let token = minted["tokens"][name].as_str().unwrap();
        let r = store_for(&app, token, &format!("user:{user}")).await;
        assert_eq!(r.status, 201, "{name}: {}", r.text);
        let stored = if name == "legacy" { 1 } else { 2 };
        assert_eq!(list(&app, token).await.body["items"].as_array().map(Vec::len), Some(stored), "one user's keys");
        // A user token, nothing more: no other user's keys, no service's call.
        store_for(&app, token, "user:bob").await.assert_problem(403, "forbidden");
        let resolve = app.post("/v1/resolve", token, json!({"provider": "openai", "user": user})).await;
        resolve.assert_problem(403, "forbidden");
    }
}

async fn clerk_session_tokens_carry_the_active_org_and_role(engine: Engine) {
    let issuer = "https://clerk.acme.example";
    let claims = |role: &str| {
        json!({"azp": "https://app.acme.example", "exp": now() + 60, "fva": [0, -1], "iat": now(), "iss": issuer,
               "nbf": now() - 10, "sid": "sess_2abc", "sub": "user_2NNEqL2nrIRdJ194ndJqAHwEfxC", "v": 2,
               "o": {"id": "org_2abcDEF", "rol": role, "slg": "acme"}})
    };
    let minted = mint(json!({
        "keys": [{"kid": "ins_2abc", "alg": "RS256"}],
        "tokens": {
            "admin": {"alg": "RS256", "kid": "ins_2abc", "claims": claims("admin")},
            "member": {"alg": "RS256", "kid": "ins_2abc", "claims": claims("member")},
        }
    }));
    let keys = jwks(&minted, &["ins_2abc"]).await;
    let settings = Layer {
        jwt_jwks_url: Some(keys.url.clone()),
        jwt_issuer: Some(issuer.into()),
        jwt_orgs_claim: Some("/o/id".into()),
        jwt_org_role_claim: Some("/o/rol".into()),
        jwt_org_admin_roles: Some("admin".into()),
        ..Layer::default()
    };
    let app = app(engine, settings, None).await;
    let admin = minted["tokens"]["admin"].as_str().unwrap();
    let member = minted["tokens"]["member"].as_str().unwrap();
    assert_eq!(store_for(&app, admin, "org:org_2abcDEF").await.status, 201, "an org admin manages the org's keys");
    store_for(&app, member, "org:org_2abcDEF").await.assert_problem(403, "forbidden");
    assert_eq!(store_for(&app, member, "user:user_2NNEqL2nrIRdJ194ndJqAHwEfxC").await.status, 201);
    assert_eq!(keys.fetches(), 1, "the key set is fetched once and cached");
}

async fn auth0_tokens_with_namespaced_claims(engine: Engine) {
    let issuer = "https://acme.us.auth0.com/";
    let audience = "https://api.acme.example";
    let minted = mint(json!({
        "keys": [{"kid": "auth0-k1", "alg": "RS256"}],
        "tokens": {"user": {"alg": "RS256", "kid": "auth0-k1", "claims": {
            "iss": issuer, "sub": "auth0|5f7c8ec7c33c6c004bbafe82", "aud": [audience, "https://acme.us.auth0.com/userinfo"],
            "iat": now(), "exp": now() + 86400, "scope": "openid profile", "azp": "Xy1z",
            "https://acme.example/orgs": ["acme", "beta"], "https://acme.example/role": "owner"}}}
    }));
    let keys = jwks(&minted, &["auth0-k1"]).await;
    let settings = Layer {
        jwt_jwks_url: Some(keys.url.clone()),
        jwt_issuer: Some(issuer.into()),
        jwt_audience: Some(audience.into()),
        jwt_orgs_claim: Some("/https:~1~1acme.example~1orgs".into()),
        jwt_org_role_claim: Some("/https:~1~1acme.example~1role".into()),
        jwt_org_admin_roles: Some("admin, owner".into()),
        ..Layer::default()
    };
    let app = app(engine, settings, None).await;
    let token = minted["tokens"]["user"].as_str().unwrap();
    let r = store_for(&app, token, "user:auth0|5f7c8ec7c33c6c004bbafe82").await;
    assert_eq!(r.status, 201, "Auth0's subject ids are owners as they are: {}", r.text);
    assert_eq!(r.body["owner"], "user:auth0|5f7c8ec7c33c6c004bbafe82");
    for org in ["org:acme", "org:beta"] {
        assert_eq!(store_for(&app, token, org).await.status, 201, "{org}");
    }
}

async fn every_refusal_has_its_own_code_and_is_audited(engine: Engine) {
    let issuer = "https://issuer.example";
    let claims = |overrides: Value| {
        let mut c = json!({"iss": issuer, "aud": "byok", "sub": "alice", "iat": now(), "exp": now() + 600});
        for (k, v) in overrides.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let signed = |o: Value| json!({"alg": "RS256", "kid": "k1", "claims": claims(o)});
    let minted = mint(json!({
        "keys": [{"kid": "k1", "alg": "RS256"}, {"kid": "k-ed", "alg": "EdDSA"}, {"kid": "k-elsewhere", "alg": "EdDSA"}],
        "tokens": {
            "good": signed(json!({})),
            "eddsa": {"alg": "EdDSA", "kid": "k-ed", "claims": claims(json!({}))},
            "within_leeway": signed(json!({"exp": now() - 30, "nbf": now() + 30})),
            "none": {"alg": "none", "claims": claims(json!({}))},
            "confused": {"alg": "HS256-with-public-key", "kid": "k1", "claims": claims(json!({}))},
            "unknown_kid": {"alg": "EdDSA", "kid": "k-elsewhere", "claims": claims(json!({}))},
            "issuer": signed(json!({"iss": "https://evil.example"})),
            "audience": signed(json!({"aud": "someone-else"})),
            "expired": signed(json!({"exp": now() - 120})),
            "not_yet": signed(json!({"nbf": now() + 600})),
            "no_user": signed(json!({"sub": null})),
            "bad_user": signed(json!({"sub": "alice smith"})),
        }
    }));
    let keys = jwks(&minted, &["k1", "k-ed"]).await;
    let settings = Layer {
        jwt_jwks_url: Some(keys.url.clone()),
        jwt_issuer: Some(issuer.into()),
        jwt_audience: Some("byok".into()),
        ..Layer::default()
    };
    let app = app(engine, settings, None).await;
    let token = |name: &str| minted["tokens"][name].as_str().unwrap().to_owned();
    for good in ["good", "eddsa", "within_leeway"] {
        assert_eq!(list(&app, &token(good)).await.status, 200, "{good}: RS256, EdDSA, 60 s of leeway");
    }
    for (name, code) in [
        ("none", "jwt_algorithm"),
        ("confused", "jwt_algorithm"),
        ("unknown_kid", "jwt_unknown_key"),
        ("issuer", "jwt_issuer"),
        ("audience", "jwt_audience"),
        ("expired", "jwt_expired"),
        ("not_yet", "jwt_not_yet_valid"),
        ("no_user", "jwt_user"),
        ("bad_user", "jwt_user"),
    ] {
        list(&app, &token(name)).await.assert_problem(401, code);
    }
    let refused = app.get("/v1/audit?action=auth.refused&limit=100", &app.admin).await;
    let entries = refused.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 9, "{}", refused.text);
    for name in ["none", "confused", "expired", "bad_user"] {
        assert!(!refused.text.contains(&token(name)), "a token in the audit log");
    }
}

async fn a_rotated_signing_key_is_fetched_at_most_every_30_seconds(engine: Engine) {
    let issuer = "https://issuer.example";
    let claims = json!({"iss": issuer, "sub": "alice", "exp": now() + 3600});
    let minted = mint(json!({
        "keys": [{"kid": "old", "alg": "RS256"}, {"kid": "new", "alg": "ES256"}],
        "tokens": {
            "old": {"alg": "RS256", "kid": "old", "claims": claims},
            "new": {"alg": "ES256", "kid": "new", "claims": claims},
        }
    }));
    let keys = jwks(&minted, &["old"]).await;
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let settings = Layer { jwt_jwks_url: Some(keys.url.clone()), jwt_issuer: Some(issuer.into()), ..Layer::default() };
    let app = app(engine, settings, Some(clock.clone())).await;
    let (old, new) = (minted["tokens"]["old"].as_str().unwrap(), minted["tokens"]["new"].as_str().unwrap());
    assert_eq!(list(&app, old).await.status, 200);

    // The issuer rotates: the new key appears and the old one is gone.
    keys.set_keys(vec![minted["jwks"]["new"].clone()]);
    // Within 30 s of the last fetch an unknown kid is refused without fetching again.
    list(&app, new).await.assert_problem(401, "jwt_unknown_key");
    list(&app, new).await.assert_problem(401, "jwt_unknown_key");
    assert_eq!(keys.fetches(), 1);
    assert_eq!(list(&app, old).await.status, 200, "the cached old key still verifies until the next fetch");

    clock.set(Timestamp::from_millis(clock_now(&clock) + 31_000));
    assert_eq!(list(&app, new).await.status, 200, "fetched again: the new key verifies");
    assert_eq!(keys.fetches(), 2);
    list(&app, old).await.assert_problem(401, "jwt_unknown_key");
}

fn clock_now(clock: &ManualClock) -> i64 {
    byok_core::Clock::now(clock).millis()
}
