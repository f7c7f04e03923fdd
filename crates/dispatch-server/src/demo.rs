//! Demo data: a few regions with hundreds of contractors, their bookings and open jobs, from
//! the engine's seeded generator, so a newcomer has something to dispatch.

use chrono::{DateTime, Utc};
use dispatch_core::synth::{RegionPreset, SynthConfig, generate};
use dispatch_core::{AssignmentSource, AuditId};
use dispatch_store::{AuditRecord, Decision, Store, StoreError};
use futures_util::StreamExt as _;
use uuid::Uuid;

/// Bookings stored at once while loading.
const BOOKINGS_AT_ONCE: usize = 8;

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
        let data = generate(&config);
        store.create_region(&data.region).await?;
        summary.regions += 1;
        // One transaction per kind of row, not per row: PostgreSQL pays a round trip and a
        // commit for each transaction.
        store.create_contractors(&data.contractors).await?;
        summary.contractors += data.contractors.len();
        // The past stays out of the demo: only bookings still ahead are loaded.
        let booked: Vec<_> = data
            .booked_jobs()
            .into_iter()
            .filter(|(_, assignment)| assignment.end_utc > now)
            .map(|(mut job, assignment)| {
                job.status = dispatch_core::JobStatus::Open;
                (job, assignment)
            })
            .collect();
        let booked_jobs: Vec<_> = booked.iter().map(|(job, _)| job.clone()).collect();
        store.create_jobs(&booked_jobs).await?;
        // Bookings go in a few at a time: each is its own transaction (the store checks it like
        // any assignment), and on PostgreSQL their commits overlap.
        let mut bookings = futures_util::stream::iter(booked)
            .map(|(job, assignment)| book(store, job, assignment, now))
            .buffer_unordered(BOOKINGS_AT_ONCE);
        while let Some(outcome) = bookings.next().await {
            match outcome {
                Ok(()) => summary.assignments += 1,
                // Generated calendars never overlap; a conflict here would be a generator bug,
                // and skipping the booking keeps the demo usable.
                Err(StoreError::Assignment(conflict)) => {
                    tracing::warn!(?conflict, "demo booking skipped");
                }
                Err(error) => return Err(error),
            }
        }
        store.create_jobs(&data.open_jobs).await?;
        summary.open_jobs += data.open_jobs.len();
    }
    Ok(summary)
}

/// Books one generated assignment, with an audit record of the decision alone.
async fn book(
    store: &Store,
    job: dispatch_core::Job,
    assignment: dispatch_core::Assignment,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let audit_id = AuditId::from(Uuid::new_v4());
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
        decision: None,
    };
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
    store
        .create_assignment_with_audit(&audit, &assignment, &decision, &[])
        .await
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
