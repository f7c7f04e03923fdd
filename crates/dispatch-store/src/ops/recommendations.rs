//! Recommendation requests and audit records.
//!
//! A finished recommendation and its audit record share their exclusions — on a large region
//! ~10,000 contractors per request — so those are stored once, with the audit record, in the
//! compact form of [`crate::exclusions`]; both bodies are written with an empty `excluded`,
//! and reading either (the result joins its audit record) fills it in again. Rows written
//! before migration 6 keep the exclusions in their bodies and read as they always did.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dispatch_core::{AuditId, Candidate, Exclusion, Job, JobId, PlanId, RegionId};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::Store;
use crate::db::{Arg, Row, Tx, args, doc, write_tx};
use crate::error::{
    StoreError, audit_insert_error, is_foreign_key_violation, recommendation_insert_error,
};
use crate::exclusions;
use crate::ops::outbox::{encode_events, insert_events};
use crate::rows;
use crate::sql::{Sql, sql};
use crate::types::{
    AuditRecord, Decision, NewOutboxEvent, RecommendationRecord, RecommendationStatus, RequestId,
    excluded_counts,
};

/// Inserts an audit record.
static INSERT_AUDIT: Sql = Sql::new(
    "INSERT INTO audits \
     (id, request_id, region_id, job_id, config_version, created_at, body, decision, exclusions) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
);

/// No exclusions: what a stored body holds in their place.
const NO_EXCLUSIONS: &[Exclusion] = &[];

/// An [`AuditRecord`] as its body is stored: every field but the exclusions, which are in the
/// `exclusions` column. Mirrors the record field for field (a test compares the two), so the
/// body decodes as an `AuditRecord` with an empty `excluded`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditBody<'a> {
    audit_id: AuditId,
    request_id: Option<RequestId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan_id: Option<PlanId>,
    region: &'a RegionId,
    job: &'a Job,
    config_version: u32,
    requested_by: &'a str,
    created_at: DateTime<Utc>,
    candidates: &'a [Candidate],
    excluded: &'a [Exclusion],
    evaluated: usize,
    decision: Option<&'a Decision>,
}

impl<'a> AuditBody<'a> {
    /// `audit`'s body, its exclusions left out.
    fn of(audit: &'a AuditRecord) -> Self {
        Self {
            audit_id: audit.audit_id,
            request_id: audit.request_id,
            plan_id: audit.plan_id,
            region: &audit.region,
            job: &audit.job,
            config_version: audit.config_version,
            requested_by: &audit.requested_by,
            created_at: audit.created_at,
            candidates: &audit.candidates,
            excluded: NO_EXCLUSIONS,
            evaluated: audit.evaluated,
            decision: audit.decision.as_ref(),
        }
    }
}

/// A [`RecommendationRecord`] as its body is stored: every field but the exclusions, which are
/// its audit record's, with their counts (so a summary is read without them). Mirrors the
/// record field for field (a test compares the two).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecommendationBody<'a> {
    request_id: RequestId,
    job_id: JobId,
    region: &'a RegionId,
    status: RecommendationStatus,
    limit: u32,
    auto_assign: bool,
    requested_by: &'a str,
    requested_at: DateTime<Utc>,
    config_version: Option<u32>,
    generated_at: Option<DateTime<Utc>>,
    audit_id: Option<AuditId>,
    candidates: &'a [Candidate],
    excluded: &'a [Exclusion],
    excluded_counts: BTreeMap<String, usize>,
    error: Option<&'a str>,
}

impl<'a> RecommendationBody<'a> {
    /// `rec`'s body, its exclusions left out and `excluded_counts` in.
    fn of(rec: &'a RecommendationRecord, excluded_counts: BTreeMap<String, usize>) -> Self {
        Self {
            request_id: rec.request_id,
            job_id: rec.job_id,
            region: &rec.region,
            status: rec.status,
            limit: rec.limit,
            auto_assign: rec.auto_assign,
            requested_by: &rec.requested_by,
            requested_at: rec.requested_at,
            config_version: rec.config_version,
            generated_at: rec.generated_at,
            audit_id: rec.audit_id,
            candidates: &rec.candidates,
            excluded: NO_EXCLUSIONS,
            excluded_counts,
            error: rec.error.as_deref(),
        }
    }
}

