//! Property tests: the parsers of sealed envelopes and legacy `iv:authTag:ciphertext`
//! lines never panic on any input, and what byok writes reads back.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use byok_core::{CredentialId, Owner, ProviderId, SecretFields, SecretValue};
use byok_crypto::{Binding, Keyring, LegacyKey, looks_legacy, open_legacy};
use proptest::prelude::*;

const KEY: &str = "5f4dcc3b5aa765d61d8327deb882cf992b95990a9151374abd8ff8c5a7a0fe08";

fn keyring() -> Keyring {
    Keyring::from_settings(Some(KEY), None).unwrap()
}

fn fields(map: &std::collections::BTreeMap<String, String>) -> SecretFields {
    map.iter().map(|(k, v)| (k.clone(), SecretValue::new(v.clone()))).collect()
}

proptest! {
    #[test]
    fn any_bytes_as_an_envelope_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let (id, owner, provider) = (CredentialId::new(), "user:alice".parse::<Owner>().unwrap(), ProviderId::parse("openai").unwrap());
        let binding = Binding { credential_id: &id, owner: &owner, provider: &provider, version: 1 };
        prop_assert!(keyring().open(&binding, &bytes).is_err());
    }

    #[test]
    fn sealed_fields_open_only_unaltered_and_bound(
        map in proptest::collection::btree_map("[a-z_]{1,12}", any::<String>(), 1..5),
        flip in any::<prop::sample::Index>(),
        version in 1i64..1000,
    ) {
        let ring = keyring();
        let (id, owner, provider) = (CredentialId::new(), "org:acme".parse::<Owner>().unwrap(), ProviderId::parse("resend").unwrap());
        let binding = Binding { credential_id: &id, owner: &owner, provider: &provider, version };
        let (_, envelope) = ring.seal(&binding, &fields(&map));
        let opened = ring.open(&binding, &envelope).unwrap();
        let back: std::collections::BTreeMap<String, String> =
            opened.iter().map(|(k, v)| (k.clone(), v.expose().to_owned())).collect();
        prop_assert_eq!(&back, &map);
        let mut altered = envelope.clone();
        let at = flip.index(altered.len());
        altered[at] ^= 0x01;
        prop_assert!(ring.open(&binding, &altered).is_err());
        let other = Binding { version: version + 1, ..binding };
        prop_assert!(ring.open(&other, &envelope).is_err());
    }

    #[test]
    fn any_text_as_a_legacy_line_is_refused_or_read_without_panic(line in "\\PC{0,200}") {
        let key = LegacyKey::from_hex(KEY).unwrap();
        let _ = looks_legacy(&line);
        let _ = open_legacy(&key, &line);
    }

    #[test]
    fn legacy_shaped_noise_never_panics(iv in "[0-9a-f]{0,40}", tag in "[0-9a-fA-F]{0,40}", body in "[0-9a-fG]{0,64}") {
        let key = LegacyKey::from_hex(KEY).unwrap();
        let line = format!("{iv}:{tag}:{body}");
        prop_assert!(open_legacy(&key, &line).is_err());
    }

    #[test]
    fn a_legacy_line_written_as_node_writes_it_reads_back(secret in "\\PC{1,80}", iv in any::<[u8; 12]>()) {
        let cipher = Aes256Gcm::new_from_slice(&hex::decode(KEY).unwrap()).unwrap();
        let sealed = cipher.encrypt(&Nonce::from(iv), secret.as_bytes()).unwrap();
        let (body, tag) = sealed.split_at(sealed.len() - 16);
        let line = format!("{}:{}:{}", hex::encode(iv), hex::encode(tag), hex::encode(body));
        prop_assert!(looks_legacy(&line));
        let key = LegacyKey::from_hex(KEY).unwrap();
        let opened = open_legacy(&key, &line).unwrap();
        prop_assert_eq!(opened.expose(), secret.as_str());
    }
}
