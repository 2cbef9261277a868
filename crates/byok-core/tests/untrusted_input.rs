//! Property tests: owners, ids, provider ids and proxy path rules parse any text
//! without panicking, and what they print parses back to the same value.

use byok_core::{CredentialId, Label, Owner, PathRule, ProviderId, TokenId};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_text_is_parsed_or_refused_without_panic(text in "\\PC{0,300}") {
        let _ = text.parse::<Owner>();
        let _ = ProviderId::parse(&text);
        let _ = Label::parse(&text);
        let _ = text.parse::<CredentialId>();
        let _ = text.parse::<TokenId>();
        let _ = PathRule::parse(&text);
    }

    #[test]
    fn owners_print_what_they_parse(kind in prop::sample::select(vec!["user", "org"]), id in "[A-Za-z0-9_.@+~-]{1,128}") {
        let text = format!("{kind}:{id}");
        let owner = text.parse::<Owner>().unwrap();
        prop_assert_eq!(owner.to_string(), text.clone());
        prop_assert_eq!(owner.to_string().parse::<Owner>().unwrap(), owner);
    }

    #[test]
    fn ids_print_what_they_parse(_seed in any::<u8>()) {
        let id = CredentialId::new();
        prop_assert_eq!(id.to_string().parse::<CredentialId>().unwrap(), id);
    }

    #[test]
    fn path_rules_match_any_path_without_panic(
        rule in "(GET|POST|\\*) (/[a-z*:.]{1,8}){1,4}(/\\*\\*)?",
        path in proptest::collection::vec("\\PC{0,12}", 0..8),
    ) {
        if let Ok(rule) = PathRule::parse(&rule) {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let _ = rule.allows("GET", &segments);
            prop_assert_eq!(PathRule::parse(rule.as_str()).unwrap(), rule);
        }
    }
}
