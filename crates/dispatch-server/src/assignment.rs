//! The one assignment step. Every way a job gets a contractor — a dispatcher's choice
//! (`POST /api/v1/assignments`), auto-assign after a recommendation, an applied plan — goes
//! through [`assign`]: it re-validates the slot against every hard rule, then writes the
//! assignment, its audit decision and its `JobAssigned` in one store transaction (which checks
//! the booking invariants again, under its locks), and wakes the relay.
//! Failures keep their cause in [`AssignError`]; HTTP maps it once, in `crate::error`.

use chrono::{DateTime, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AssignmentSource, AuditId, ContractorId, Exclusion, Job, JobStatus,
    PlanId, RegionIndex, ScoringConfig, check_assignment,
};
use dispatch_store::{AssignmentConflict, AuditRecord, Decision, StoreError};
use uuid::Uuid;

use crate::events::{EventEncodingError, JobAssigned, outbox_entry};
use crate::state::AppState;

/// What the decision rests on, for its audit trail.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// A ranking that is audited already: the decision is recorded on its audit record.
    Ranking {
        /// The ranking's audit record.
        audit_id: AuditId,
        /// The contractor's rank in it, if it was ranked.
        rank: Option<u32>,
    },
    /// No ranking behind it: an audit record of the decision alone is written with the
    /// assignment, in its transaction (a refused assignment leaves none behind).
    DecisionAlone,
    /// A plan being applied: like [`Basis::DecisionAlone`], and the audit record names the
    /// plan.
    Plan(PlanId),
}

/// One proposed booking of `job`.
#[derive(Debug, Clone)]
pub struct Proposal<'a> {
    /// The job, as read just before.
    pub job: &'a Job,
    /// Who takes it.
    pub contractor_id: ContractorId,
    /// On-site start.
    pub start_utc: DateTime<Utc>,
    /// On-site end.
    pub end_utc: DateTime<Utc>,
    /// `manual` or `auto`.
    pub source: AssignmentSource,
    /// The token subject who decided (or asked for the automatic decision).
    pub decided_by: &'a str,
    /// What the decision rests on.
    pub basis: Basis,
    /// The job's live booking this one moves (ended in the same transaction), if any; a move
    /// records its decision alone ([`Basis::DecisionAlone`] or [`Basis::Plan`]).
    pub replaces: Option<AssignmentId>,
}

/// Why a proposal was not booked. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// The slot breaks a hard rule (skills, hours, time off, travel, the job's window, …).
    #[error("{}: {}", .0.reason.code(), .0.message())]
    Infeasible(Exclusion),
    /// The booking invariants refused it: the job is not open or is taken, the contractor is
    /// booked at an overlapping time, or a row it names is gone.
    #[error(transparent)]
    Conflict(AssignmentConflict),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The event could not be encoded.
    #[error(transparent)]
    Event(#[from] EventEncodingError),
}

impl From<StoreError> for AssignError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Assignment(conflict) => Self::Conflict(conflict),
            other => Self::Store(other),
        }
    }
}

/// Validates `proposal` against `index` (the job's region, built at or after the job was read)
/// and books it, with its audit decision and its `JobAssigned`, in one transaction.
pub async fn assign(
    state: &AppState,
    index: &RegionIndex,
    config: &ScoringConfig,
    proposal: &Proposal<'_>,
    now: DateTime<Utc>,
) -> Result<Assignment, AssignError> {
    let job = proposal.job;
    match (proposal.replaces, job.status) {
        (None, JobStatus::Open) | (Some(_), JobStatus::Assigned) => {}
        (Some(_), JobStatus::Open) => {
            return Err(AssignError::Conflict(AssignmentConflict::MovedMeanwhile));
        }
        _ => return Err(AssignError::Conflict(AssignmentConflict::JobNotOpen)),
    }
    check_assignment(
        index,
        proposal.contractor_id,
        job,
        proposal.start_utc,
        proposal.end_utc,
        config,
        now,
    )
    .map_err(AssignError::Infeasible)?;

    let (audit_id, rank, new_audit) = match &proposal.basis {
        Basis::Ranking { audit_id, rank } => (*audit_id, *rank, None),
        Basis::DecisionAlone | Basis::Plan(_) => {
            let audit = AuditRecord {
                audit_id: AuditId::from(Uuid::new_v4()),
                request_id: None,
                plan_id: match proposal.basis {
                    Basis::Plan(plan_id) => Some(plan_id),
                    _ => None,
                },
                region: job.region.clone(),
                job: job.clone(),
                config_version: config.version,
                requested_by: proposal.decided_by.to_owned(),
                created_at: now,
                candidates: Vec::new(),
                excluded: Vec::new(),
                evaluated: 0,
                decision: None,
            };
            (audit.audit_id, None, Some(audit))
        }
    };
    let assignment = Assignment {
        id: AssignmentId::from(Uuid::new_v4()),
        job_id: job.id,
        contractor_id: proposal.contractor_id,
        start_utc: proposal.start_utc,
        end_utc: proposal.end_utc,
        source: proposal.source,
        audit_id,
    };
    let decision = Decision {
        contractor_id: assignment.contractor_id,
        assignment_id: assignment.id,
        decided_by: proposal.decided_by.to_owned(),
        source: proposal.source,
        rank,
        decided_at: now,
    };
    let events = [outbox_entry(&JobAssigned::of(
        &assignment,
        job.region.clone(),
    ))?];
    let store = &state.store;
    match (&new_audit, proposal.replaces) {
        (Some(audit), Some(old)) => {
            store
                .move_assignment(old, audit, &assignment, &decision, &events)
                .await?
        }
        (Some(audit), None) => {
            store
                .create_assignment_with_audit(audit, &assignment, &decision, &events)
                .await?
        }
        (None, None) => {
            store
                .create_assignment(&assignment, &decision, &events)
                .await?
        }
        (None, Some(_)) => {
            return Err(AssignError::Store(StoreError::Invalid(
                "a move records its own decision, not one on a ranking".to_owned(),
            )));
        }
    }
    state.outbox.committed(&events);
    let source = match proposal.source {
        AssignmentSource::Auto => "auto",
        AssignmentSource::Manual => "manual",
    };
    metrics::counter!(crate::telemetry::ASSIGNMENTS, "source" => source).increment(1);
    Ok(assignment)
}
