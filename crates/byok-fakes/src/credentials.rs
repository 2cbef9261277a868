//! The credentials the fakes know, per provider and scenario. Every value matches the
//! built-in catalog's field patterns, so the same fields pass byok's API validation.

use std::collections::BTreeMap;

use serde_json::json;

/// The provider ids the fakes serve, in catalog order.
pub const PROVIDERS: [&str; 13] = [
    "openai",
    "anthropic",
    "gemini",
    "groq",
    "openrouter",
    "stability",
    "runway",
    "exa",
    "twilio",
    "resend",
    "aws",
    "azure",
    "gcp",
];

/// What a fake should answer, chosen by the credential sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// A working credential: the provider's success answer (for Twilio with an
    /// SMS-capable number, for Resend with a verified from-domain).
    Good,
    /// A credential the provider rejects with its documented invalid-credential answer.
    Invalid,
    /// The provider answers 500 with its documented server-error body.
    ServerError,
    /// The provider answers 429 with its documented rate-limit body.
    RateLimited,
    /// The provider never answers in time (the handler sleeps for a minute).
    Hang,
    /// A valid credential that may not do this: OpenAI's key without the models scope,
    /// Anthropic's `permission_error`, Gemini's blocked key, Exa's exhausted credits,
    /// Resend's sending-only key, AWS `AccessDenied`, a suspended Twilio account.
    Restricted,
    /// Twilio: good credentials, a number that is not on the account.
    TwilioNumberNotOnAccount,
    /// Twilio: good credentials, a number of the account without SMS.
    TwilioNumberWithoutSms,
    /// Resend: full-access key, from-address on a domain still `pending`.
    ResendDomainUnverified,
    /// Resend: full-access key, from-address on a domain the account does not have.
    ResendDomainUnknown,
    /// AWS: an access key id STS does not know (`InvalidClientTokenId`).
    AwsUnknownKey,
    /// AWS: temporary credentials whose session has expired (`ExpiredToken`).
    AwsExpiredToken,
    /// Azure: a tenant that does not exist (`AADSTS90002`).
    AzureUnknownTenant,
}

/// How a fake behaves for a credential; anything it does not know is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Good,
    ServerError,
    RateLimited,
    Hang,
    Restricted,
}

/// Tags that mark a key's behaviour. They are not words, so that no provider message
/// ever shares a word with a key (byok drops provider text that does).
const BEHAVIOURS: [(Behaviour, &str); 5] = [
    (Behaviour::Good, "ok"),
    (Behaviour::ServerError, "se"),
    (Behaviour::RateLimited, "rl"),
    (Behaviour::Hang, "hg"),
    (Behaviour::Restricted, "rs"),
];
const INVALID_TAG: &str = "nv";

pub(crate) const TWILIO_ACCOUNT_SID: &str = "ACfa4efa4efa4efa4efa4efa4efa4efa4e";
pub(crate) const TWILIO_SMS_NUMBER: &str = "+15005550006";
pub(crate) const TWILIO_VOICE_ONLY_NUMBER: &str = "+15005550001";
const TWILIO_FOREIGN_NUMBER: &str = "+15005550009";

pub(crate) const RESEND_VERIFIED_DOMAIN: &str = "example.com";
pub(crate) const RESEND_PENDING_DOMAIN: &str = "pending.example.org";

pub(crate) const AWS_SECRET_ACCESS_KEY: &str = "fakeSecretAccessKey/0123456789+abcdefghi";
pub(crate) const AWS_EXPIRED_KEY_ID: &str = "ASIAFAKEEXPIRED00000";
pub(crate) const AWS_SESSION_TOKEN: &str = "FwoGZXIvYXdzEFakeSessionToken0123456789";

pub(crate) const AZURE_TENANT_ID: &str = "fa4e0000-0000-4000-8000-000000000001";
pub(crate) const AZURE_CLIENT_ID: &str = "fa4e0000-0000-4000-8000-0000000000c1";
const AZURE_UNKNOWN_TENANT_ID: &str = "fa4e0000-0000-4000-8000-00000000dead";

