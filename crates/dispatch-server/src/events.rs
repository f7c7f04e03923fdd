//! The hub's channels and the two real-time events of SPEC §2, exactly.
//!
//! A [`Channel`] is a SignalR group named by the contract (`/dispatch/{region}`,
//! `/contractor/{id}`); it is formatted and parsed here only, for the producers below and for the
//! hub's `Subscribe` authorisation alike. An [`Event`] knows its own name (the SignalR target and
//! the payload's `type`) and its channels, so no caller spells either. On the wire each event is
//! an invocation whose target is the event's name and whose single argument is the payload.
//! Events travel through the outbox: [`outbox_entry`] encodes one, once, for the transaction of
//! the change it reports; the relay sends it after commit.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AssignmentSource, AuditId, ContractorId, JobId, RegionId,
};
use dispatch_store::{NewOutboxEvent, RequestId};
use serde::{Serialize, Serializer};

/// A hub channel: the SignalR group a client subscribes to and events are sent on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `/dispatch/{region}`: the region's dispatchers.
    Dispatch(RegionId),
    /// `/contractor/{id}`: one contractor.
    Contractor(ContractorId),
}

const DISPATCH_PREFIX: &str = "/dispatch/";
const CONTRACTOR_PREFIX: &str = "/contractor/";

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Dispatch(region) => write!(f, "{DISPATCH_PREFIX}{region}"),
            Channel::Contractor(contractor) => write!(f, "{CONTRACTOR_PREFIX}{contractor}"),
        }
    }
}

/// A string that names no channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a channel: expected /dispatch/{{region}} or /contractor/{{id}}")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;

    /// Accepts only the canonical spelling, the one events are sent to: a region slug, a
    /// contractor id in lower-case hyphenated form. Anything else would subscribe to a group
    /// that never hears an event.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownChannel(text.to_owned());
        if let Some(region) = text.strip_prefix(DISPATCH_PREFIX) {
            let region = RegionId::new(region);
            region.validate_at("channel").map_err(|_| unknown())?;
            return Ok(Channel::Dispatch(region));
        }
        let id = text.strip_prefix(CONTRACTOR_PREFIX).ok_or_else(unknown)?;
        let contractor: ContractorId = id.parse().map_err(|_| unknown())?;
        if contractor.to_string() == id {
            Ok(Channel::Contractor(contractor))
        } else {
            Err(unknown())
        }
    }
}

/// An event of SPEC §2: its name and where it goes come from its type.
pub trait Event: Serialize {
    /// The SignalR target and the payload's `type`.
    const NAME: &'static str;

    /// The channels it is sent on.
    fn channels(&self) -> Vec<Channel>;

    /// The region it belongs to, which chooses its outbox shard (every channel it is sent on
    /// belongs to this region).
    fn region(&self) -> &RegionId;
}

/// The payload's `type` field: always the event's [`Event::NAME`], so it cannot disagree with
/// the target the event is sent as.
pub struct EventType<E>(PhantomData<fn() -> E>);

impl<E> EventType<E> {
    const fn new() -> Self {
        Self(PhantomData)
    }
}

// By hand: derives would demand `E: Clone` etc. of the event, which a marker does not need.
impl<E> Clone for EventType<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for EventType<E> {}
impl<E> PartialEq for EventType<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E: Event> fmt::Debug for EventType<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(E::NAME)
    }
}
impl<E: Event> Serialize for EventType<E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(E::NAME)
    }
}

/// An event that could not be encoded for the outbox (nothing was written).
#[derive(Debug, thiserror::Error)]
#[error("the {name} event cannot be encoded: {source}")]
pub struct EventEncodingError {
    /// Which event.
    pub name: &'static str,
    /// Why.
    #[source]
    pub source: serde_json::Error,
}

