//! Demo data: a few regions with hundreds of contractors, their bookings and open jobs, from
//! the engine's seeded generator, so a newcomer has something to dispatch.

use chrono::{DateTime, Utc};
use dispatch_core::synth::{RegionPreset, SynthConfig, generate_demo};
use dispatch_core::{AssignmentSource, AuditId};
use dispatch_store::{AuditRecord, Decision, Store, StoreError};
use uuid::Uuid;

/// Rows per bulk transaction while loading.
const ROWS_AT_ONCE: usize = 20_000;

/// What was loaded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Regions created.
    pub regions: usize,
    /// Contractors created.
    pub contractors: usize,
    /// Assignments booked.
    pub assignments: usize,
    /// Open jobs created.
    pub open_jobs: usize,
}

/// Loads demo data unless the store already has regions (then it does nothing).
pub async fn load(
    store: &Store,
    seed: u64,
    contractors_per_region: usize,
    now: DateTime<Utc>,
) -> Result<DemoSummary, StoreError> {
    let mut summary = DemoSummary::default();
    if !store.regions().await?.is_empty() {
        return Ok(summary);
    }
    for (offset, preset) in RegionPreset::ALL.into_iter().enumerate() {
        let mut config = SynthConfig::new(
            seed.wrapping_add(offset as u64),
            contractors_per_region,
            now,
        );
        config.region = preset;
        config.days = 7;
        config.open_jobs = 40;
        let started = std::time::Instant::now();
        let data = generate_demo(&config);
        let generated = started.elapsed();
        store.create_region(&data.region).await?;
        summary.regions += 1;
        // Bulk transactions, not a transaction per row: a region of 10,000 contractors and its
        // 85,000 bookings load in seconds. Each batch is all or nothing.
        for batch in data.contractors.chunks(ROWS_AT_ONCE) {
            store.create_contractors(batch).await?;
        }
        summary.contractors += data.contractors.len();
        // The past stays out of the demo: only bookings still ahead are loaded.
        let booked: Vec<_> = data
            .booked_jobs()
            .into_iter()
            .filter(|(_, assignment)| assignment.end_utc > now)
            .map(|(mut job, assignment)| {
                job.status = dispatch_core::JobStatus::Assigned;
                booking(job, assignment, now)
            })
            .collect();
        for batch in booked.chunks(ROWS_AT_ONCE) {
            let jobs: Vec<_> = batch.iter().map(|(audit, _)| audit.job.clone()).collect();
            let t = std::time::Instant::now();
            store.create_jobs(&jobs).await?;
            let j = t.elapsed();
            store.load_bookings(batch).await?;
            tracing::debug!(
                rows = batch.len(),
                jobs_seconds = j.as_secs_f64(),
                bookings_seconds = (t.elapsed() - j).as_secs_f64(),
                "demo batch stored"
            );
        }
        summary.assignments += booked.len();
        store.create_jobs(&data.open_jobs).await?;
        summary.open_jobs += data.open_jobs.len();
        tracing::info!(
            region = %data.region.id,
            contractors = data.contractors.len(),
            bookings = booked.len(),
            generated_seconds = generated.as_secs_f64(),
            stored_seconds = (started.elapsed() - generated).as_secs_f64(),
            "demo region loaded"
        );
    }
    Ok(summary)
}

/// One generated booking as the store loads it: an audit record carrying the decision alone,
/// and the assignment naming it.
fn booking(
    job: dispatch_core::Job,
    assignment: dispatch_core::Assignment,
    now: DateTime<Utc>,
) -> (AuditRecord, dispatch_core::Assignment) {
    let audit_id = AuditId::from(Uuid::new_v4());
    let assignment = dispatch_core::Assignment {
        audit_id,
        source: AssignmentSource::Manual,
        ..assignment
    };
    let decision = Decision {
        contractor_id: assignment.contractor_id,
        assignment_id: assignment.id,
        decided_by: "demo".to_owned(),
        source: AssignmentSource::Manual,
        rank: None,
        decided_at: now,
    };
    let audit = AuditRecord {
        audit_id,
        request_id: None,
        plan_id: None,
        region: job.region.clone(),
        job,
        config_version: 1,
        requested_by: "demo".to_owned(),
        created_at: now,
        candidates: Vec::new(),
        excluded: Vec::new(),
        evaluated: 0,
        decision: Some(decision),
    };
    (audit, assignment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_data_loads_once_with_every_booking() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("demo.db").display());
        let store = Store::connect(&url).await.expect("store");
        let now = Utc::now();
        let summary = load(&store, 7, 20, now).await.expect("load");
        assert_eq!(summary.regions, RegionPreset::ALL.len());
        assert_eq!(summary.contractors, 20 * RegionPreset::ALL.len());
        assert_eq!(summary.open_jobs, 40 * RegionPreset::ALL.len());
        assert!(summary.assignments > 0);
        let region = &store.regions().await.expect("regions")[0];
        let booked = store
            .region_bookings(&region.id, now, now + chrono::Duration::days(8))
            .await
            .expect("bookings");
        assert!(!booked.is_empty(), "bookings are stored, not only counted");
        assert_eq!(
            load(&store, 7, 20, now).await.expect("again"),
            DemoSummary::default(),
            "a database with regions is left alone"
        );
    }
}
