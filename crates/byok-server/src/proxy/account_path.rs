//! Twilio's SDKs put the account SID in the path (`/2010-04-01/Accounts/{AccountSid}/…`)
//! and a product that has only a virtual key passes that key as the account SID. The
//! segment holding the authenticating key stands for the paying owner's real account.
//! Twilio's own answers name the real account (a list's `next_page_uri`, a message's
//! `uri`), so a read that only checks on what was sent (a poll) may name it too, and
//! goes out only when it is the account of the credential that pays. Any other path
//! naming an account is refused, so no request reaches an account the owner's
//! credential does not belong to.

use std::borrow::Cow;

use byok_core::{AuthSpec, Dialect, ProviderSpec};
use reqwest::Url;

use super::refusal::Refusal;

/// The segment before the account.
const ACCOUNTS: &str = "Accounts";
/// Where the account goes until the credential that pays is known.
const PLACEHOLDER: &str = "byok-account";
/// Twilio's resource suffix, as in `/2010-04-01/Accounts/{AccountSid}.json`.
const JSON: &str = ".json";

/// A Twilio path with its account segment taken out.
pub(super) struct AccountPath<'a> {
    /// The path, the account segment replaced by a placeholder.
    pub path: Cow<'a, str>,
    /// The account SID the path named, when it named one rather than the key.
    pub named: Option<String>,
}

/// `path` with the account segment (which must hold `key` or an account SID) replaced
/// by a placeholder until the credential fills it in. Paths of other dialects are not
/// touched.
pub(super) fn take_account<'a>(spec: &ProviderSpec, path: &'a str, key: &str) -> Result<AccountPath<'a>, Refusal> {
    if spec.dialect != Dialect::Twilio {
        return Ok(AccountPath { path: Cow::Borrowed(path), named: None });
    }
    let refused = || Refusal::PathNotAllowed(spec.name.clone());
    let mut segments: Vec<String> = Vec::new();
    let mut named = None;
    let mut after_accounts = false;
    for raw in path.split('/') {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| refused())?;
        // Dot segments would move the account once the URL is resolved.
        if decoded == "." || decoded == ".." {
            return Err(refused());
        }
        if after_accounts {
            let suffix = if decoded.ends_with(JSON) { JSON } else { "" };
            match decoded.strip_suffix(suffix) {
                Some(account) if account == key => {}
                Some(account) if is_account_sid(account) && named.is_none() => named = Some(account.to_owned()),
                _ => return Err(refused()),
            }
            segments.push(format!("{PLACEHOLDER}{suffix}"));
        } else {
            segments.push(raw.to_owned());
        }
        after_accounts = decoded == ACCOUNTS;
    }
    Ok(AccountPath { path: Cow::Owned(segments.join("/")), named })
}

