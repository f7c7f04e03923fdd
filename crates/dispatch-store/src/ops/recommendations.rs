//! Recommendation requests and audit records.

use dispatch_core::AuditId;
use serde_json::value::RawValue;

use crate::Store;
use crate::db::{Arg, Tx, args, doc, write_tx};
use crate::error::{
    StoreError, audit_insert_error, is_foreign_key_violation, recommendation_insert_error,
};
use crate::ops::outbox::{encode_events, insert_events};
use crate::rows;
use crate::sql::{Sql, sql};
use crate::types::{AuditRecord, NewOutboxEvent, RecommendationRecord, RequestId};

/// Inserts an audit record.
static INSERT_AUDIT: Sql = Sql::new(
    "INSERT INTO audits \
     (id, request_id, region_id, job_id, config_version, created_at, body, decision) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
);

/// An audit record with its documents encoded, so encoding errors surface before the
/// transaction starts.
#[derive(Debug)]
pub(crate) struct AuditArgs<'a> {
    pub(crate) audit: &'a AuditRecord,
    pub(crate) body: Box<RawValue>,
    pub(crate) decision: Option<Box<RawValue>>,
}

impl<'a> AuditArgs<'a> {
    /// Encodes `audit`.
    pub(crate) fn encode(audit: &'a AuditRecord) -> Result<Self, StoreError> {
        Ok(Self {
            audit,
            body: doc(audit, "audit record")?,
            decision: audit
                .decision
                .as_ref()
                .map(|d| doc(d, "decision"))
                .transpose()?,
        })
    }
}

impl AuditArgs<'_> {
    /// The arguments of [`INSERT_AUDIT`].
    fn args(&self) -> [Arg<'_>; 8] {
        let a = self.audit;
        [
            a.audit_id.into(),
            a.request_id.into(),
            (&a.region).into(),
            a.job.id.into(),
            i64::from(a.config_version).into(),
            a.created_at.into(),
            (&*self.body).into(),
            self.decision.as_deref().into(),
        ]
    }

    /// The error of inserting it.
    fn error(&self, e: sqlx::Error) -> StoreError {
        audit_insert_error(
            e,
            self.audit.audit_id,
            self.audit.job.id,
            &self.audit.region,
        )
    }
}

/// Inserts an audit record in `tx`.
pub(crate) async fn insert_audit(tx: &mut Tx, audit: &AuditArgs<'_>) -> Result<(), StoreError> {
    tx.execute(&INSERT_AUDIT, &audit.args())
        .await
        .map(|_| ())
        .map_err(|e| audit.error(e))
}

/// A recommendation's arguments: `request_id, job_id, region_id, status, error,
/// requested_at, body`.
fn recommendation_args<'a>(rec: &'a RecommendationRecord, body: &'a RawValue) -> [Arg<'a>; 7] {
    [
        rec.request_id.into(),
        rec.job_id.into(),
        (&rec.region).into(),
        rec.status.as_str().into(),
        rec.error.as_deref().into(),
        rec.requested_at.into(),
        body.into(),
    ]
}

impl Store {
    /// Stores a new recommendation request (normally `pending`); a duplicate request id is
    /// `Conflict`.
    pub async fn create_recommendation(
        &self,
        rec: &RecommendationRecord,
    ) -> Result<(), StoreError> {
        let body = doc(rec, "recommendation")?;
        let sql = sql!(
            "INSERT INTO recommendations \
             (request_id, job_id, region_id, status, error, requested_at, updated_at, body) \
             VALUES ($1, $2, $3, $4, $5, $6, now(), $7)"
        );
        let args = &recommendation_args(rec, &body);
        self.db
            .write_one("create_recommendation", sql, args, |e| {
                recommendation_insert_error(e, rec)
            })
            .await
            .map(|_| ())
    }

    /// A recommendation by request id.
    pub async fn recommendation(
        &self,
        request_id: RequestId,
    ) -> Result<Option<RecommendationRecord>, StoreError> {
        let sql = sql!("SELECT status, error, body FROM recommendations WHERE request_id = $1");
        let row = self.db.fetch_optional(sql, args![request_id]).await?;
        row.as_ref().map(rows::recommendation).transpose()
    }

