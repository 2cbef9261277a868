//! One delivery attempt: the Standard Webhooks headers, and what its result means for
//! the next one.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok_core::Timestamp;
use byok_providers::SendFailure as Failure;
use byok_store::Attempt;

/// `webhook-id`, `webhook-timestamp` and `webhook-signature` for a body sent at `at`.
pub(super) fn headers(secret: &[u8], event_id: &str, at: Timestamp, body: &str) -> [(&'static str, String); 3] {
    let timestamp = at.millis().div_euclid(1000);
    let signature = byok_crypto::sign_webhook(secret, event_id, timestamp, body.as_bytes());
    [
        ("webhook-id", event_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", format!("v1,{}", STANDARD.encode(signature))),
    ]
}

/// What an attempt's result means: delivered on a 2xx; for good on another 4xx than
/// 408 and 429 or an address the guard refuses; otherwise again after the schedule's
/// wait for this attempt (with ±10 % jitter), until the schedule runs out.
pub(super) fn outcome(
    result: Result<u16, Failure>,
    attempts_before: i32,
    schedule: &[Duration],
    now: Timestamp,
) -> Attempt {
    let (status, error, retryable) = match result {
        Ok(status) if (200..300).contains(&status) => return Attempt::Delivered { status },
        Ok(status) => {
            (Some(status), format!("answered {status}"), !(400..500).contains(&status) || matches!(status, 408 | 429))
        }
        Err(Failure::Timeout) => (None, "timed out".to_owned(), true),
        Err(Failure::Connect) => (None, "could not connect".to_owned(), true),
        Err(Failure::Blocked) => (None, "the address is not allowed (private network)".to_owned(), false),
        Err(Failure::Other) => (None, "the request failed".to_owned(), true),
    };
    let wait = usize::try_from(attempts_before).ok().and_then(|i| schedule.get(i));
    match wait {
        Some(wait) if retryable => Attempt::Retry { status, error, at: now.plus_millis(jittered(*wait)) },
        Some(_) => Attempt::GiveUp { status, error },
        None => Attempt::GiveUp { status, error: format!("{error}; no attempt left") },
    }
}

/// `wait` in milliseconds, moved by up to 10 % either way so that retries of many
/// deliveries do not arrive together.
fn jittered(wait: Duration) -> i64 {
    let millis = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
    let spread = millis / 10;
    if spread == 0 {
        return millis;
    }
    let random = (uuid::Uuid::new_v4().as_u128() % (2 * spread as u128 + 1)) as i64;
    millis - spread + random
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(300)];

    #[test]
    fn a_2xx_is_delivered_and_a_refusal_is_final() {
        let now = Timestamp::from_millis(0);
        assert_eq!(outcome(Ok(204), 0, &SCHEDULE, now), Attempt::Delivered { status: 204 });
        assert!(matches!(outcome(Ok(410), 0, &SCHEDULE, now), Attempt::GiveUp { status: Some(410), .. }));
        assert!(matches!(outcome(Err(Failure::Blocked), 0, &SCHEDULE, now), Attempt::GiveUp { status: None, .. }));
    }

    #[test]
    fn server_errors_timeouts_408_and_429_retry_on_the_schedule_until_it_ends() {
        let now = Timestamp::from_millis(1_000_000);
        for result in [Ok(500), Ok(503), Ok(408), Ok(429), Err(Failure::Timeout), Err(Failure::Connect)] {
            match outcome(result, 0, &SCHEDULE, now) {
                Attempt::Retry { at, .. } => assert!((1_004_500..=1_005_500).contains(&at.millis()), "{result:?}"),
                other => panic!("{result:?} gave {other:?}"),
            }
            match outcome(result, 1, &SCHEDULE, now) {
                Attempt::Retry { at, .. } => assert!((1_270_000..=1_330_000).contains(&at.millis()), "{result:?}"),
                other => panic!("{result:?} gave {other:?}"),
            }
            assert!(matches!(outcome(result, 2, &SCHEDULE, now), Attempt::GiveUp { .. }), "{result:?}");
        }
    }

    #[test]
    fn signatures_follow_the_specification() {
        let [id, timestamp, signature] = headers(b"key", "msg_1", Timestamp::from_millis(1_614_265_330_999), "{}");
        assert_eq!(id, ("webhook-id", "msg_1".to_owned()));
        assert_eq!(timestamp, ("webhook-timestamp", "1614265330".to_owned()));
        let expected = STANDARD.encode(byok_crypto::sign_webhook(b"key", "msg_1", 1_614_265_330, b"{}"));
        assert_eq!(signature.1, format!("v1,{expected}"));
    }
}
