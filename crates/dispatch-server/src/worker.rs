//! The recommendation worker: a bounded queue drained by a fixed number of tasks.
//!
//! `POST /api/v1/recommendations` stores a pending record and queues its id in the
//! [`FairQueue`] (a full queue is a 503 and a caller's full share a 429, so the backlog is
//! bounded and one caller cannot fill it). A worker takes the next request only when it has a
//! free slot, so the queue's round-robin decides the order right up to the computation.
//!
//! A worker computes the ranking with the engine, stores it
//! with its audit record and the `RecommendationReady` event in one transaction, rings the
//! relay, and with `autoAssign` books the best candidate that is still free. The exclusions
//! (on a large region nearly every contractor) move into the audit record, which the store
//! writes once, compactly, for the result and the audit record alike.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dispatch_core::{
    AssignmentSource, AuditId, Job, RecommendError, RegionIndex, ScoringConfig, recommend,
};
use dispatch_store::{
    AssignmentConflict, AuditRecord, RecommendationRecord, RecommendationStatus, RequestId,
    StoreError,
};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::assignment::{AssignError, Basis, Proposal, assign};
use crate::error::ApiError;
use crate::events::{EventEncodingError, RecommendationReady, outbox_entry};
use crate::fairness::FairQueue;
use crate::planning::{RegionLoadError, region_view};
use crate::state::AppState;
use crate::telemetry::{self, Origin};

/// How many recommendation requests may wait.
pub const QUEUE_CAPACITY: usize = 1024;

/// The queue's subject for requests an earlier run accepted and the restart computes.
pub const RESUMED: &str = "(resumed)";

