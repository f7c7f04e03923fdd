//! The recommendation worker: a bounded queue drained by a fixed number of tasks.
//!
//! `POST /api/v1/recommendations` stores a pending record and queues its id (a full queue is a
//! 503, so the backlog is bounded). A worker computes the ranking with the engine, stores it
//! with its audit record and the `RecommendationReady` event in one transaction, rings the
//! relay, and with `autoAssign` books the best candidate that is still free.

use std::sync::Arc;

use chrono::Utc;
use dispatch_core::{Assignment, AssignmentId, AssignmentSource, AuditId, Job, recommend};
use dispatch_store::{
    AssignmentConflict, AuditRecord, Decision, RecommendationRecord, RecommendationStatus,
    RequestId, StoreError,
};
use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;

use crate::error::ApiError;
use crate::events::{JOB_ASSIGNED, JobAssigned, RECOMMENDATION_READY, RecommendationReady};
use crate::planning::region_index;
use crate::state::AppState;

/// How many recommendation requests may wait.
pub const QUEUE_CAPACITY: usize = 1024;

/// Drains the queue with at most `workers` computations at once.
pub async fn run(state: AppState, mut queue: mpsc::Receiver<RequestId>, workers: usize) {
    let slots = Arc::new(Semaphore::new(workers.max(1)));
    while let Some(request_id) = queue.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            if let Err(error) = process(&state, request_id).await {
                tracing::warn!(%request_id, %error, "recommendation failed");
                metrics::counter!("dispatch_recommendations_total", "outcome" => "failed")
                    .increment(1);
                if let Err(error) = fail(&state, request_id, &error).await {
                    tracing::error!(%request_id, %error, "could not record the failure");
                }
            } else {
                metrics::counter!("dispatch_recommendations_total", "outcome" => "ready")
                    .increment(1);
            }
            metrics::histogram!("dispatch_recommendation_seconds")
                .record(started.elapsed().as_secs_f64());
            drop(slot);
        });
    }
}

/// Records the failure and still announces `RecommendationReady`: the dispatcher waiting for
/// it fetches the result and sees `status: "failed"` with the reason, instead of waiting forever.
async fn fail(state: &AppState, request_id: RequestId, error: &ApiError) -> Result<(), StoreError> {
    let events = match state.store.recommendation(request_id).await? {
        Some(record) => vec![
            RecommendationReady {
                kind: RECOMMENDATION_READY,
                job_id: record.job_id,
                request_id,
                region: record.region,
                config_version: state.store.current_config().await?.version,
                generated_at: Utc::now(),
            }
            .into_outbox(),
        ],
        None => Vec::new(),
    };
    state
        .store
        .fail_recommendation(request_id, &error.to_string(), &events)
        .await?;
    state.events_committed();
    Ok(())
}

async fn process(state: &AppState, request_id: RequestId) -> Result<(), ApiError> {
    let store = &state.store;
    let record = store
        .recommendation(request_id)
        .await?
        .ok_or(ApiError::NotFound("recommendation"))?;
    let job = store
        .job(record.job_id)
        .await?
        .ok_or(ApiError::NotFound("job"))?;
    let region = store
        .region(&job.region)
        .await?
        .ok_or(ApiError::NotFound("region"))?;
    let config = store.current_config().await?;
    let now = Utc::now();
    let index = region_index(store, region.clone(), &job, &config, now).await?;
    let limit = record.limit as usize;
    let job_for_engine = job.clone();
    let recommendation = tokio::task::spawn_blocking(move || {
        recommend(&index, &job_for_engine, &config, now, limit)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|error| ApiError::conflict("recommendation-impossible", error.to_string()))?;

    let audit_id = AuditId::from(Uuid::new_v4());
    let audit = AuditRecord {
        audit_id,
        request_id: Some(request_id),
        region: region.id.clone(),
        job: job.clone(),
        config_version: recommendation.config_version,
        requested_by: record.requested_by.clone(),
        created_at: now,
        candidates: recommendation.candidates.clone(),
        excluded: recommendation.excluded.clone(),
        evaluated: recommendation.considered_count,
        decision: None,
    };
    let ready = RecommendationRecord {
        status: RecommendationStatus::Ready,
        config_version: Some(recommendation.config_version),
        generated_at: Some(now),
        audit_id: Some(audit_id),
        candidates: recommendation.candidates,
        excluded: recommendation.excluded,
        ..record
    };
    let event = RecommendationReady {
        kind: RECOMMENDATION_READY,
        job_id: job.id,
        request_id,
        region: region.id.clone(),
        config_version: recommendation.config_version,
        generated_at: now,
    };
    store
        .complete_recommendation(&ready, &audit, &[event.into_outbox()])
        .await?;
    state.events_committed();

    if ready.auto_assign {
        auto_assign(state, &ready, &job, audit_id).await?;
    }
    Ok(())
}

/// Books the best candidate that is still free; the next one when another dispatcher took the
/// slot meanwhile.
async fn auto_assign(
    state: &AppState,
    record: &RecommendationRecord,
    job: &Job,
    audit_id: AuditId,
) -> Result<(), ApiError> {
    for candidate in &record.candidates {
        let assignment = Assignment {
            id: AssignmentId::from(Uuid::new_v4()),
            job_id: job.id,
            contractor_id: candidate.contractor_id,
            start_utc: candidate.start_utc,
            end_utc: candidate.end_utc,
            source: AssignmentSource::Auto,
            audit_id,
        };
        let decision = Decision {
            contractor_id: candidate.contractor_id,
            assignment_id: assignment.id,
            decided_by: record.requested_by.clone(),
            source: AssignmentSource::Auto,
            rank: Some(candidate.rank),
            decided_at: Utc::now(),
        };
        let event = JobAssigned {
            kind: JOB_ASSIGNED,
            job_id: job.id,
            contractor_id: candidate.contractor_id,
            assignment_id: assignment.id,
            start_utc: assignment.start_utc,
            end_utc: assignment.end_utc,
            region: job.region.clone(),
            source: AssignmentSource::Auto,
            audit_id,
        };
        match state
            .store
            .create_assignment(&assignment, &decision, &[event.into_outbox()])
            .await
        {
            Ok(()) => {
                state.events_committed();
                metrics::counter!("dispatch_assignments_total", "source" => "auto").increment(1);
                return Ok(());
            }
            Err(StoreError::Assignment(AssignmentConflict::ContractorBusy { .. })) => continue,
            Err(StoreError::Assignment(_)) => return Ok(()),
            Err(error) => return Err(error.into()),
        }
    }
    tracing::info!(job_id = %job.id, "auto-assign found no free candidate");
    Ok(())
}
