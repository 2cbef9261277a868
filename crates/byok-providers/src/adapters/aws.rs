//! AWS STS, signed with SigV4: `GetSessionToken`, or `AssumeRole` when the credential
//! names a `role_arn`, mints a short-lived session, for `resolve` and as the connection
//! test (which so proves the key can mint one). Answers are XML; errors
//! `<Error><Code>…</Code><Message>…</Message></Error>`.

use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use reqwest::Method;

use byok_core::Timestamp;

use super::Adapter;
use crate::aws_region::{DEFAULT_REGION, domain, is_region};
use crate::mint::ShortLived;
use crate::probe::{Detail, ProbeContext, ProbeOutcomeKind, Reply, Verdict};

/// How long a minted session lasts: an hour, what `AssumeRole` allows by default.
const SESSION_SECS: &str = "3600";
/// Who the assumed-role session says it is, in CloudTrail.
const SESSION_NAME: &str = "byok";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Codes for a key that does not exist, a wrong secret, or an expired session.
const INVALID: [&str; 7] = [
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
    "UnrecognizedClientException",
];

pub(crate) struct AwsSts;

#[async_trait]
impl Adapter for AwsSts {
    async fn probe(&self, cx: &ProbeContext<'_>) -> Verdict {
        super::test_by_minting(self, cx, "issued a short-lived session for the access key.").await
    }

    async fn mint(&self, cx: &ProbeContext<'_>, _scope: Option<&str>) -> Result<ShortLived, Verdict> {
        let body = {
            let mut body = form_urlencoded::Serializer::new(String::new());
            match cx.config("role_arn") {
                Some(role) => body
                    .append_pair("Action", "AssumeRole")
                    .append_pair("RoleArn", role)
                    .append_pair("RoleSessionName", SESSION_NAME),
                None => body.append_pair("Action", "GetSessionToken"),
            };
            body.append_pair("DurationSeconds", SESSION_SECS).append_pair("Version", "2011-06-15").finish()
        };
        let reply = call(cx, &body).await?;
        if !reply.is_success() {
            return Err(refusal(cx, &reply));
        }
        session(&reply.text())
            .ok_or_else(|| Verdict::unavailable(format!("{} answered without the session's credentials.", cx.name())))
    }
}

/// STS's answer to the query `body`, signed with the credential's key.
async fn call(cx: &ProbeContext<'_>, body: &str) -> Result<Reply, Verdict> {
    let access_key_id = cx.required_config("access_key_id")?;
    let secret = cx.secret("secret_access_key")?;
    let session_token = cx.optional_secret("session_token");
    let region = match cx.config("region") {
        Some(region) if is_region(region) => region,
        Some(_) => return Err(Verdict::invalid("The `region` is not an AWS region name.")),
        None => DEFAULT_REGION,
    };
    let url = if cx.overridden || cx.config("region").is_none() {
        cx.url(&cx.probe.path)?
    } else {
        regional_endpoint(region).parse().map_err(|_| Verdict::invalid("The `region` is not an AWS region name."))?
    };

    let identity = Credentials::new(access_key_id, secret, session_token.map(str::to_owned), None, "byok").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| signing_failed())?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        [("content-type", CONTENT_TYPE)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|_| signing_failed())?;
    let (instructions, _signature) = sign(signable, &params).map_err(|_| signing_failed())?.into_parts();

    let mut request =
        cx.http.request(Method::POST, url).header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE).body(body.to_owned());
    for (name, value) in instructions.headers() {
        let mut value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| Verdict::invalid("The session token cannot be sent in an HTTP header."))?;
        value.set_sensitive(true);
        request = request.header(name, value);
    }
    cx.send(request).await
}

/// What STS's error answer means.
fn refusal(cx: &ProbeContext<'_>, reply: &Reply) -> Verdict {
    let text = reply.text();
    let code = tag(&text, "Code").filter(|c| c.chars().all(|c| c.is_ascii_alphanumeric()));
    let detail = Detail {
        text: tag(&text, "Message").and_then(|m| crate::probe::safe_text(&m, cx.secrets)),
        codes: code.iter().cloned().collect(),
        status: reply.status,
    };
    let kind = match code.as_deref() {
        Some(c) if INVALID.contains(&c) => ProbeOutcomeKind::Invalid,
        Some("AccessDenied") => ProbeOutcomeKind::Restricted,
        _ => ProbeOutcomeKind::Unavailable,
    };
    detail.verdict(cx.name(), kind)
}

/// The `<Credentials>` of a `GetSessionToken` or `AssumeRole` answer.
fn session(xml: &str) -> Option<ShortLived> {
    let credentials = tag(xml, "Credentials")?;
    let field = |name: &str| tag(&credentials, name).filter(|v| !v.is_empty());
    let expires_at = Timestamp::parse_rfc3339(&field("Expiration")?)?;
    Some(ShortLived::new(
        [
            ("access_key_id", field("AccessKeyId")?),
            ("secret_access_key", field("SecretAccessKey")?),
            ("session_token", field("SessionToken")?),
        ],
        expires_at,
    ))
}

/// STS in the credential's region.
fn regional_endpoint(region: &str) -> String {
    format!("https://sts.{region}.{}/", domain(region))
}

fn signing_failed() -> Verdict {
    Verdict::invalid("The request to AWS could not be signed with this access key.")
}

/// The text of the first `<name>…</name>` element.
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + len].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_xml_elements() {
        let xml = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                   <Message>User is not authorized</Message></Error></ErrorResponse>";
        assert_eq!(tag(xml, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(tag(xml, "Nope"), None);
    }

    #[test]
    fn reads_a_session_from_either_answer() {
        let credentials = "<Credentials><AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>s3cr3t</SecretAccessKey>\
                           <SessionToken>tok</SessionToken><Expiration>2026-12-02T09:00:00Z</Expiration></Credentials>";
        for answer in ["GetSessionTokenResponse", "AssumeRoleResponse"] {
            let xml = format!("<{answer}><Result>{credentials}</Result></{answer}>");
            let minted = session(&xml).unwrap();
            let field = |name: &str| minted.fields[name].expose().to_owned();
            assert_eq!((field("access_key_id"), field("session_token")), ("ASIAFAKE".into(), "tok".into()));
            assert_eq!(minted.expires_at.to_rfc3339(), "2026-12-02T09:00:00Z");
        }
        assert!(session("<Credentials><AccessKeyId>A</AccessKeyId></Credentials>").is_none());
    }

    #[test]
    fn regional_endpoints_follow_the_partition() {
        assert_eq!(regional_endpoint("eu-west-1"), "https://sts.eu-west-1.amazonaws.com/");
        assert_eq!(regional_endpoint("cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn/");
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("evil.example/x"));
    }
}
