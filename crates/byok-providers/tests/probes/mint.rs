//! Short-lived credentials minted from the clouds' stored keys: a Google access token
//! (JWT grant for the asked scope), an Entra token (client credentials for the asked
//! scope), an STS session (GetSessionToken, or AssumeRole with `role_arn`).

use byok_core::Timestamp;
use byok_fakes::Scenario;
use byok_providers::ProbeOutcomeKind::{Invalid, Restricted, Unavailable};

use crate::support::{Harness, key};

/// Minted now, valid for about `secs` seconds.
fn expires_in(at: Timestamp, secs: i64) {
    let left = (at.millis() - Timestamp::now().millis()) / 1000;
    assert!((secs - 60..=secs).contains(&left), "expires in {left} s, not about {secs} s");
}

#[tokio::test]
async fn google_mints_an_access_token_for_the_scope_asked() {
    let h = Harness::start().await;
    let good = byok_fakes::fields("gcp", Scenario::Good).unwrap();
    let minted = h.mint("gcp", good.clone(), None).await.unwrap();
    assert!(minted.fields["access_token"].expose().starts_with("ya29."));
    assert_eq!(minted.fields["token_type"].expose(), "Bearer");
    expires_in(minted.expires_at, 3599);
    let scope = "https://www.googleapis.com/auth/devstorage.read_only";
    let other = h.mint("gcp", good, Some(scope)).await.unwrap();
    assert_ne!(other.fields["access_token"].expose(), minted.fields["access_token"].expose());
    let claims: Vec<serde_json::Value> = h
        .sent("gcp")
        .iter()
        .map(|r| {
            let form = r.form();
            let jwt = &form.iter().find(|(k, _)| k == "assertion").unwrap().1;
            let payload = jwt.split('.').nth(1).unwrap();
            serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(claims[0]["scope"], "https://www.googleapis.com/auth/cloud-platform", "the default scope");
    assert_eq!(claims[1]["scope"], scope);

    let refused = h.mint("gcp", byok_fakes::fields("gcp", Scenario::Good).unwrap(), Some("email")).await.unwrap_err();
    assert_eq!(refused.kind, Unavailable, "{refused:?}");
    assert!(refused.message.contains("invalid_scope"), "{refused:?}");
    let invalid = h.mint("gcp", byok_fakes::fields("gcp", Scenario::Invalid).unwrap(), None).await.unwrap_err();
    assert_eq!(invalid.kind, Invalid, "{invalid:?}");
}

#[tokio::test]
async fn azure_mints_an_entra_token_for_azure_openai_by_default() {
    let h = Harness::start().await;
    let good = byok_fakes::fields("azure", Scenario::Good).unwrap();
    let minted = h.mint("azure", good.clone(), None).await.unwrap();
    assert!(minted.fields["access_token"].expose().starts_with("eyJ"));
    expires_in(minted.expires_at, 3599);
    let scope = |i: usize| h.sent("azure")[i].form().into_iter().find(|(k, _)| k == "scope").unwrap().1;
    assert_eq!(scope(0), "https://cognitiveservices.azure.com/.default");
    h.mint("azure", good.clone(), Some("https://management.azure.com/.default")).await.unwrap();
    assert_eq!(scope(1), "https://management.azure.com/.default");

    let refused = h.mint("azure", good, Some("https://cognitiveservices.azure.com/user_impersonation")).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.kind, Unavailable, "{refused:?}");
    assert!(refused.message.contains("AADSTS1002012"), "{refused:?}");
    let invalid = h.mint("azure", byok_fakes::fields("azure", Scenario::Invalid).unwrap(), None).await.unwrap_err();
    assert_eq!(invalid.kind, Invalid, "{invalid:?}");
}

#[tokio::test]
async fn aws_mints_a_session_or_assumes_the_role() {
    let h = Harness::start().await;
    let good = byok_fakes::fields("aws", Scenario::Good).unwrap();
    let session = h.mint("aws", good.clone(), None).await.unwrap();
    let field = |name: &str| session.fields[name].expose().to_owned();
    assert!(field("access_key_id").starts_with("ASIA"));
    assert_ne!(field("access_key_id"), key("aws", Scenario::Good, "access_key_id"), "a new key, not the stored one");
    assert!(!field("secret_access_key").is_empty() && !field("session_token").is_empty());
    expires_in(session.expires_at, 3600);
    let sent = h.sent("aws");
    assert_eq!(sent[0].body_text(), "Action=GetSessionToken&DurationSeconds=3600&Version=2011-06-15");
    assert!(sent[0].header("authorization").unwrap().contains("/us-east-1/sts/aws4_request"));

    let mut with_role = good.clone();
    with_role.insert("role_arn".into(), "arn:aws:iam::123456789012:role/video-jobs".into());
    let assumed = h.mint("aws", with_role, None).await.unwrap();
    assert_ne!(assumed.fields["access_key_id"].expose(), field("access_key_id"));
    assert_eq!(
        h.sent("aws")[1].body_text(),
        "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fvideo-jobs&RoleSessionName=byok\
         &DurationSeconds=3600&Version=2011-06-15"
    );

    let mut other_account = good;
    other_account.insert("role_arn".into(), "arn:aws:iam::210987654321:role/x".into());
    let denied = h.mint("aws", other_account, None).await.unwrap_err();
    assert_eq!(denied.kind, Restricted, "{denied:?}");
    assert!(denied.message.contains("AccessDenied"), "{denied:?}");
    let invalid = h.mint("aws", byok_fakes::fields("aws", Scenario::Invalid).unwrap(), None).await.unwrap_err();
    assert_eq!(invalid.kind, Invalid, "{invalid:?}");
}

#[tokio::test]
async fn providers_without_short_lived_credentials_say_so() {
    let h = Harness::start().await;
    let catalog = byok_providers::builtin_catalog().unwrap();
    for id in ["aws", "azure", "gcp"] {
        assert!(byok_providers::mints_short_lived(catalog.get(id).unwrap()), "{id}");
    }
    assert!(!byok_providers::mints_short_lived(catalog.get("openai").unwrap()));
    let failure = h.mint("openai", byok_fakes::fields("openai", Scenario::Good).unwrap(), None).await.unwrap_err();
    assert_eq!(failure.kind, Unavailable);
    assert!(h.sent("openai").is_empty(), "nothing was sent");
}
