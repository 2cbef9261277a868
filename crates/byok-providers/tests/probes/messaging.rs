//! Twilio (account, then the sending number) and Resend (domains, then the
//! from-address domain).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use byok_fakes::Scenario;
use byok_providers::ProbeOutcomeKind::{Connected, Invalid, Restricted};

use crate::support::{Harness, assert_kind, key};

#[tokio::test]
async fn twilio_checks_the_account_then_that_the_number_can_send_sms() {
    let h = Harness::start().await;
    let outcome = h.probe("twilio", Scenario::Good).await;
    assert_kind(&outcome, Connected);
    assert!(outcome.message.contains("+15005550006 can send SMS"), "{outcome:?}");

    let sent = h.sent("twilio");
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let sid = key("twilio", Scenario::Good, "account_sid");
    let token = key("twilio", Scenario::Good, "auth_token");
    let basic = format!("Basic {}", STANDARD.encode(format!("{sid}:{token}")));
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].path, format!("/2010-04-01/Accounts/{sid}.json"));
    assert_eq!(sent[1].path, format!("/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json"));
    assert_eq!(sent[1].query.as_deref(), Some("PhoneNumber=%2B15005550006"));
    for req in &sent {
        assert_eq!(req.header("authorization"), Some(basic.as_str()));
    }
}

#[tokio::test]
async fn twilio_without_a_number_checks_only_the_account() {
    let h = Harness::start().await;
    let mut fields = byok_fakes::fields("twilio", Scenario::Good).unwrap();
    fields.remove("phone_number");
    assert_kind(&h.probe_fields("twilio", fields).await, Connected);
    assert_eq!(h.sent("twilio").len(), 1);
}

#[tokio::test]
async fn twilio_numbers_that_cannot_send_are_restricted() {
    let h = Harness::start().await;
    let foreign = h.probe("twilio", Scenario::TwilioNumberNotOnAccount).await;
    assert_kind(&foreign, Restricted);
    assert!(foreign.message.contains("+15005550009 is not a phone number of this account"), "{foreign:?}");
    let voice_only = h.probe("twilio", Scenario::TwilioNumberWithoutSms).await;
    assert_kind(&voice_only, Restricted);
    assert!(voice_only.message.contains("+15005550001 cannot send SMS"), "{voice_only:?}");
    let suspended = h.probe("twilio", Scenario::Restricted).await;
    assert_kind(&suspended, Restricted);
    assert!(suspended.message.contains("suspended"), "{suspended:?}");
}

#[tokio::test]
async fn twilio_bad_credentials_are_invalid_with_twilios_code() {
    let h = Harness::start().await;
    let outcome = h.probe("twilio", Scenario::Invalid).await;
    assert_kind(&outcome, Invalid);
    assert!(outcome.message.contains("20003"), "{outcome:?}");
    assert_eq!(h.sent("twilio").len(), 1, "no number check after a rejection");
}

#[tokio::test]
async fn resend_lists_domains_and_checks_the_from_domain() {
    let h = Harness::start().await;
    let outcome = h.probe("resend", Scenario::Good).await;
    assert_kind(&outcome, Connected);
    assert!(outcome.message.contains("example.com is verified"), "{outcome:?}");
    let req = h.only_request("resend");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/domains"));
    let k = key("resend", Scenario::Good, "api_key");
    assert_eq!(req.header("authorization"), Some(format!("Bearer {k}").as_str()));
    assert!(req.header("user-agent").is_some_and(|ua| ua.starts_with("byok/")));
}

#[tokio::test]
async fn a_resend_sending_only_key_is_restricted_not_invalid() {
    let h = Harness::start().await;
    let outcome = h.probe("resend", Scenario::Restricted).await;
    assert_kind(&outcome, Restricted);
    assert!(
        outcome.message.contains("restricted_api_key") && outcome.message.contains("restricted to only send emails"),
        "{outcome:?}"
    );
    let invalid = h.probe("resend", Scenario::Invalid).await;
    assert_kind(&invalid, Invalid);
    assert!(invalid.message.contains("invalid_api_key"), "{invalid:?}");
}

#[tokio::test]
async fn resend_from_domains_must_be_verified() {
    let h = Harness::start().await;
    let pending = h.probe("resend", Scenario::ResendDomainUnverified).await;
    assert_kind(&pending, Restricted);
    assert!(pending.message.contains("pending.example.org is pending"), "{pending:?}");
    let unknown = h.probe("resend", Scenario::ResendDomainUnknown).await;
    assert_kind(&unknown, Restricted);
    assert!(unknown.message.contains("elsewhere.example.net is not one of"), "{unknown:?}");
    let mut fields = byok_fakes::fields("resend", Scenario::Good).unwrap();
    fields.remove("from_email");
    assert_kind(&h.probe_fields("resend", fields).await, Connected);
}
