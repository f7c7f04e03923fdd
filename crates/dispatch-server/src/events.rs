//! The two real-time events of SPEC §2, exactly: their payloads and their channels.
//!
//! On the wire each is a SignalR invocation whose target is the event's `type` and whose single
//! argument is the payload. Events travel through the outbox: they are written in the same
//! transaction as the change they report and sent by the relay after commit.

use chrono::{DateTime, Utc};
use dispatch_core::{AssignmentId, AssignmentSource, AuditId, ContractorId, JobId, RegionId};
use dispatch_store::{NewOutboxEvent, RequestId};
use serde::Serialize;

/// The channel (SignalR group) of a region's dispatchers.
pub fn dispatch_channel(region: &RegionId) -> String {
    format!("/dispatch/{region}")
}

/// The channel (SignalR group) of one contractor.
pub fn contractor_channel(contractor: ContractorId) -> String {
    format!("/contractor/{contractor}")
}

/// Recommendations for a job were computed; clients fetch them over HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct RecommendationReady {
    /// Always `RecommendationReady`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ts", ts(type = "\"RecommendationReady\""))]
    #[schema(value_type = String, example = "RecommendationReady")]
    pub kind: &'static str,
    /// The job.
    pub job_id: JobId,
    /// The `POST /api/v1/recommendations` call that asked.
    pub request_id: RequestId,
    /// The job's region.
    pub region: RegionId,
    /// Scoring configuration version used.
    pub config_version: u32,
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
}

/// A job was assigned.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct JobAssigned {
    /// Always `JobAssigned`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ts", ts(type = "\"JobAssigned\""))]
    #[schema(value_type = String, example = "JobAssigned")]
    pub kind: &'static str,
    /// The job.
    pub job_id: JobId,
    /// Who takes it.
    pub contractor_id: ContractorId,
    /// The assignment.
    pub assignment_id: AssignmentId,
    /// On-site start.
    pub start_utc: DateTime<Utc>,
    /// On-site end.
    pub end_utc: DateTime<Utc>,
    /// The job's region.
    pub region: RegionId,
    /// `auto` or `manual`.
    pub source: AssignmentSource,
    /// The audit record behind the decision.
    pub audit_id: AuditId,
}

impl RecommendationReady {
    /// The outbox entry: to the region's dispatchers.
    pub fn into_outbox(self) -> NewOutboxEvent {
        NewOutboxEvent {
            channels: vec![dispatch_channel(&self.region)],
            target: self.kind.to_owned(),
            payload: serde_json::to_value(&self).unwrap_or_default(),
        }
    }
}

impl JobAssigned {
    /// The outbox entry: to the region's dispatchers and to the contractor.
    pub fn into_outbox(self) -> NewOutboxEvent {
        NewOutboxEvent {
            channels: vec![
                dispatch_channel(&self.region),
                contractor_channel(self.contractor_id),
            ],
            target: self.kind.to_owned(),
            payload: serde_json::to_value(&self).unwrap_or_default(),
        }
    }
}

/// The `type` of [`RecommendationReady`].
pub const RECOMMENDATION_READY: &str = "RecommendationReady";
/// The `type` of [`JobAssigned`].
pub const JOB_ASSIGNED: &str = "JobAssigned";