pub(crate) const GCP_KEY_PEM: &str = include_str!("../fixtures/gcp-service-account-key.pem");
const GCP_UNREGISTERED_KEY_PEM: &str = include_str!("../fixtures/gcp-unregistered-key.pem");

/// The value a fake reads to choose its behaviour, for `tag` (`ok`, `se` …).
fn key(provider: &str, tag: &str) -> Option<String> {
    Some(match provider {
        "openai" => format!("sk-proj-fake{tag}0123456789abcdef"),
        "anthropic" => format!("sk-ant-api03-fake{tag}0123456789abcdef"),
        "gemini" => format!("AIzaSyFake{tag}0123456789abcdefghijklmn"),
        "groq" => format!("gsk_fake{tag}0123456789abcdef"),
        "openrouter" => format!("sk-or-v1-fake{tag}0123456789abcdef"),
        "stability" => format!("sk-fake{tag}0123456789abcdef"),
        "runway" => format!("key_fake{tag}0123456789abcdef"),
        "exa" => format!("fake-exa-{tag}-0123456789abcdef"),
        "resend" => format!("re_fake{tag}_0123456789"),
        // Twilio auth tokens are 32 hex digits.
        "twilio" => format!("{:0>32}", format!("fa4e{:x}", tag_number(tag))),
        // AWS access key ids: AKIA and 16 capitals or digits.
        "aws" => format!("{:0<20}", format!("AKIAFAKE{}", tag.to_ascii_uppercase())),
        "azure" => format!("fake~{tag}~Q8x0123456789abcdefgh"),
        "gcp" => format!("byok-fake-{tag}@byok-fake.iam.gserviceaccount.com"),
        _ => return None,
    })
}

fn tag_number(tag: &str) -> u32 {
    tag.bytes().fold(0, |n, b| n.wrapping_mul(31).wrapping_add(u32::from(b)))
}

/// How the fake for `provider` treats `key` (the api key, Twilio's auth token, AWS's
/// access key id, Azure's client secret, or the Google service account's email).
pub(crate) fn behaviour(provider: &str, key_value: &str) -> Option<Behaviour> {
    BEHAVIOURS.iter().find(|(_, tag)| key(provider, tag).as_deref() == Some(key_value)).map(|(behaviour, _)| *behaviour)
}