/// An audit record with its documents encoded, so encoding errors surface before the
/// transaction starts.
#[derive(Debug)]
pub(crate) struct AuditArgs<'a> {
    pub(crate) audit: &'a AuditRecord,
    pub(crate) body: Box<RawValue>,
    pub(crate) decision: Option<Box<RawValue>>,
    /// The exclusions, compact ([`crate::exclusions`]); `body` has none.
    exclusions: Vec<u8>,
}

impl<'a> AuditArgs<'a> {
    /// Encodes `audit`: its body without the exclusions, and the exclusions compactly.
    pub(crate) fn encode(audit: &'a AuditRecord) -> Result<Self, StoreError> {
        Ok(Self {
            audit,
            body: doc(&AuditBody::of(audit), "audit record")?,
            decision: audit
                .decision
                .as_ref()
                .map(|d| doc(d, "decision"))
                .transpose()?,
            exclusions: exclusions::encode(&audit.excluded)?,
        })
    }
}

impl AuditArgs<'_> {
    /// The arguments of [`INSERT_AUDIT`].
    fn args(&self) -> [Arg<'_>; 9] {
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
            self.exclusions.as_slice().into(),
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

/// The exclusions of a row's `exclusions` column, when it has them (else they are in the
/// body, as written before migration 6, or there are none).
fn stored_exclusions(row: &Row, what: &str) -> Result<Option<Vec<Exclusion>>, StoreError> {
    row.opt_bytes(what)?
        .map(|bytes| exclusions::decode(&bytes))
        .transpose()
}

/// A recommendation's arguments: `request_id, job_id, region_id, status, error,
/// requested_at, body, audit_id`.
fn recommendation_args<'a>(rec: &'a RecommendationRecord, body: &'a RawValue) -> [Arg<'a>; 8] {
    [
        rec.request_id.into(),
        rec.job_id.into(),
        (&rec.region).into(),
        rec.status.as_str().into(),
        rec.error.as_deref().into(),
        rec.requested_at.into(),
        body.into(),
        rec.audit_id.into(),
    ]
}

