//! AWS STS `POST /` (`Version=2011-06-15`) with `Action=GetCallerIdentity`,
//! `GetSessionToken` or `AssumeRole` (`RoleArn`, `RoleSessionName`, optional
//! `DurationSeconds`), signed with SigV4. The fake recomputes the signature with the
//! secret it knows for the access key id; answers are STS's XML (`text/xml`). Each
//! session it issues has credentials of its own.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::{digest, hmac};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::post;

use super::{hang, header, typed};
use crate::credentials::{AWS_EXPIRED_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, Behaviour, behaviour};
use crate::record::decode_form;

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub(crate) fn router() -> Router {
    Router::new().route("/", post(sts)).merge(super::bedrock::router())
}

async fn sts(method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = decode_form(&body).into_iter().collect();
    let action = form.get("Action").map(String::as_str).unwrap_or_default();
    if !["GetCallerIdentity", "GetSessionToken", "AssumeRole"].contains(&action)
        || form.get("Version").map(String::as_str) != Some("2011-06-15")
    {
        return error(400, "Sender", "InvalidAction", "Could not find operation for this version");
    }
    let Some(auth) = header(&headers, "authorization").and_then(Authorization::parse) else {
        return error(403, "Sender", "MissingAuthenticationToken", "Request is missing Authentication Token");
    };
    let Some(amz_date) = header(&headers, "x-amz-date") else {
        return error(
            400,
            "Sender",
            "IncompleteSignature",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    };
    if auth.service != "sts" {
        return error(403, "Sender", "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'.");
    }
    let key = if auth.access_key_id == AWS_EXPIRED_KEY_ID {
        Key::Expired
    } else if let Some(known) = behaviour("aws", &auth.access_key_id) {
        Key::Known(known)
    } else {
        return invalid_token();
    };
    if auth.signature != expected_signature(&method, "/", &headers, &body, &auth, amz_date) {
        return error(
            403,
            "Sender",
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        );
    }
    let known = match key {
        Key::Expired if header(&headers, "x-amz-security-token") == Some(AWS_SESSION_TOKEN) => {
            return error(400, "Sender", "ExpiredToken", "The security token included in the request is expired");
        }
        Key::Expired => return invalid_token(),
        Key::Known(known) => known,
    };
    match known {
        Behaviour::Good if action == "GetSessionToken" && header(&headers, "x-amz-security-token").is_some() => {
            error(403, "Sender", "AccessDenied", "Cannot call GetSessionToken with session credentials")
        }
        Behaviour::Good if action != "GetCallerIdentity" => session(action, &form),
        Behaviour::Good => typed(
            200,
            "text/xml",
            format!(
                "<GetCallerIdentityResponse xmlns=\"{NS}\">\n  <GetCallerIdentityResult>\n    \
                 <Arn>arn:aws:iam::123456789012:user/byok-fake</Arn>\n    \
                 <UserId>AIDAFAKEUSERID000000</UserId>\n    <Account>123456789012</Account>\n  \
                 </GetCallerIdentityResult>\n  <ResponseMetadata>\n    \
                 <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n  \
                 </ResponseMetadata>\n</GetCallerIdentityResponse>\n"
            ),
        ),
        Behaviour::Restricted => error(
            403,
            "Sender",
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/byok-fake is not authorized to perform: \
             sts:GetCallerIdentity with an explicit deny in an identity-based policy",
        ),
        Behaviour::ServerError => error(
            500,
            "Receiver",
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        Behaviour::RateLimited => error(400, "Sender", "Throttling", "Rate exceeded"),
        Behaviour::Hang => hang().await,
    }
}

/// A new session's credentials, as `GetSessionToken` or `AssumeRole` answers them.
fn session(action: &str, form: &BTreeMap<String, String>) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let (min, max, default) = if action == "AssumeRole" { (900, 43_200, 3600) } else { (900, 129_600, 43_200) };
    let seconds = match field("DurationSeconds").map(str::parse::<i64>) {
        None => default,
        Some(Ok(s)) if (min..=max).contains(&s) => s,
        Some(_) => {
            return error(
                400,
                "Sender",
                "ValidationError",
                &format!("The requested DurationSeconds exceeds the allowed range ({min} to {max} seconds)."),
            );
        }
    };
    let assumed = if action == "AssumeRole" {
        let (Some(role), Some(name)) = (field("RoleArn"), field("RoleSessionName")) else {
            return error(400, "Sender", "MissingParameter", "RoleArn and RoleSessionName are required.");
        };
        let Some(role_name) = role.strip_prefix("arn:aws:iam::123456789012:role/") else {
            return error(
                403,
                "Sender",
                "AccessDenied",
                &format!(
                    "User: arn:aws:iam::123456789012:user/byok-fake is not authorized to perform: \
                     sts:AssumeRole on resource: {role}"
                ),
            );
        };
        format!(
            "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/{role_name}/{name}</Arn>\
             <AssumedRoleId>AROAFAKEROLEID000000:{name}</AssumedRoleId></AssumedRoleUser>"
        )
    } else {
        String::new()
    };
    let n = SESSIONS.fetch_add(1, Ordering::Relaxed);
    let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    let expiration = expires.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    typed(
        200,
        "text/xml",
        format!(
            "<{action}Response xmlns=\"{NS}\">\n  <{action}Result>\n    {assumed}<Credentials>\n      \
             <AccessKeyId>ASIAFAKESESSION{n:05}</AccessKeyId>\n      \
             <SecretAccessKey>fakeSessionSecret/{n:022}</SecretAccessKey>\n      \
             <SessionToken>IQoJb3JpZ2luFakeSessionToken{n}</SessionToken>\n      \
             <Expiration>{expiration}</Expiration>\n    </Credentials>\n  </{action}Result>\n  \
             <ResponseMetadata>\n    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n  \
             </ResponseMetadata>\n</{action}Response>\n"
        ),
    )
}

/// Sessions issued so far: each has credentials of its own.
static SESSIONS: AtomicU64 = AtomicU64::new(1);

/// The access key ids the fake knows.
enum Key {
    /// Temporary credentials whose session has expired.
    Expired,
    Known(Behaviour),
}

fn invalid_token() -> Response {
    error(403, "Sender", "InvalidClientTokenId", "The security token included in the request is invalid.")
}

/// `AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/<service>/aws4_request,
/// SignedHeaders=<a;b>, Signature=<hex>`.
pub(super) struct Authorization {
    pub access_key_id: String,
    scope: String,
    date: String,
    region: String,
    pub service: String,
    signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub(super) fn parse(value: &str) -> Option<Self> {
        let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
        let parts: BTreeMap<&str, &str> = rest.split(',').filter_map(|p| p.trim().split_once('=')).collect();
        let credential = *parts.get("Credential")?;
        let (access_key_id, scope) = credential.split_once('/')?;
        let scope_parts: Vec<&str> = scope.split('/').collect();
        let [date, region, service, "aws4_request"] = scope_parts.as_slice() else {
            return None;
        };
        Some(Self {
            access_key_id: access_key_id.to_owned(),
            scope: scope.to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            signed_headers: parts.get("SignedHeaders")?.split(';').map(str::to_owned).collect(),
            signature: (*parts.get("Signature")?).to_owned(),
        })
    }
}

/// The SigV4 signature for this request under the fake's secret access key;
/// `canonical_uri` is the path as AWS canonicalises it (for all services but S3, each
/// segment of the path as sent URI-encoded once more). The fakes' requests carry no
/// query string.
pub(super) fn expected_signature(
    method: &Method,
    canonical_uri: &str,
    headers: &HeaderMap,
    body: &[u8],
    auth: &Authorization,
    amz_date: &str,
) -> String {
    let canonical_headers: String = auth
        .signed_headers
        .iter()
        .map(|name| {
            let value = header(headers, name).unwrap_or_default();
            format!("{name}:{}\n", value.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect();
    let canonical_request = format!(
        "{method}\n{canonical_uri}\n\n{canonical_headers}\n{}\n{}",
        auth.signed_headers.join(";"),
        hex(digest::digest(&digest::SHA256, body).as_ref())
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        auth.scope,
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let mut key = format!("AWS4{AWS_SECRET_ACCESS_KEY}").into_bytes();
    for part in [auth.date.as_str(), auth.region.as_str(), auth.service.as_str(), "aws4_request"] {
        key = sign(&key, part.as_bytes());
    }
    hex(&sign(&key, string_to_sign.as_bytes()))
}

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> Response {
    typed(
        status,
        "text/xml",
        format!(
            "<ErrorResponse xmlns=\"{NS}\">\n  <Error>\n    <Type>{kind}</Type>\n    \
             <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n  \
             <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n</ErrorResponse>\n"
        ),
    )
}
