//! AWS (a SigV4-signed STS GetSessionToken), Google Cloud (service-account JWT grant)
//! and Azure (client-credentials grant): each connection test mints a short-lived
//! credential, as resolve's `"form": "short_lived"` and the proxy do.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use byok_fakes::{RecordedRequest, Scenario};
use byok_providers::ProbeOutcomeKind::{Connected, Invalid, Restricted, Unavailable};

use crate::support::{Harness, assert_kind, key};

fn form_value(req: &RecordedRequest, name: &str) -> Option<String> {
    req.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[tokio::test]
async fn aws_signs_get_session_token_with_sigv4() {
    let h = Harness::start().await;
    let outcome = h.probe("aws", Scenario::Good).await;
    assert_kind(&outcome, Connected);
    assert!(outcome.message.contains("short-lived session"), "{outcome:?}");
    let req = h.only_request("aws");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/"));
    assert_eq!(req.body_text(), "Action=GetSessionToken&DurationSeconds=3600&Version=2011-06-15");
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded; charset=utf-8"));
    let auth = req.header("authorization").unwrap();
    let key_id = key("aws", Scenario::Good, "access_key_id");
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={key_id}/"))
            && auth.contains("/us-east-1/sts/aws4_request"),
        "{auth}"
    );
    assert!(req.header("x-amz-date").is_some());
    assert_eq!(req.header("x-amz-security-token"), None);
}

#[tokio::test]
async fn aws_signs_for_the_configured_region_and_sends_the_session_token() {
    let h = Harness::start().await;
    let mut fields = byok_fakes::fields("aws", Scenario::Good).unwrap();
    fields.insert("region".into(), "eu-west-1".into());
    assert_kind(&h.probe_fields("aws", fields).await, Connected);
    let auth = h.only_request("aws").header("authorization").unwrap().to_owned();
    assert!(auth.contains("/eu-west-1/sts/aws4_request"), "{auth}");

    let expired = h.probe("aws", Scenario::AwsExpiredToken).await;
    assert_kind(&expired, Invalid);
    assert!(expired.message.contains("ExpiredToken"), "{expired:?}");
    let req = h.sent("aws").pop().unwrap();
    assert!(req.header("x-amz-security-token").is_some());
    let auth = req.header("authorization").unwrap();
    assert!(auth.contains("x-amz-security-token"), "the token is signed: {auth}");
}

#[tokio::test]
async fn aws_errors_map_to_outcomes() {
    let h = Harness::start().await;
    let wrong_secret = h.probe("aws", Scenario::Invalid).await;
    assert_kind(&wrong_secret, Invalid);
    assert!(wrong_secret.message.contains("SignatureDoesNotMatch"), "{wrong_secret:?}");
    let unknown = h.probe("aws", Scenario::AwsUnknownKey).await;
    assert_kind(&unknown, Invalid);
    assert!(unknown.message.contains("InvalidClientTokenId"), "{unknown:?}");
    let denied = h.probe("aws", Scenario::Restricted).await;
    assert_kind(&denied, Restricted);
    assert!(denied.message.contains("AccessDenied"), "{denied:?}");
    // STS throttles with a 400: still not the key's fault.
    let throttled = h.probe("aws", Scenario::RateLimited).await;
    assert_kind(&throttled, Unavailable);
    assert!(throttled.message.contains("Throttling"), "{throttled:?}");
}

#[tokio::test]
async fn gcp_posts_a_signed_jwt_to_the_providers_own_token_endpoint() {
    let h = Harness::start().await;
    assert_kind(&h.probe("gcp", Scenario::Good).await, Connected);
    let req = h.only_request("gcp");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/token"));
    assert_eq!(form_value(&req, "grant_type").as_deref(), Some("urn:ietf:params:oauth:grant-type:jwt-bearer"));
    let assertion = form_value(&req, "assertion").unwrap();
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    // The audience is the origin byok called, not the key file's token_uri.
    let origin = h.fakes.base_url("gcp").unwrap();
    assert_eq!(claims["aud"], format!("{origin}/token"));
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    let key_file: serde_json::Value =
        serde_json::from_str(&key("gcp", Scenario::Good, "service_account_json")).unwrap();
    assert_eq!(claims["iss"], key_file["client_email"]);
}

#[tokio::test]
async fn gcp_wrong_keys_and_malformed_key_files_are_invalid() {
    let h = Harness::start().await;
    let wrong_key = h.probe("gcp", Scenario::Invalid).await;
    assert_kind(&wrong_key, Invalid);
    assert!(wrong_key.message.contains("invalid_grant"), "{wrong_key:?}");

    for (file, says) in [
        ("{\"type\": \"service_account\", \"oops\"}", "not valid JSON"),
        (
            "{\"type\": \"service_account\", \"client_email\": \"a@b.c\", \"private_key\": \"canary-not-a-key-0123456789\"}",
            "PKCS#8",
        ),
    ] {
        let fields = [("service_account_json".to_owned(), file.to_owned())].into();
        let outcome = h.probe_fields("gcp", fields).await;
        assert_kind(&outcome, Invalid);
        assert!(outcome.message.contains(says), "{outcome:?}");
    }
    assert_eq!(h.sent("gcp").len(), 1, "malformed key files are never sent");
}

#[tokio::test]
async fn azure_asks_entra_id_for_a_token_with_client_credentials() {
    let h = Harness::start().await;
    assert_kind(&h.probe("azure", Scenario::Good).await, Connected);
    let fields = byok_fakes::fields("azure", Scenario::Good).unwrap();
    let req = h.only_request("azure");
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/{}/oauth2/v2.0/token", fields["tenant_id"]));
    assert_eq!(form_value(&req, "client_id"), Some(fields["client_id"].clone()));
    assert_eq!(form_value(&req, "client_secret"), Some(fields["client_secret"].clone()));
    assert_eq!(form_value(&req, "grant_type").as_deref(), Some("client_credentials"));
    assert_eq!(form_value(&req, "scope").as_deref(), Some("https://cognitiveservices.azure.com/.default"));
}

#[tokio::test]
async fn azure_bad_secrets_and_unknown_tenants_are_invalid() {
    let h = Harness::start().await;
    let secret = h.probe("azure", Scenario::Invalid).await;
    assert_kind(&secret, Invalid);
    assert_eq!(
        secret.message,
        "Microsoft Azure rejected the credentials: Invalid client secret provided \
         (invalid_client, AADSTS7000215, HTTP 401)."
    );
    let tenant = h.probe("azure", Scenario::AzureUnknownTenant).await;
    assert_kind(&tenant, Invalid);
    assert!(tenant.message.contains("AADSTS90002"), "{tenant:?}");
}
