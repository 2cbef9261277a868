//! Amazon Bedrock through the proxy. boto3's `bedrock-runtime` client sends the virtual
//! key as its access key id (in the SigV4 `Credential`) and signs with any secret; byok
//! does not check that signature. Once the request is final (path, host and body) byok
//! signs it again with the owner's key (SigV4 for the `bedrock` service in the
//! credential's region) and sends it to `bedrock-runtime.{region}.amazonaws.com`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use byok_core::SecretFields;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::InjectError;
use crate::aws_region::{DEFAULT_REGION, domain, is_region};

/// The client's own signature headers, replaced by byok's.
const CLIENT_SIGNATURE: [&str; 4] = ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// The credential's region (default `us-east-1`), a plain AWS region name.
fn aws_region(config: &BTreeMap<String, String>) -> Result<&str, InjectError> {
    let region = config.get("region").map(|r| r.trim()).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REGION);
    if is_region(region) { Ok(region) } else { Err(InjectError::BadValue("region".into())) }
}

/// Bedrock runtime's origin in the credential's region.
pub fn bedrock_origin(config: &BTreeMap<String, String>) -> Result<String, InjectError> {
    let region = aws_region(config)?;
    Ok(format!("https://bedrock-runtime.{region}.{}", domain(region)))
}

/// Signs the request (`method` to `url` with `body`) with the credential's key: the
/// client's signature headers are dropped and byok's SigV4 headers set, marked
/// sensitive.
pub fn sign_aws(
    config: &BTreeMap<String, String>,
    secrets: &SecretFields,
    method: &str,
    url: &Url,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<(), InjectError> {
    for name in CLIENT_SIGNATURE {
        headers.remove(name);
    }
    let field = |name: &str| {
        secrets.get(name).map(|s| s.expose()).or_else(|| config.get(name).map(String::as_str)).map(str::trim)
    };
    let key_id =
        field("access_key_id").filter(|v| !v.is_empty()).ok_or(InjectError::MissingField("access_key_id".into()))?;
    let secret = field("secret_access_key")
        .filter(|v| !v.is_empty())
        .ok_or(InjectError::MissingField("secret_access_key".into()))?;
    let token = field("session_token").filter(|v| !v.is_empty()).map(str::to_owned);
    let identity = Credentials::new(key_id, secret, token, None, "byok").into();
    let unsigned = |_| InjectError::BadValue("secret_access_key".into());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(aws_region(config)?)
        .name("bedrock")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|_| InjectError::BadValue("access_key_id".into()))?
        .into();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let signed_headers = content_type.iter().map(|ct| ("content-type", ct.as_str()));
    let signable =
        SignableRequest::new(method, url.as_str(), signed_headers, SignableBody::Bytes(body)).map_err(unsigned)?;
    let (instructions, _signature) = sign(signable, &params).map_err(unsigned)?.into_parts();
    for (name, value) in instructions.headers() {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| InjectError::BadValue(name.to_owned()))?;
        let mut value = HeaderValue::from_str(value).map_err(|_| InjectError::BadValue("session_token".into()))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use byok_core::SecretValue;

    use super::*;

    #[test]
    fn signs_with_the_owners_key_for_bedrock_in_its_region() {
        let config = [
            ("access_key_id".to_owned(), "AKIAOWNER00000000000".to_owned()),
            ("region".to_owned(), "eu-west-1".to_owned()),
        ]
        .into();
        let secrets: SecretFields =
            [("secret_access_key".to_owned(), SecretValue::new("owner/secret/0123456789abcdefghijklmnopq".into()))]
                .into();
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=byok_vk_x/20261202/us-east-1/bedrock/aws4_request"),
        );
        headers.insert("x-amz-security-token", HeaderValue::from_static("client-token"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let url = Url::parse("https://bedrock-runtime.eu-west-1.amazonaws.com/model/m%3A0/converse").unwrap();
        sign_aws(&config, &secrets, "POST", &url, &mut headers, b"{}").unwrap();
        let auth = headers["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAOWNER00000000000/"), "{auth}");
        assert!(auth.contains("/eu-west-1/bedrock/aws4_request") && headers["authorization"].is_sensitive(), "{auth}");
        assert!(headers.contains_key("x-amz-date") && !headers.contains_key("x-amz-security-token"));
        assert_eq!(bedrock_origin(&config).unwrap(), "https://bedrock-runtime.eu-west-1.amazonaws.com");
        let elsewhere = [("region".to_owned(), "evil.example/x".to_owned())].into();
        assert_eq!(bedrock_origin(&elsewhere), Err(InjectError::BadValue("region".into())));
        assert_eq!(bedrock_origin(&BTreeMap::new()).unwrap(), "https://bedrock-runtime.us-east-1.amazonaws.com");
    }
}
