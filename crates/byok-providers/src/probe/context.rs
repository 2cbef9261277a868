//! Everything one probe needs: the provider, where it lives, the credential, and the
//! client; plus the generic ways of putting a key into a request.

use std::collections::BTreeMap;

use byok_core::{AuthSpec, ProbeSpec, ProviderSpec, SecretFields};
use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder, Url};

use super::answer::{Detail, codes_at, raw_text_at, safe_text};
use super::http::{Failure, Http, Reply};
use super::outcome::Verdict;
use crate::template;

pub(crate) struct ProbeContext<'a> {
    pub http: &'a Http,
    pub provider: &'a ProviderSpec,
    pub probe: &'a ProbeSpec,
    /// The origin to call: the override, or the catalog's `base_url`.
    pub origin: &'a str,
    /// Whether `origin` comes from an override rather than the catalog.
    pub overridden: bool,
    pub config: &'a BTreeMap<String, String>,
    pub secrets: &'a SecretFields,
}

impl ProbeContext<'_> {
    pub(crate) fn name(&self) -> &str {
        &self.provider.name
    }

    /// A public field's value, when set and not blank.
    pub(crate) fn config(&self, field: &str) -> Option<&str> {
        self.config.get(field).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub(crate) fn required_config(&self, field: &str) -> Result<&str, Verdict> {
        self.config(field).ok_or_else(|| missing(field))
    }

    /// A secret field's value, for building the request only.
    pub(crate) fn secret(&self, field: &str) -> Result<&str, Verdict> {
        self.optional_secret(field).ok_or_else(|| missing(field))
    }

    pub(crate) fn optional_secret(&self, field: &str) -> Option<&str> {
        self.secrets.get(field).map(|v| v.expose().trim()).filter(|v| !v.is_empty())
    }

    /// `origin` + `path_template`, placeholders filled from the public fields.
    pub(crate) fn url(&self, path_template: &str) -> Result<Url, Verdict> {
        let path = template::fill(path_template, |name| self.config(name)).map_err(missing)?;
        Url::parse(&format!("{}{path}", self.origin)).map_err(|_| {
            Verdict::unavailable(format!("The address of {} could not be built from the catalog.", self.name()))
        })
    }

    /// A request with the key where the catalog's `auth` says it goes.
    pub(crate) fn authorized(&self, method: Method, mut url: Url) -> Result<RequestBuilder, Verdict> {
        let Some(auth) = &self.provider.auth else {
            return Err(Verdict::unavailable(format!("The catalog does not say where {}'s key goes.", self.name())));
        };
        if let AuthSpec::Query { name, field } = auth {
            url.query_pairs_mut().append_pair(name, self.secret(field)?);
        }
        let request = self.http.request(method, url);
        Ok(match auth {
            AuthSpec::Bearer { field } => request
                .header(reqwest::header::AUTHORIZATION, sensitive(&format!("Bearer {}", self.secret(field)?), field)?),
            AuthSpec::Header { name, field } => request.header(name.as_str(), sensitive(self.secret(field)?, field)?),
            AuthSpec::Basic { username, password } => {
                let user = match self.config(username) {
                    Some(user) => user,
                    None => self.secret(username)?,
                };
                request.basic_auth(user, Some(self.secret(password)?))
            }
            AuthSpec::Query { .. } => request,
            AuthSpec::AwsSigv4 | AuthSpec::GoogleServiceAccount | AuthSpec::AzureClientCredentials => {
                return Err(Verdict::unavailable(format!("{}'s authentication needs its adapter.", self.name())));
            }
        })
    }

    /// Sends a request; no answer at all becomes an "unavailable" verdict.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Reply, Verdict> {
        self.http.send(request).await.map_err(|failure| self.no_answer(failure))
    }

    fn no_answer(&self, failure: Failure) -> Verdict {
        let name = self.name();
        Verdict::unavailable(match failure {
            Failure::Timeout => format!("{name} did not answer in time; try again later."),
            Failure::Connect => format!("Could not connect to {name}; try again later."),
            Failure::Blocked => format!(
                "byok did not call {name}: its address is in a loopback, private or link-local \
                 network, which is allowed only with BYOK_ALLOW_PRIVATE_NETWORKS=true."
            ),
            Failure::Other => format!("The request to {name} failed before an answer arrived."),
        })
    }

    /// The provider's error answer, read with the catalog's `probe.errors` pointers.
    pub(crate) fn reading(&self, reply: &Reply) -> Reading {
        let json = reply.json();
        let errors = &self.probe.errors;
        let raw = raw_text_at(json.as_ref(), &errors.message);
        let codes = codes_at(json.as_ref(), &errors.code);
        let detail = Detail {
            // The first pointer names the most specific code; one is enough for people.
            codes: codes.iter().take(1).cloned().collect(),
            text: raw.as_deref().and_then(|t| safe_text(t, self.secrets)),
            status: reply.status,
        };
        Reading { detail, codes, raw: raw.unwrap_or_default() }
    }
}

/// A provider's error answer: what to show, and what rules may match on.
pub(crate) struct Reading {
    pub detail: Detail,
    /// Every code found, for matching.
    pub codes: Vec<String>,
    /// The unfiltered message, for matching only: it may contain the key.
    pub raw: String,
}

/// A header value built from a secret, marked so that it is never printed.
fn sensitive(value: &str, field: &str) -> Result<HeaderValue, Verdict> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        Verdict::invalid(format!("The `{field}` contains characters that cannot be sent in an HTTP header."))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn missing(field: &str) -> Verdict {
    Verdict::invalid(format!("The credential has no `{field}`."))
}