/// Twilio's account SID: `AC` and 32 hex digits.
fn is_account_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("AC") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Puts the account of the credential that pays (the username of its basic
/// authentication) where [`take_account`] left the placeholder; a path that `named` an
/// account is refused unless it is that one.
pub(super) fn fill_account(
    spec: &ProviderSpec,
    config: &std::collections::BTreeMap<String, String>,
    named: Option<&str>,
    url: &mut Url,
) -> Result<(), Refusal> {
    if !url.path().split('/').any(|s| s.strip_suffix(JSON).unwrap_or(s) == PLACEHOLDER) {
        return Ok(());
    }
    let account = match &spec.auth {
        Some(AuthSpec::Basic { username, .. }) => config.get(username).map(|a| a.trim()).filter(|a| !a.is_empty()),
        _ => None,
    }
    .ok_or_else(|| Refusal::internal("proxy", format!("the {} credential names no account", spec.name)))?;
    if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Refusal::internal("proxy", format!("the {} credential's account is not a plain name", spec.name)));
    }
    if named.is_some_and(|named| named != account) {
        return Err(Refusal::PathNotAllowed(spec.name.clone()));
    }
    let path: Vec<String> = url
        .path()
        .split('/')
        .map(|s| match s.strip_suffix(JSON).unwrap_or(s) {
            PLACEHOLDER => s.replacen(PLACEHOLDER, account, 1),
            _ => s.to_owned(),
        })
        .collect();
    url.set_path(&path.join("/"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VK: &str = "byok_vk_abc";

    fn twilio() -> ProviderSpec {
        byok_providers::builtin_catalog().unwrap().get("twilio").unwrap().clone()
    }

    /// The owner's real account.
    const SID: &str = "ACfa4efa4efa4efa4efa4efa4efa4efa4e";

    fn sent(path: &str) -> Result<String, Refusal> {
        let spec = twilio();
        let taken = take_account(&spec, path, VK)?;
        let mut url = Url::parse(&format!("http://h{}", taken.path)).unwrap();
        let config = [("account_sid".to_owned(), SID.to_owned())].into();
        fill_account(&spec, &config, taken.named.as_deref(), &mut url)?;
        Ok(url.path().to_owned())
    }

    #[test]
    fn the_key_in_the_account_segment_becomes_the_owners_account() {
        assert_eq!(
            sent(&format!("/2010-04-01/Accounts/{VK}/Messages.json")).unwrap(),
            format!("/2010-04-01/Accounts/{SID}/Messages.json")
        );
        assert_eq!(
            sent(&format!("/2010-04-01/Accounts/{VK}.json")).unwrap(),
            format!("/2010-04-01/Accounts/{SID}.json")
        );
        assert_eq!(
            sent(&format!("/2010-04-01/Accounts/{}/Messages/SM1.json", VK.replace('_', "%5F"))).unwrap(),
            format!("/2010-04-01/Accounts/{SID}/Messages/SM1.json")
        );
        assert_eq!(sent("/2010-04-01/Messages.json").unwrap(), "/2010-04-01/Messages.json");
    }

    #[test]
    fn the_owners_real_account_is_named_and_must_be_the_payers() {
        let path = format!("/2010-04-01/Accounts/{SID}/Messages.json");
        assert_eq!(sent(&path).unwrap(), path);
        let taken = take_account(&twilio(), &path, VK).unwrap();
        assert_eq!(taken.named.as_deref(), Some(SID));
        let other = format!("/2010-04-01/Accounts/AC{}/Messages.json", "0".repeat(32));
        assert!(matches!(sent(&other), Err(Refusal::PathNotAllowed(_))));
        let twice = format!("/2010-04-01/Accounts/{SID}/Messages/x/Accounts/{SID}.json");
        assert!(matches!(sent(&twice), Err(Refusal::PathNotAllowed(_))));
    }

    #[test]
    fn any_other_account_is_refused() {
        for path in [
            "/2010-04-01/Accounts/ACfa4e/Messages.json",
            "/2010-04-01/Accounts/ACother/Messages.json",
            "/2010-04-01/Accounts/byok_vk_other/Messages.json",
            "/2010-04-01/Accounts/byok-account/Messages.json",
            "/2010-04-01/Accounts//Messages.json",
            "/2010-04-01/%41ccounts/ACother/Messages.json",
            &format!("/2010-04-01/Accounts/{VK}/Messages.json/../../ACother/Messages.json"),
            &format!("/2010-04-01/Accounts/{VK}/%2e%2e/ACother/Messages.json"),
            &format!("/2010-04-01/Accounts/{VK}/Messages/x/Accounts/ACother.json"),
        ] {
            assert!(matches!(sent(path), Err(Refusal::PathNotAllowed(_))), "{path}");
        }
    }

    #[test]
    fn other_dialects_keep_their_path() {
        let openai = byok_providers::builtin_catalog().unwrap().get("openai").unwrap().clone();
        let path = "/v1/Accounts/x";
        assert_eq!(take_account(&openai, path, VK).unwrap().path, path);
    }
}
