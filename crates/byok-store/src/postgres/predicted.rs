//! PostgreSQL's batch in one round trip. A taken unit's audit entry names the
//! credential it came from and is MACed, so it can only be made once the pick is known,
//! which costs a round trip between the take and the insert. Instead the writer
//! remembers which credential each (owner, provider) was last taken from. When every
//! audited job of a batch has such a prediction, it makes the entries from the
//! predictions and sends the take and the insert as one statement, which is its own
//! transaction: no `BEGIN` or `COMMIT` to send. The statement writes NULL for an
//! entry's MAC unless the credential it names is among those the take took, so a wrong
//! prediction fails on the audit log's `NOT NULL`, the statement rolls back whole
//! (nothing taken, nothing written), and the batch runs again in two round trips,
//! which teaches the writer the new picks.

use std::collections::HashMap;
use std::sync::LazyLock;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::rows;
use super::writer::{AuditArrays, Batched, Chain, TakeArrays};
use crate::StoreError;
use crate::group_commit::{self, AuditJob, TakeJob, TakenFrom};
use crate::rows::CredentialRow;

/// The take of a round (`$1`–`$4`, as `TAKE`) and the batch's audit entries (`$5`–`$18`,
/// as `INSERT_AUDIT`), in one statement and so one transaction; `$19` names, per
/// entry, the credential the take must have taken for the entry to be written (NULL:
/// none).
pub(crate) static PREDICTED_BATCH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH taken AS ({}), written AS (INSERT INTO audit_log (chain, seq, at, actor_token, actor_role, action, owner, \
         credential_id, provider, outcome, request_id, client_addr, detail, mac) SELECT a.chain, a.seq, a.at, \
         a.actor_token, a.actor_role, a.action, a.owner, a.credential_id, a.provider, a.outcome, a.request_id, \
         a.client_addr, a.detail, CASE WHEN a.expect IS NULL OR EXISTS (SELECT 1 FROM taken t WHERE t.id = a.expect) \
         THEN a.mac END FROM unnest($5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[], \
         $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::bytea[], \
         $19::text[]) AS a(chain, seq, at, actor_token, actor_role, action, owner, credential_id, provider, outcome, \
         request_id, client_addr, detail, mac, expect)) SELECT * FROM taken",
        *super::writer::TAKE
    )
});

/// Most owners remembered; past it the writer starts afresh, so the
/// memory stays bounded whatever the number of owners.
const MAX_PREDICTIONS: usize = 65_536;

/// The credential each (owner, provider) was last taken from by this writer, by owner
/// and then provider.
#[derive(Default)]
pub(crate) struct Predictions(HashMap<String, HashMap<String, String>>);

impl Predictions {
    fn get(&self, job: &TakeJob) -> Option<&str> {
        self.0.get(&job.owner)?.get(&job.provider).map(String::as_str)
    }

    /// Remembers what a committed batch took: a pair that got nothing is forgotten.
    pub(crate) fn learn(&mut self, rounds: &[Vec<TakeJob>], answers: &[Vec<CredentialRow>]) {
        for (round, rows) in rounds.iter().zip(answers) {
            for job in round {
                match rows.iter().find(|r| r.owner == job.owner && r.provider == job.provider) {
                    Some(row) => self.remember(job, &row.id),
                    None => {
                        if let Some(providers) = self.0.get_mut(&job.owner) {
                            providers.remove(&job.provider);
                        }
                    }
                }
            }
        }
    }

    fn remember(&mut self, job: &TakeJob, id: &str) {
        if let Some(known) = self.0.get_mut(&job.owner).and_then(|providers| providers.get_mut(&job.provider)) {
            if known != id {
                id.clone_into(known);
            }
            return;
        }
        if self.0.len() >= MAX_PREDICTIONS && !self.0.contains_key(&job.owner) {
            self.0.clear();
        }
        self.0.entry(job.owner.clone()).or_default().insert(job.provider.clone(), id.to_owned());
    }
}

/// Runs the batch in one round trip if it has at most one round, every audited job's
/// pick is predicted, and the predictions hold. `None`: nothing was written; run the
/// batch the two-trip way. (A second round takes a pair's second unit, a second update
/// of a row already updated by the first round's take: one statement cannot do both.)
pub(crate) async fn batch(
    (client, statement): (&Client, &Statement),
    predictions: &Predictions,
    rounds: &[Vec<TakeJob>],
    audits: &[AuditJob],
    (chainer, last): Chain<'_>,
) -> Result<Option<Batched>, StoreError> {
    let round = match rounds {
        [] => &[][..],
        [round] => round.as_slice(),
        _ => return Ok(None),
    };
    // A new chain registers its genesis first: the two-trip way does that.
    if last.is_none() && round.iter().any(|job| job.audit.is_some()) {
        return Ok(None);
    }
    let mut taken = Vec::new();
    for job in round {
        if let Some(event) = &job.audit {
            let Some(id) = predictions.get(job) else { return Ok(None) };
            taken.push((event.clone(), TakenFrom { owner: &job.owner, provider: &job.provider, id }));
        }
    }
    let mut expects: Vec<Option<&str>> = taken.iter().map(|(_, from)| Some(from.id)).collect();
    let (_, records) = group_commit::chain_take_entries(chainer, last, taken).map_err(StoreError::Metering)?;
    let mut all: Vec<&byok_core::AuditRecord> = records.iter().collect();
    for record in audits.iter().flat_map(|a| a.records.iter()) {
        all.push(record);
        expects.push(None);
    }

    let take_arrays = TakeArrays::new(round);
    let audit_arrays = AuditArrays::new(&all);
    let mut params: Vec<&(dyn ToSql + Sync)> = take_arrays.params().to_vec();
    params.extend(audit_arrays.params());
    params.push(&expects);
    let rows = match client.query(statement, &params).await {
        Ok(rows) => rows,
        Err(e) if is_misprediction(&e) => {
            tracing::debug!("a predicted pick did not hold; the batch runs in two round trips");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let answers = if rounds.is_empty() {
        Vec::new()
    } else {
        vec![rows.iter().map(rows::credential).collect::<Result<Vec<_>, _>>()?]
    };
    Ok(Some((answers, records.last().cloned())))
}

/// The guard of [`PREDICTED_BATCH`] refused an entry: its credential was not taken.
fn is_misprediction(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::NOT_NULL_VIOLATION && db.table() == Some("audit_log") && db.column() == Some("mac")
    })
}

#[cfg(test)]
#[path = "predicted_tests.rs"]
mod tests;
