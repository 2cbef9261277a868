//! Standard Webhooks signing: an endpoint's secret is 24 random bytes, and each
//! delivery carries `v1,` and the HMAC-SHA256 of `"{id}.{timestamp}.{body}"` under it.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// A new endpoint signing secret (192 bits, as the specification suggests at least).
pub fn generate_webhook_secret() -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(vec![0u8; 24]);
    SystemRandom::new().fill(&mut bytes).expect("system random source");
    bytes
}

/// The HMAC-SHA256 of one delivery under `secret`.
pub fn sign_webhook(secret: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification: secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, signature
    /// `v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=` (here in hex).
    #[test]
    fn signs_as_the_specification_example() {
        let secret = hex::decode("31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0").unwrap();
        let signature = sign_webhook(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(hex::encode(signature), "83484cf52b04f8e4cf2531adfed9882ad4b2665137b852442d594d20e2c9d4e1");
    }

    #[test]
    fn secrets_are_random() {
        assert_ne!(*generate_webhook_secret(), *generate_webhook_secret());
        assert_eq!(generate_webhook_secret().len(), 24);
    }
}
