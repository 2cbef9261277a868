//! The writer thread's batches, run directly so that two jobs surely share one.

use std::sync::{Arc, OnceLock};

use byok_core::{AuditEvent, AuditRecord, Timestamp};
use tokio::sync::oneshot;

use super::*;
use crate::group_commit::AuditJob;

const OWNER: &str = "user:alice";

async fn migrated_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("byok.db");
    crate::sqlite::SqliteStore::connect(&format!("sqlite://{}", path.display())).await.expect("migrated");
    let conn = open(&path).expect("opens");
    conn.execute(
        "INSERT INTO credentials (id, owner, provider, label, config, secret_hints, key_id, sealed, status, \
         enabled, priority, usage_total, usage_period, period_start, version, revision, created_at, updated_at) \
         VALUES ('00000000-0000-4000-8000-000000000001', ?1, 'openai', 'default', '{}', '{}', 'k1', x'00', \
         'untested', 1, 0, 0, 0, 0, 1, 1, 0, 0)",
        [OWNER],
    )
    .expect("credential inserted");
    (dir, path)
}

fn take_job() -> (Job, oneshot::Receiver<Result<Option<CredentialRow>, StoreError>>) {
    let (reply, answer) = oneshot::channel();
    let job = TakeJob { owner: OWNER.into(), provider: "openai".into(), period: 0, now: 5, audit: None, reply };
    (Job::Take(Box::new(job)), answer)
}

fn audit_job(record: &AuditRecord) -> (Job, oneshot::Receiver<Result<(), StoreError>>) {
    let (reply, answer) = oneshot::channel();
    (Job::Audit(AuditJob { records: vec![record.clone()], counts: None, reply }), answer)
}

fn count(path: &Path, sql: &str) -> i64 {
    open(path).expect("opens").query_row(sql, [], |r| r.get(0)).expect("counted")
}

#[tokio::test]
async fn a_failed_batch_is_undone_whole_and_the_next_one_works() {
    let (_dir, path) = migrated_db().await;
    let mut worker = Worker { chainer: Arc::new(OnceLock::new()), last: None, conn: Some(open(&path).unwrap()) };
    let record = AuditRecord {
        chain: "test-chain".into(),
        seq: 1,
        at: Timestamp::from_millis(1),
        event: AuditEvent { action: "test.entry".into(), outcome: "ok".into(), ..AuditEvent::default() },
        mac: vec![7; 32],
    };
    let (job, written) = audit_job(&record);
    run_batch(vec![job], &mut worker, &path, &mut TakeSql::default());
    written.await.unwrap().expect("the first entry is written");

    // The same entry again breaks its batch, and the unit taken first in it goes too.
    let (take, taken) = take_job();
    let (repeat, repeated) = audit_job(&record);
    run_batch(vec![take, repeat], &mut worker, &path, &mut TakeSql::default());
    assert!(repeated.await.unwrap().is_err(), "a repeated entry is refused");
    assert!(taken.await.unwrap().is_err(), "the unit shared the failed batch, so it is refused too");
    assert!(worker.conn.is_none(), "the failed batch's connection is dropped");
    assert_eq!(count(&path, "SELECT usage_total FROM credentials"), 0, "the failed batch's unit is not counted");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM audit_log"), 1, "the failed batch wrote no entry");

    let (take, taken) = take_job();
    run_batch(vec![take], &mut worker, &path, &mut TakeSql::default());
    let row = taken.await.unwrap().expect("the next batch works").expect("a unit is taken");
    assert_eq!((row.owner.as_str(), row.usage_total, row.last_used_at), (OWNER, 1, Some(5)));
    assert_eq!(count(&path, "SELECT usage_total FROM credentials"), 1);
}

#[tokio::test]
async fn a_statement_binds_its_numbered_parameters_by_number_in_the_batch() {
    let (_dir, path) = migrated_db().await;
    let mut worker = Worker { chainer: Arc::new(OnceLock::new()), last: None, conn: Some(open(&path).unwrap()) };
    // `?2` comes first in the text: bound in order of appearance it would take the id's place.
    let sql = "UPDATE credentials SET usage_total = usage_total + ?2, last_used_at = ?3 WHERE id = ?1";
    let statement = |id: &str, reply| {
        let args = vec![Arg::Text(id.into()), Arg::Int(4), Arg::Int(9)];
        Job::Statement(crate::group_commit::StatementJob { sql, args, changed: 0, reply })
    };
    let (reply, changed) = oneshot::channel();
    let (missing_reply, missing) = oneshot::channel();
    let (take, taken) = take_job();
    let jobs =
        vec![statement("00000000-0000-4000-8000-000000000001", reply), statement("no-such-id", missing_reply), take];
    run_batch(jobs, &mut worker, &path, &mut TakeSql::default());
    assert_eq!(changed.await.unwrap().expect("ran"), 1, "the row named by ?1 changed");
    assert_eq!(missing.await.unwrap().expect("ran"), 0, "no row has that id");
    assert_eq!(taken.await.unwrap().expect("the batch's take").expect("a unit").usage_total, 5);
    assert_eq!(count(&path, "SELECT usage_total FROM credentials"), 5, "4 by the statement, 1 by the take");
    assert_eq!(count(&path, "SELECT last_used_at FROM credentials"), 5, "the take's time, after the statement's");
}
