//! Result rows → the store's types, written once for both backends over [`Row`]'s typed
//! columns. Where a key column and the document could disagree, the column wins (a job's
//! `status`; a recommendation's `status` and `error`; a configuration's `version`).

use dispatch_core::{
    Assignment, Booking, Contractor, GeoPoint, Job, Region, RegionId, ScoringConfig,
};

use crate::codec::{Cursor, CursorKind, parse_job_status, parse_source, ts};
use crate::db::Row;
use crate::error::StoreError;
use crate::types::{
    OutboxEvent, Page, PlanRecord, PlanStatus, RecommendationRecord, RecommendationStatus,
};

/// `id, name, time_zone`.
pub(crate) fn region(row: &Row) -> Result<Region, StoreError> {
    let id = row.text("regions.id")?;
    let tz = row.text("regions.time_zone")?;
    Ok(Region {
        time_zone: tz.parse().map_err(|_| {
            StoreError::Corrupt(format!("regions.time_zone of {id}: unknown zone {tz:?}"))
        })?,
        name: row.text("regions.name")?,
        id: RegionId::new(id),
    })
}

/// `body`.
pub(crate) fn contractor(row: &Row) -> Result<Contractor, StoreError> {
    row.doc("contractors.body")
}

/// `status, body`.
pub(crate) fn job(row: &Row) -> Result<Job, StoreError> {
    let mut job: Job = row.doc("jobs.body")?;
    job.status = parse_job_status(&row.text("jobs.status")?)?;
    Ok(job)
}

/// `id, job_id, contractor_id, audit_id, start_utc, end_utc, source`.
pub(crate) fn assignment(row: &Row) -> Result<Assignment, StoreError> {
    Ok(Assignment {
        id: row.id("assignments.id")?,
        job_id: row.id("assignments.job_id")?,
        contractor_id: row.id("assignments.contractor_id")?,
        start_utc: row.time("assignments.start_utc")?,
        end_utc: row.time("assignments.end_utc")?,
        source: parse_source(&row.text("assignments.source")?)?,
        audit_id: row.id("assignments.audit_id")?,
    })
}

/// An assignment's `id, job_id, contractor_id, start_utc, end_utc` and its job's `lat, lon`.
pub(crate) fn booking(row: &Row) -> Result<Booking, StoreError> {
    Ok(Booking {
        assignment_id: row.id("assignments.id")?,
        job_id: row.id("assignments.job_id")?,
        contractor_id: row.id("assignments.contractor_id")?,
        start_utc: row.time("assignments.start_utc")?,
        end_utc: row.time("assignments.end_utc")?,
        location: GeoPoint::new(row.real("jobs.lat")?, row.real("jobs.lon")?),
    })
}

/// `sequence, shard, channels, target, payload, created_at`.
pub(crate) fn outbox_event(row: &Row) -> Result<OutboxEvent, StoreError> {
    let shard = row.opt_int32("outbox.shard")?;
    let shard = shard
        .and_then(|s| u16::try_from(s).ok())
        .filter(|&s| s < crate::OUTBOX_SHARDS)
        .ok_or_else(|| StoreError::Corrupt(format!("outbox.shard: {shard:?} is not a shard")))?;
    Ok(OutboxEvent {
        sequence: row.int("outbox.sequence")?,
        shard,
        channels: row.texts("outbox.channels")?,
        target: row.text("outbox.target")?,
        payload: row.json("outbox.payload")?,
        created_at: row.time("outbox.created_at")?,
    })
}

/// `status, error, body`.
pub(crate) fn recommendation(row: &Row) -> Result<RecommendationRecord, StoreError> {
    let mut rec: RecommendationRecord = row.doc("recommendations.body")?;
    // `fail_recommendation` writes only these columns.
    rec.status = match row.text("recommendations.status")?.as_str() {
        "pending" => RecommendationStatus::Pending,
        "ready" => RecommendationStatus::Ready,
        "failed" => RecommendationStatus::Failed,
        other => {
            return Err(StoreError::Corrupt(format!(
                "recommendations.status: unknown status {other:?}"
            )));
        }
    };
    rec.error = row.opt_text("recommendations.error")?;
    Ok(rec)
}

/// `status, error, progress, application, body`.
pub(crate) fn plan(row: &Row) -> Result<PlanRecord, StoreError> {
    let mut plan: PlanRecord = row.doc("plans.body")?;
    // Other writers touch only these columns (ops/plans.rs).
    plan.status = plan_status(&row.text("plans.status")?)?;
    plan.error = row.opt_text("plans.error")?;
    plan.progress = row.doc("plans.progress")?;
    plan.application = row.opt_doc("plans.application")?;
    Ok(plan)
}

/// A `plans.status` column.
pub(crate) fn plan_status(s: &str) -> Result<PlanStatus, StoreError> {
    PlanStatus::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("plans.status: unknown status {s:?}")))
}

/// `version, body`.
pub(crate) fn config(row: &Row) -> Result<ScoringConfig, StoreError> {
    let mut config: ScoringConfig = row.doc("scoring_configs.body")?;
    config.version = to_u32(
        row.int("scoring_configs.version")?,
        "scoring_configs.version",
    )?;
    Ok(config)
}

/// A stored integer as u32.
pub(crate) fn to_u32(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what}: {v} is out of range")))
}

/// Builds a page from `limit + 1` rows: the extra row only says there is a next page, whose
/// cursor is the last returned row's (`key`, `id`).
pub(crate) fn page_of<T>(
    rows: Vec<Row>,
    limit: u32,
    kind: CursorKind,
    decode: fn(&Row) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let limit = limit as usize;
    let has_more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let next_cursor = match rows.last() {
        Some(last) if has_more => {
            let (key, id) = match kind {
                CursorKind::Jobs => (
                    ts(&last.time("jobs.window_start_utc")?),
                    last.id::<uuid::Uuid>("jobs.id")?,
                ),
                CursorKind::Contractors => (
                    last.text("contractors.name")?,
                    last.id::<uuid::Uuid>("contractors.id")?,
                ),
            };
            Some(
                Cursor {
                    key,
                    id: id.to_string(),
                }
                .encode(kind),
            )
        }
        _ => None,
    };
    Ok(Page {
        items: rows.iter().map(decode).collect::<Result<_, _>>()?,
        next_cursor,
    })
}