    /// Requests still pending, oldest first: a process that died with work queued leaves them
    /// behind, and the next one computes them.
    pub async fn pending_recommendations(&self, limit: u32) -> Result<Vec<RequestId>, StoreError> {
        let sql = sql!(
            "SELECT request_id FROM recommendations WHERE status = 'pending' \
             ORDER BY requested_at, request_id LIMIT $1"
        );
        let found = self.db.fetch_all(sql, args![i64::from(limit)]).await?;
        found
            .iter()
            .map(|row| row.id("recommendations.request_id"))
            .collect()
    }

    /// Stores the finished recommendation (replacing the pending one, or inserting it), its
    /// audit record, and `events`, in one transaction; `false`, writing nothing, when the request
    /// was finished already. Two nodes may compute one request (a restarted node resumes every
    /// pending request, some still under way elsewhere): only the first to finish stores its
    /// result and announces it, so a request is announced once.
    pub async fn complete_recommendation(
        &self,
        rec: &RecommendationRecord,
        audit: &AuditRecord,
        events: &[NewOutboxEvent],
    ) -> Result<bool, StoreError> {
        let body = doc(rec, "recommendation")?;
        let audit = AuditArgs::encode(audit)?;
        let events = encode_events(events)?;
        write_tx!(&self.db, "complete_recommendation", |tx| {
            // An upsert: normally the pending row exists, but a lost pending row must not
            // lose the finished result.
            let sql = sql!(
                "INSERT INTO recommendations \
                     (request_id, job_id, region_id, status, error, requested_at, updated_at, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, now(), $7) \
                     ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, \
                     error = excluded.error, updated_at = excluded.updated_at, body = excluded.body \
                     WHERE recommendations.status = 'pending'"
            );
            let stored = tx
                .execute(sql, &recommendation_args(rec, &body))
                .await
                .map_err(|e| {
                    if is_foreign_key_violation(&e) {
                        StoreError::Conflict(format!("job {} does not exist", rec.job_id))
                    } else {
                        e.into()
                    }
                })?;
            if stored == 0 {
                return Ok(false);
            }
            insert_audit(tx, &audit).await?;
            insert_events(tx, &events).await?;
            Ok(true)
        })
    }

    /// Marks a pending recommendation failed with `error` and appends `events`, in one
    /// transaction. Nothing happens (no events either) when there is no such pending request.
    pub async fn fail_recommendation(
        &self,
        request_id: RequestId,
        error: &str,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        let events = encode_events(events)?;
        write_tx!(&self.db, "fail_recommendation", |tx| {
            let sql = sql!(
                "UPDATE recommendations SET status = 'failed', error = $1, updated_at = now() \
                     WHERE request_id = $2 AND status = 'pending'"
            );
            // Nothing to report for a request that does not exist.
            if tx.execute(sql, args![error, request_id]).await? > 0 {
                insert_events(tx, &events).await?;
            }
            Ok(())
        })
    }

    /// Stores an audit record on its own (a manual assignment without a recommendation still
    /// gets one); a duplicate id is `Conflict`.
    pub async fn create_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let audit = AuditArgs::encode(audit)?;
        self.db
            .write_one("create_audit", &INSERT_AUDIT, &audit.args(), |e| {
                audit.error(e)
            })
            .await
            .map(|_| ())
    }

    /// An audit record by id, with its decision if one was made.
    pub async fn audit(&self, id: AuditId) -> Result<Option<AuditRecord>, StoreError> {
        let sql = sql!("SELECT body, decision FROM audits WHERE id = $1");
        let Some(row) = self.db.fetch_optional(sql, args![id]).await? else {
            return Ok(None);
        };
        let mut audit: AuditRecord = row.doc("audits.body")?;
        audit.decision = row.opt_doc("audits.decision")?;
        Ok(Some(audit))
    }
}
