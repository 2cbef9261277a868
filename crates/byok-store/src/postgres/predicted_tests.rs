use tokio::sync::oneshot;

use super::{MAX_PREDICTIONS, Predictions};
use crate::group_commit::TakeJob;
use crate::rows::CredentialRow;

fn job(owner: &str) -> TakeJob {
    TakeJob {
        owner: owner.to_owned(),
        provider: "openai".to_owned(),
        period: 0,
        now: 0,
        audit: None,
        reply: oneshot::channel().0,
    }
}

fn row(id: &str, owner: &str) -> CredentialRow {
    CredentialRow {
        id: id.to_owned(),
        owner: owner.to_owned(),
        provider: "openai".to_owned(),
        label: "default".to_owned(),
        config: "{}".to_owned(),
        secret_hints: "{}".to_owned(),
        key_id: "k1".to_owned(),
        sealed: Vec::new(),
        status: "untested".to_owned(),
        status_message: None,
        last_tested_at: None,
        last_used_at: None,
        enabled: true,
        priority: 0,
        monthly_limit: None,
        monthly_token_limit: None,
        rate_limit_per_minute: None,
        usage_total: 1,
        usage_period: 1,
        period_start: 0,
        version: 1,
        revision: 1,
        created_at: 0,
        updated_at: 0,
        verifying_since: None,
    }
}

#[test]
fn a_prediction_follows_the_last_pick_and_is_forgotten_when_nothing_was_taken() {
    let mut predictions = Predictions::default();
    let alice = || vec![vec![job("user:alice")]];
    assert_eq!(predictions.get(&job("user:alice")), None, "nothing taken yet");
    predictions.learn(&alice(), &[vec![row("c1", "user:alice")]]);
    assert_eq!(predictions.get(&job("user:alice")), Some("c1"));
    assert_eq!(predictions.get(&job("user:bob")), None, "another owner is not predicted from alice's pick");
    predictions.learn(&alice(), &[vec![row("c2", "user:alice")]]);
    assert_eq!(predictions.get(&job("user:alice")), Some("c2"), "a new pick replaces the old");
    predictions.learn(&alice(), &[Vec::new()]);
    assert_eq!(predictions.get(&job("user:alice")), None, "a pair that got nothing is not predicted");
}

#[test]
fn the_remembered_owners_stay_bounded() {
    let mut predictions = Predictions::default();
    for i in 0..MAX_PREDICTIONS {
        let owner = format!("user:u{i}");
        predictions.learn(&[vec![job(&owner)]], &[vec![row(&format!("c{i}"), &owner)]]);
    }
    assert_eq!(predictions.0.len(), MAX_PREDICTIONS);
    predictions.learn(&[vec![job("user:one-more")]], &[vec![row("c-new", "user:one-more")]]);
    assert_eq!(predictions.0.len(), 1, "past the bound the writer starts afresh");
    assert_eq!(predictions.get(&job("user:one-more")), Some("c-new"));
    assert_eq!(predictions.get(&job("user:u0")), None);
}