/// The credential fields (public and secret together, as byok's API takes them) that
/// make the fake for `provider` act out `scenario`; `None` when the scenario does not
/// apply to that provider.
pub fn fields(provider: &str, scenario: Scenario) -> Option<BTreeMap<String, String>> {
    let tag = match scenario {
        Scenario::Invalid => INVALID_TAG,
        Scenario::ServerError => "se",
        Scenario::RateLimited => "rl",
        Scenario::Hang => "hg",
        Scenario::Restricted => "rs",
        _ => "ok",
    };
    let special = !matches!(
        scenario,
        Scenario::Good
            | Scenario::Invalid
            | Scenario::ServerError
            | Scenario::RateLimited
            | Scenario::Hang
            | Scenario::Restricted
    );
    if scenario == Scenario::Restricted && !restricts(provider) {
        return None;
    }
    let pairs: Vec<(&str, String)> = match provider {
        "twilio" => {
            let number = match scenario {
                Scenario::TwilioNumberNotOnAccount => TWILIO_FOREIGN_NUMBER,
                Scenario::TwilioNumberWithoutSms => TWILIO_VOICE_ONLY_NUMBER,
                _ if special => return None,
                _ => TWILIO_SMS_NUMBER,
            };
            vec![
                ("account_sid", TWILIO_ACCOUNT_SID.to_owned()),
                ("auth_token", key("twilio", tag)?),
                ("phone_number", number.to_owned()),
            ]
        }
        "resend" => {
            let domain = match scenario {
                Scenario::ResendDomainUnverified => RESEND_PENDING_DOMAIN,
                Scenario::ResendDomainUnknown => "elsewhere.example.net",
                _ if special => return None,
                _ => RESEND_VERIFIED_DOMAIN,
            };
            vec![("api_key", key("resend", tag)?), ("from_email", format!("hello@{domain}"))]
        }
        "aws" => match scenario {
            Scenario::AwsUnknownKey => vec![
                ("access_key_id", "AKIAFAKEUNKNOWN00000".to_owned()),
                ("secret_access_key", AWS_SECRET_ACCESS_KEY.to_owned()),
            ],
            Scenario::AwsExpiredToken => vec![
                ("access_key_id", AWS_EXPIRED_KEY_ID.to_owned()),
                ("secret_access_key", AWS_SECRET_ACCESS_KEY.to_owned()),
                ("session_token", AWS_SESSION_TOKEN.to_owned()),
            ],
            _ if special => return None,
            // A known key id signed with the wrong secret: SignatureDoesNotMatch.
            Scenario::Invalid => vec![
                ("access_key_id", key("aws", "ok")?),
                ("secret_access_key", "wrongSecretAccessKey/0123456789+abcdefgh".to_owned()),
            ],
            _ => vec![("access_key_id", key("aws", tag)?), ("secret_access_key", AWS_SECRET_ACCESS_KEY.to_owned())],
        },
        "azure" => {
            let tenant = match scenario {
                Scenario::AzureUnknownTenant => AZURE_UNKNOWN_TENANT_ID,
                _ if special => return None,
                _ => AZURE_TENANT_ID,
            };
            vec![
                ("tenant_id", tenant.to_owned()),
                ("client_id", AZURE_CLIENT_ID.to_owned()),
                ("client_secret", key("azure", tag)?),
            ]
        }
        "gcp" => {
            if special {
                return None;
            }
            // The wrong key for a registered account: "Invalid JWT Signature."
            let (email, pem) = match scenario {
                Scenario::Invalid => (key("gcp", "ok")?, GCP_UNREGISTERED_KEY_PEM),
                _ => (key("gcp", tag)?, GCP_KEY_PEM),
            };
            vec![("service_account_json", service_account_json(&email, pem))]
        }
        _ if special => return None,
        _ => vec![("api_key", key(provider, tag)?)],
    };
    Some(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Providers whose fake has a documented "valid but restricted" answer.
fn restricts(provider: &str) -> bool {
    matches!(provider, "openai" | "anthropic" | "gemini" | "exa" | "twilio" | "resend" | "aws")
}

/// A key file shaped like the one the Google Cloud console downloads.
fn service_account_json(client_email: &str, private_key_pem: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "byok-fake",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_key_pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/byok-fake",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_choose_behaviours_and_unknown_keys_are_invalid() {
        for provider in PROVIDERS {
            for (behaviour, tag) in BEHAVIOURS {
                let k = key(provider, tag).unwrap();
                assert_eq!(super::behaviour(provider, &k), Some(behaviour), "{provider} {tag}");
            }
            let invalid = key(provider, INVALID_TAG).unwrap();
            assert_eq!(super::behaviour(provider, &invalid), None);
        }
    }

    #[test]
    fn twilio_and_aws_keys_have_their_provider_shape() {
        for (_, tag) in BEHAVIOURS {
            let token = key("twilio", tag).unwrap();
            assert!(token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()));
            let id = key("aws", tag).unwrap();
            assert!(id.len() == 20 && id.starts_with("AKIA"), "{id}");
        }
    }

    #[test]
    fn scenarios_apply_only_where_they_make_sense() {
        assert!(fields("openai", Scenario::TwilioNumberWithoutSms).is_none());
        assert!(fields("groq", Scenario::Restricted).is_none());
        assert!(fields("twilio", Scenario::TwilioNumberWithoutSms).is_some());
        for provider in PROVIDERS {
            for scenario in
                [Scenario::Good, Scenario::Invalid, Scenario::ServerError, Scenario::RateLimited, Scenario::Hang]
            {
                assert!(fields(provider, scenario).is_some(), "{provider} {scenario:?}");
            }
        }
    }
}