impl Store {
    /// Stores a new recommendation request (normally `pending`); a duplicate request id is
    /// `Conflict`.
    pub async fn create_recommendation(
        &self,
        rec: &RecommendationRecord,
    ) -> Result<(), StoreError> {
        let counts = rec.excluded_counts.clone();
        let body = doc(&RecommendationBody::of(rec, counts), "recommendation")?;
        let sql = sql!(
            "INSERT INTO recommendations \
             (request_id, job_id, region_id, status, error, requested_at, updated_at, body, \
              audit_id) \
             VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8)"
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
        // The exclusions are its audit record's (stored once, with it).
        let sql = sql!(
            "SELECT r.status, r.error, r.body, a.exclusions FROM recommendations r \
             LEFT JOIN audits a ON a.id = r.audit_id WHERE r.request_id = $1"
        );
        let Some(row) = self.db.fetch_optional(sql, args![request_id]).await? else {
            return Ok(None);
        };
        let mut rec = rows::recommendation(&row)?;
        if let Some(excluded) = stored_exclusions(&row, "audits.exclusions")? {
            rec.excluded = excluded;
        }
        Ok(Some(rec))
    }

    /// A recommendation by request id without its exclusions (`excluded` empty,
    /// `excluded_counts` as stored): a summary, which does not read the ~20 bytes per excluded
    /// contractor that [`Store::recommendation`] decodes. A result stored before migration 6
    /// still has them in its body, and gives them.
    pub async fn recommendation_summary(
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
    ///
    /// The result's exclusions are its audit record's: `audit.excluded` is stored once and
    /// read back with either, and `rec.excluded` is not written (pass it empty rather than a
    /// copy). `rec.audit_id` must name `audit`.
    pub async fn complete_recommendation(
        &self,
        rec: &RecommendationRecord,
        audit: &AuditRecord,
        events: &[NewOutboxEvent],
    ) -> Result<bool, StoreError> {
        if rec.audit_id != Some(audit.audit_id) {
            return Err(StoreError::Invalid(format!(
                "recommendation {} names audit record {:?}, not {}",
                rec.request_id, rec.audit_id, audit.audit_id
            )));
        }
        let counts = excluded_counts(&audit.excluded);
        let body = doc(&RecommendationBody::of(rec, counts), "recommendation")?;
        let audit = AuditArgs::encode(audit)?;
        let events = encode_events(events)?;
        write_tx!(&self.db, "complete_recommendation", |tx| {
            // An upsert: normally the pending row exists, but a lost pending row must not
            // lose the finished result.
            let sql = sql!(
                "INSERT INTO recommendations \
                     (request_id, job_id, region_id, status, error, requested_at, updated_at, body, \
                      audit_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8) \
                     ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, \
                     error = excluded.error, updated_at = excluded.updated_at, body = excluded.body, \
                     audit_id = excluded.audit_id \
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
        let sql = sql!("SELECT body, decision, exclusions FROM audits WHERE id = $1");
        let Some(row) = self.db.fetch_optional(sql, args![id]).await? else {
            return Ok(None);
        };
        let mut audit: AuditRecord = row.doc("audits.body")?;
        audit.decision = row.opt_doc("audits.decision")?;
        if let Some(excluded) = stored_exclusions(&row, "audits.exclusions")? {
            audit.excluded = excluded;
        }
        Ok(Some(audit))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use dispatch_core::{
        Breakdown, ContractorId, ExclusionReason, GeoPoint, Priority, SkillName, Travel,
        TravelOrigin, TravelSource,
    };

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0)
            .single()
            .expect("valid")
    }

    fn candidate() -> Candidate {
        Candidate {
            rank: 1,
            contractor_id: ContractorId::from_u128(1),
            score: 80.0,
            breakdown: Breakdown {
                travel_time: 1.0,
                earliest_start: 2.0,
                skill_fit: 3.0,
                rating: 4.0,
                workload: 5.0,
            },
            start_utc: at(),
            end_utc: at(),
            travel: Travel {
                distance_km: 1.5,
                minutes: 3,
                source: TravelSource::Estimate,
                from: TravelOrigin::Home,
            },
        }
    }

    fn exclusion() -> Exclusion {
        Exclusion {
            contractor_id: ContractorId::from_u128(2),
            reason: ExclusionReason::MissingSkill {
                skill: SkillName::new("plumbing"),
                required_level: 2,
                actual_level: None,
            },
        }
    }

    /// The JSON of `value` with `excluded` emptied.
    fn without_exclusions(value: &impl Serialize) -> serde_json::Value {
        let mut json = serde_json::to_value(value).expect("encode");
        json["excluded"] = serde_json::json!([]);
        json
    }

    #[test]
    fn stored_bodies_are_the_records_without_their_exclusions() {
        // A field added to a record but not to its stored body would be lost: compare them.
        let job: Job = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000009", "region": "west", "title": "Leak",
            "location": GeoPoint::new(37.7, -122.4), "requiredSkills": [],
            "priority": Priority::High, "windowStartUtc": at(), "windowEndUtc": at(),
            "durationMinutes": 60, "status": "open"
        }))
        .expect("job");
        let audit = AuditRecord {
            audit_id: AuditId::from_u128(7),
            request_id: Some(RequestId::from_u128(8)),
            plan_id: Some(PlanId::from_u128(9)),
            region: RegionId::new("west"),
            job,
            config_version: 3,
            requested_by: "dee".into(),
            created_at: at(),
            candidates: vec![candidate()],
            excluded: vec![exclusion()],
            evaluated: 2,
            decision: None,
        };
        assert_eq!(
            serde_json::to_value(AuditBody::of(&audit)).expect("encode"),
            without_exclusions(&audit)
        );
        let rec = RecommendationRecord {
            request_id: RequestId::from_u128(8),
            job_id: audit.job.id,
            region: RegionId::new("west"),
            status: RecommendationStatus::Ready,
            limit: 5,
            auto_assign: true,
            requested_by: "dee".into(),
            requested_at: at(),
            config_version: Some(3),
            generated_at: Some(at()),
            audit_id: Some(audit.audit_id),
            candidates: vec![candidate()],
            excluded: vec![exclusion()],
            excluded_counts: excluded_counts(&[exclusion()]),
            error: Some("why".into()),
        };
        assert_eq!(
            serde_json::to_value(RecommendationBody::of(&rec, rec.excluded_counts.clone()))
                .expect("encode"),
            without_exclusions(&rec)
        );
    }
}
