//! Twilio's SDKs put the account SID in the path (`/2010-04-01/Accounts/{AccountSid}/…`)
//! and a product that has only a virtual key passes that key as the account SID. The
//! segment holding the authenticating key stands for the paying owner's real account;
//! a path naming any other account is refused, so no request reaches an account the
//! owner's credential does not belong to.

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

/// `path` with the account segment (which must hold `key`) replaced by a placeholder
/// until the credential fills it in. Paths of other dialects are not touched.
pub(super) fn take_account<'a>(spec: &ProviderSpec, path: &'a str, key: &str) -> Result<Cow<'a, str>, Refusal> {
    if spec.dialect != Dialect::Twilio {
        return Ok(Cow::Borrowed(path));
    }
    let refused = || Refusal::PathNotAllowed(spec.name.clone());
    let mut segments: Vec<String> = Vec::new();
    let mut after_accounts = false;
    for raw in path.split('/') {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().map_err(|_| refused())?;
        // Dot segments would move the account once the URL is resolved.
        if decoded == "." || decoded == ".." {
            return Err(refused());
        }
        if after_accounts {
            let suffix = if decoded.ends_with(JSON) { JSON } else { "" };
            if decoded.strip_suffix(suffix) != Some(key) {
                return Err(refused());
            }
            segments.push(format!("{PLACEHOLDER}{suffix}"));
        } else {
            segments.push(raw.to_owned());
        }
        after_accounts = decoded == ACCOUNTS;
    }
    Ok(Cow::Owned(segments.join("/")))
}

/// Puts the account of the credential that pays (the username of its basic
/// authentication) where [`take_account`] left the placeholder.
pub(super) fn fill_account(
    spec: &ProviderSpec,
    config: &std::collections::BTreeMap<String, String>,
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

    fn sent(path: &str) -> Result<String, Refusal> {
        let spec = twilio();
        let taken = take_account(&spec, path, VK)?;
        let mut url = Url::parse(&format!("http://h{taken}")).unwrap();
        let config = [("account_sid".to_owned(), "ACfa4e".to_owned())].into();
        fill_account(&spec, &config, &mut url)?;
        Ok(url.path().to_owned())
    }

    #[test]
    fn the_key_in_the_account_segment_becomes_the_owners_account() {
        assert_eq!(
            sent(&format!("/2010-04-01/Accounts/{VK}/Messages.json")).unwrap(),
            "/2010-04-01/Accounts/ACfa4e/Messages.json"
        );
        assert_eq!(sent(&format!("/2010-04-01/Accounts/{VK}.json")).unwrap(), "/2010-04-01/Accounts/ACfa4e.json");
        assert_eq!(
            sent(&format!("/2010-04-01/Accounts/{}/Messages/SM1.json", VK.replace('_', "%5F"))).unwrap(),
            "/2010-04-01/Accounts/ACfa4e/Messages/SM1.json"
        );
        assert_eq!(sent("/2010-04-01/Messages.json").unwrap(), "/2010-04-01/Messages.json");
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
        assert_eq!(take_account(&openai, path, VK).unwrap(), path);
    }
}