/// How long a shutdown waits for the computations under way.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Why a recommendation could not be computed (stored with the failed request, for whoever
/// fetches it).
#[derive(Debug, thiserror::Error)]
pub enum RecommendationError {
    /// The request, its job or its region is gone.
    #[error("the {0} no longer exists")]
    Missing(&'static str),
    /// The engine cannot rank for this job.
    #[error(transparent)]
    Impossible(#[from] RecommendError),
    /// The region's index could not be had.
    #[error(transparent)]
    Region(#[from] RegionLoadError),
    /// The ranking task panicked or was cancelled.
    #[error("the ranking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event could not be encoded.
    #[error(transparent)]
    Event(#[from] EventEncodingError),
    /// Auto-assign could not book a candidate.
    #[error("auto-assign failed: {0}")]
    AutoAssign(#[from] AssignError),
}

/// Drains the queue with at most `workers` computations at once until `shutdown` resolves,
/// then waits (a bounded time) for the computations under way, so their results and events are
/// committed; what stays queued is computed after the restart (the store has it as pending).
pub async fn run(
    state: AppState,
    queue: Arc<FairQueue>,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) {
    let workers = workers.max(1);
    let slots = Arc::new(Semaphore::new(workers));
    tokio::pin!(shutdown);
    loop {
        // A free slot first, then the next request in turn: one taken early would wait for
        // the slot while a quieter caller's request arrives behind it.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let request_id = tokio::select! {
            next = queue.recv() => match next {
                Some(request_id) => request_id,
                None => break,
            },
            () = &mut shutdown => break,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            if let Err(error) = process(&state, request_id).await {
                tracing::warn!(%request_id, %error, "recommendation failed");
                metrics::counter!(telemetry::RECOMMENDATIONS, "outcome" => "failed").increment(1);
                if let Err(error) = fail(&state, request_id, &error).await {
                    tracing::error!(%request_id, %error, "could not record the failure");
                }
            } else {
                metrics::counter!(telemetry::RECOMMENDATIONS, "outcome" => "ready").increment(1);
            }
            metrics::histogram!(telemetry::RECOMMENDATION_SECONDS)
                .record(started.elapsed().as_secs_f64());
            drop(slot);
        });
    }
    queue.close();
    let all = u32::try_from(workers).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_LIMIT, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "shutting down with recommendations still computing; they are recomputed after the restart"
        );
    }
}

/// Records the failure and still announces `RecommendationReady`: the dispatcher waiting for
/// it fetches the result and sees `status: "failed"` with the reason, instead of waiting forever.
async fn fail(
    state: &AppState,
    request_id: RequestId,
    error: &RecommendationError,
) -> Result<(), RecommendationError> {
    let events = match state.store.recommendation(request_id).await? {
        Some(record) => vec![outbox_entry(&RecommendationReady::new(
            record.job_id,
            request_id,
            record.region,
            state.store.current_config().await?.version,
            Utc::now(),
        ))?],
        None => Vec::new(),
    };
    state
        .store
        .fail_recommendation(request_id, &error.to_string(), &events)
        .await?;
    state.outbox.committed(&events);
    Ok(())
}

async fn process(state: &AppState, request_id: RequestId) -> Result<(), RecommendationError> {
    let store = &state.store;
    let record = store
        .recommendation(request_id)
        .await?
        .ok_or(RecommendationError::Missing("recommendation"))?;
    metrics::histogram!(telemetry::RECOMMENDATION_QUEUE_SECONDS)
        .record(telemetry::seconds_since(record.requested_at));
    let job = store
        .job(record.job_id)
        .await?
        .ok_or(RecommendationError::Missing("job"))?;
    let region = store
        .region(&job.region)
        .await?
        .ok_or(RecommendationError::Missing("region"))?;
    let config = store.current_config().await?;
    let now = Utc::now();
    let view = region_view(&state.regions, store, region.clone(), &job, &config, now).await?;
    let limit = record.limit as usize;
    let job_for_engine = job.clone();
    // Ranking is CPU work proportional to the region: off the async threads, holding the
    // region's read lock (appliers wait; other rankings do not).
    let (recommendation, view, config) = tokio::task::spawn_blocking(move || {
        let ranked = recommend(&view, &job_for_engine, &config, now, limit);
        (ranked, view, config)
    })
    .await?;
    let recommendation = recommendation?;
    // Auto-assign validates against the same index; otherwise let appliers in now.
    let view = if record.auto_assign {
        Some(view)
    } else {
        drop(view);
        None
    };

    let audit_id = AuditId::from(Uuid::new_v4());
    let audit = AuditRecord {
        audit_id,
        request_id: Some(request_id),
        plan_id: None,
        region: region.id.clone(),
        job: job.clone(),
        config_version: recommendation.config_version,
        requested_by: record.requested_by.clone(),
        created_at: now,
        candidates: recommendation.candidates.clone(),
        excluded: recommendation.excluded,
        evaluated: recommendation.considered_count,
        decision: None,
    };
    let ready = RecommendationRecord {
        status: RecommendationStatus::Ready,
        config_version: Some(recommendation.config_version),
        generated_at: Some(now),
        audit_id: Some(audit_id),
        candidates: recommendation.candidates,
        // Stored once, with the audit record, and read back with the result: no copy here.
        excluded: Vec::new(),
        ..record
    };
    let event = RecommendationReady::new(
        job.id,
        request_id,
        region.id.clone(),
        recommendation.config_version,
        now,
    );
    let events = [outbox_entry(&event)?];
    if !store
        .complete_recommendation(&ready, &audit, &events)
        .await?
    {
        // Another node finished it first (it resumed the request after a restart, or this one
        // did): that result stands, announced and auto-assigned once.
        tracing::debug!(%request_id, "recommendation finished elsewhere first");
        return Ok(());
    }
    state.outbox.committed(&events);

    if let Some(view) = view {
        auto_assign(state, &view, &config, &ready, &job, audit_id, now).await?;
    }
    Ok(())
}

/// Books the best candidate that is still free; the next one when another dispatcher took the
/// slot meanwhile. Each goes through the one assignment step, validated against the index and
/// the moment (`ranked_at`) the ranking was computed from.
async fn auto_assign(
    state: &AppState,
    index: &RegionIndex,
    config: &ScoringConfig,
    record: &RecommendationRecord,
    job: &Job,
    audit_id: AuditId,
    ranked_at: DateTime<Utc>,
) -> Result<(), RecommendationError> {
    for candidate in &record.candidates {
        let proposal = Proposal {
            job,
            contractor_id: candidate.contractor_id,
            start_utc: candidate.start_utc,
            end_utc: candidate.end_utc,
            source: AssignmentSource::Auto,
            decided_by: &record.requested_by,
            replaces: None,
            basis: Basis::Ranking {
                audit_id,
                rank: Some(candidate.rank),
            },
        };
        match assign(state, index, config, &proposal, ranked_at).await {
            Ok(_) => return Ok(()),
            Err(error @ (AssignError::Conflict(_) | AssignError::Infeasible(_))) => {
                // Booked or no longer feasible: try the next candidate. Taken or closed
                // meanwhile: nothing left to do.
                let next = matches!(
                    error,
                    AssignError::Conflict(AssignmentConflict::ContractorBusy { .. })
                        | AssignError::Infeasible(_)
                );
                if let AssignError::Infeasible(exclusion) = &error {
                    tracing::debug!(%exclusion, "auto-assign skips a candidate no longer feasible");
                }
                if let ApiError::Conflict { kind, .. } = ApiError::from(error) {
                    telemetry::conflict(kind, Origin::AutoAssign);
                }
                if next {
                    continue;
                }
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        }
    }
    tracing::info!(job_id = %job.id, "auto-assign found no free candidate");
    Ok(())
}
