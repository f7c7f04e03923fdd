//! Idempotency keys.

use crate::Store;
use crate::db::{Arg, args, write_tx};
use crate::error::StoreError;
use crate::sql::sql;
use crate::types::IdempotencyBegin;

/// How many times `idempotency_begin` looks again when the key's row vanishes between its
/// insert attempt and its read (a concurrent claim, then abandon; only PostgreSQL lets another
/// writer in between).
const IDEMPOTENCY_LOOKS: u32 = 8;

impl Store {
    /// Claims `(scope, key)` for a request whose body hashes to `request_hash`; see
    /// [`IdempotencyBegin`]. A claim older than [`crate::IDEMPOTENCY_IN_PROGRESS_TIMEOUT`] that
    /// was never finished is taken over (`Started`).
    pub async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError> {
        write_tx!(&self.db, "idempotency_begin", |tx| {
            for _ in 0..IDEMPOTENCY_LOOKS {
                // Claim a fresh key. On PostgreSQL a concurrent claim of the same key makes
                // this wait for it to commit, then do nothing.
                let sql = sql!(
                    "INSERT INTO idempotency_keys \
                         (scope, idem_key, request_hash, state, created_at, updated_at) \
                         VALUES ($1, $2, $3, 'in_progress', now(), now()) \
                         ON CONFLICT (scope, idem_key) DO NOTHING"
                );
                if tx.execute(sql, args![scope, key, request_hash]).await? == 1 {
                    return Ok(IdempotencyBegin::Started);
                }
                // Someone has it: read it under its lock, so a take-over below is decided
                // once. The orphan timeout is measured by the clock `now()` is: on
                // PostgreSQL the server's, one clock for every node.
                let sql = sql!(
                    with_sqlite:
                    "SELECT request_hash, state, status, body, \
                     updated_at < now() - make_interval(secs => $3) AS orphaned \
                     FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 FOR UPDATE",
                    "SELECT request_hash, state, status, body, updated_at <= $3 AS orphaned \
                     FROM idempotency_keys WHERE scope = $1 AND idem_key = $2"
                );
                let timeout = Arg::Ago(crate::IDEMPOTENCY_IN_PROGRESS_TIMEOUT);
                let Some(row) = tx
                    .fetch_optional(sql, &[scope.into(), key.into(), timeout])
                    .await?
                else {
                    // Abandoned between the two statements: try to claim it again.
                    continue;
                };
                if row.text("idempotency_keys.request_hash")? != request_hash {
                    return Ok(IdempotencyBegin::Mismatch);
                }
                return match row.text("idempotency_keys.state")?.as_str() {
                    "done" => {
                        let status = row
                            .opt_int32("idempotency_keys.status")?
                            .and_then(|s| u16::try_from(s).ok())
                            .ok_or_else(|| {
                                StoreError::Corrupt(format!(
                                    "idempotency_keys ({scope}, {key}): done without a valid status"
                                ))
                            })?;
                        Ok(IdempotencyBegin::Replay {
                            status,
                            body: row.opt_bytes("idempotency_keys.body")?.unwrap_or_default(),
                        })
                    }
                    "in_progress" => {
                        if !row.boolean("idempotency_keys.orphaned")? {
                            return Ok(IdempotencyBegin::InProgress);
                        }
                        // The first attempt's process is presumed dead: take the claim over.
                        let sql = sql!(
                            "UPDATE idempotency_keys SET updated_at = now() \
                                 WHERE scope = $1 AND idem_key = $2"
                        );
                        tx.execute(sql, args![scope, key]).await?;
                        Ok(IdempotencyBegin::Started)
                    }
                    other => Err(StoreError::Corrupt(format!(
                        "idempotency_keys.state: unknown state {other:?}"
                    ))),
                };
            }
            Err(StoreError::Conflict(format!(
                "idempotency key ({scope}, {key}) keeps being claimed and abandoned concurrently; retry"
            )))
        })
    }

    /// Records the answer to replay for `(scope, key)`.
    pub async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let sql = sql!(
            "UPDATE idempotency_keys SET state = 'done', status = $1, body = $2, \
             updated_at = now() WHERE scope = $3 AND idem_key = $4"
        );
        let args = args![i32::from(status), body, scope, key];
        self.db
            .write_one("idempotency_finish", sql, args, StoreError::from)
            .await
            .map(|_| ())
    }

    /// Forgets an unfinished claim of `(scope, key)`: the first attempt failed without an answer
    /// worth replaying, so a retry runs afresh.
    pub async fn idempotency_abandon(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        // Only an unfinished claim: a finished answer stays replayable.
        let sql = sql!(
            "DELETE FROM idempotency_keys \
             WHERE scope = $1 AND idem_key = $2 AND state = 'in_progress'"
        );
        self.db
            .write_one(
                "idempotency_abandon",
                sql,
                args![scope, key],
                StoreError::from,
            )
            .await
            .map(|_| ())
    }
}