/// The outbox entry for `event`: its channels, its name as the target, and its payload encoded
/// once, here.
pub fn outbox_entry<E: Event>(event: &E) -> Result<NewOutboxEvent, EventEncodingError> {
    let payload = serde_json::value::to_raw_value(event).map_err(|source| EventEncodingError {
        name: E::NAME,
        source,
    })?;
    Ok(NewOutboxEvent {
        shard: dispatch_store::outbox_shard(event.region().as_str()),
        channels: event.channels().iter().map(Channel::to_string).collect(),
        target: E::NAME.to_owned(),
        payload,
    })
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
    pub kind: EventType<RecommendationReady>,
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

impl RecommendationReady {
    /// The announcement of request `request_id` for `job_id` in `region`.
    pub fn new(
        job_id: JobId,
        request_id: RequestId,
        region: RegionId,
        config_version: u32,
        generated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            kind: EventType::new(),
            job_id,
            request_id,
            region,
            config_version,
            generated_at,
        }
    }
}

impl Event for RecommendationReady {
    const NAME: &'static str = "RecommendationReady";

    /// The region's dispatchers.
    fn channels(&self) -> Vec<Channel> {
        vec![Channel::Dispatch(self.region.clone())]
    }

    fn region(&self) -> &RegionId {
        &self.region
    }
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
    pub kind: EventType<JobAssigned>,
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

impl JobAssigned {
    /// The announcement of `assignment`, a job of `region`.
    pub fn of(assignment: &Assignment, region: RegionId) -> Self {
        Self {
            kind: EventType::new(),
            job_id: assignment.job_id,
            contractor_id: assignment.contractor_id,
            assignment_id: assignment.id,
            start_utc: assignment.start_utc,
            end_utc: assignment.end_utc,
            region,
            source: assignment.source,
            audit_id: assignment.audit_id,
        }
    }
}

impl Event for JobAssigned {
    const NAME: &'static str = "JobAssigned";

    /// The region's dispatchers and the contractor.
    fn channels(&self) -> Vec<Channel> {
        vec![
            Channel::Dispatch(self.region.clone()),
            Channel::Contractor(self.contractor_id),
        ]
    }

    /// The job's region, which is the contractor's too (a contractor works in one region).
    fn region(&self) -> &RegionId {
        &self.region
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_format_and_parse_as_each_other() {
        let contractor = ContractorId::from_u128(0xabcd_ef01);
        for channel in [
            Channel::Dispatch(RegionId::new("west")),
            Channel::Dispatch(RegionId::new("low-voltage_2")),
            Channel::Contractor(contractor),
        ] {
            assert_eq!(channel.to_string().parse::<Channel>(), Ok(channel));
        }
        let upper = contractor.to_string().to_uppercase();
        for bad in [
            "",
            "/dispatch/",
            "/dispatch/West",
            "/dispatch/a b",
            "/contractor/nope",
            "/other/west",
            &format!("/contractor/{upper}"),
            &format!("/dispatch/{}", "x".repeat(65)),
        ] {
            assert!(bad.parse::<Channel>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_event_names_itself_and_its_channels() {
        let assignment = Assignment {
            id: AssignmentId::from_u128(1),
            job_id: JobId::from_u128(2),
            contractor_id: ContractorId::from_u128(3),
            start_utc: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            end_utc: DateTime::from_timestamp(1_800_003_600, 0).unwrap_or_default(),
            source: AssignmentSource::Manual,
            audit_id: AuditId::from_u128(4),
        };
        let entry =
            outbox_entry(&JobAssigned::of(&assignment, RegionId::new("west"))).expect("encodes");
        assert_eq!(entry.target, "JobAssigned");
        assert_eq!(entry.shard, dispatch_store::outbox_shard("west"));
        assert_eq!(
            entry.channels,
            [
                "/dispatch/west".to_owned(),
                format!("/contractor/{}", assignment.contractor_id)
            ]
        );
        let payload: serde_json::Value = serde_json::from_str(entry.payload.get()).expect("json");
        assert_eq!(payload["type"], "JobAssigned");
        assert_eq!(payload["assignmentId"], assignment.id.to_string());
        assert_eq!(payload["source"], "manual");
    }
}
