//! The store's own types: paging, the outbox, recommendation and audit documents, idempotency
//! states. Domain entities come from `dispatch-core`; these are what only persistence needs (or
//! what the HTTP API shows exactly as stored).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use dispatch_core::plan::{Kpis, PlannedRoute, Unplanned};
use dispatch_core::{
    AssignmentId, AssignmentSource, AuditId, Candidate, ContractorId, Exclusion, Job, JobId,
    PlanId, RegionId,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

/// Identifies a recommendation request (`POST /api/v1/recommendations` answers with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RequestId(pub Uuid);

impl RequestId {
    /// Wraps a UUID made by the caller.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The wrapped UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// An id from the 128 bits of a number; handy in tests.
    pub const fn from_u128(bits: u128) -> Self {
        Self(Uuid::from_u128(bits))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Lower-case, hyphenated: the SPEC §2 form.
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for RequestId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

impl From<Uuid> for RequestId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

/// The page size used when the caller does not give one.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// The largest page size; larger requests are clamped to it.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// Which page of a list to return: at most `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageRequest {
    /// Page size, 1…=200 (clamped into that range by the store); default 50.
    pub limit: u32,
    /// The `nextCursor` of the previous page; `None` for the first page.
    pub cursor: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE_LIMIT,
            cursor: None,
        }
    }
}

impl PageRequest {
    /// The first page with `limit` items.
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The page after `cursor`, with `limit` items.
    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        Self {
            limit,
            cursor: Some(cursor.into()),
        }
    }

    /// The limit the store applies: `limit` clamped to 1…=200.
    pub fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, MAX_PAGE_LIMIT)
    }
}

/// One page of a list: `{"items":[…],"nextCursor":"…"|null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass this back to get the next page; `None` on the last page. Opaque and URL-safe.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// How many shards the outbox is split into. Each shard is relayed by one node at a time (the
/// holder of its lease, see [`crate::lease`]), so relaying is spread over the nodes, and
/// sequence order is commit order within a shard (not across shards on PostgreSQL). Fixed:
/// every stored event carries its shard (migration 5), so changing it means re-sharding.
pub const OUTBOX_SHARDS: u16 = 8;

/// The outbox shard of `region`'s events: the 32-bit FNV-1a hash of its id, modulo
/// [`OUTBOX_SHARDS`]. Every channel belongs to one region (a dispatcher channel is the region's,
/// a contractor works in one region), so a channel's events are all in one shard and
/// per-shard order is per-channel order. Stable across versions and platforms: migration 5 and
/// PostgreSQL's `dispatch_outbox_shard(text)` compute the same.
pub fn outbox_shard(region: &str) -> u16 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let hash = region
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u32::from(b)).wrapping_mul(PRIME));
    // The remainder is below `OUTBOX_SHARDS`, so it fits.
    (hash % u32::from(OUTBOX_SHARDS)) as u16
}

/// An event to append to the outbox, in the transaction of the change it reports.
///
/// The payload is JSON the producer encoded once (`serde_json::value::to_raw_value`); the store
/// keeps its text and the relay sends it on, never decoding it. Two events are equal when their
/// payloads are the same text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOutboxEvent {
    /// Its outbox shard: [`outbox_shard`] of the region it belongs to.
    pub shard: u16,
    /// The hub channels (SignalR groups) to send it on, e.g. `/dispatch/west`.
    pub channels: Vec<String>,
    /// The hub method the clients receive, the event's `type` (e.g. `JobAssigned`).
    pub target: String,
    /// The single argument: the event payload, already encoded.
    pub payload: Box<RawValue>,
}

impl NewOutboxEvent {
    /// An event of `region` for `channels` with `target` and `payload`.
    pub fn new(
        region: &str,
        channels: impl IntoIterator<Item = impl Into<String>>,
        target: impl Into<String>,
        payload: Box<RawValue>,
    ) -> Self {
        Self {
            shard: outbox_shard(region),
            channels: channels.into_iter().map(Into::into).collect(),
            target: target.into(),
            payload,
        }
    }
}

impl PartialEq for NewOutboxEvent {
    fn eq(&self, other: &Self) -> bool {
        self.shard == other.shard
            && self.channels == other.channels
            && self.target == other.target
            && self.payload.get() == other.payload.get()
    }
}

/// An event stored in the outbox, not yet (or already) relayed to the hub.
///
/// The payload is the stored JSON text: on SQLite the producer's bytes, on PostgreSQL (`jsonb`)
/// the same value as PostgreSQL spells it. Two events are equal when their payloads are the
/// same text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEvent {
    /// Position in the outbox; increases with every event appended. Within a shard, sequence
    /// order is commit order.
    pub sequence: i64,
    /// Its outbox shard (see [`outbox_shard`]); 0 when absent (a message of an older node).
    #[serde(default)]
    pub shard: u16,
    /// The hub channels to send it on.
    pub channels: Vec<String>,
    /// The hub method the clients receive.
    pub target: String,
    /// The event payload, as stored.
    pub payload: Box<RawValue>,
    /// When it was appended.
    pub created_at: DateTime<Utc>,
}

impl PartialEq for OutboxEvent {
    fn eq(&self, other: &Self) -> bool {
        self.sequence == other.sequence
            && self.shard == other.shard
            && self.channels == other.channels
            && self.target == other.target
            && self.payload.get() == other.payload.get()
            && self.created_at == other.created_at
    }
}

/// Where a recommendation request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RecommendationStatus {
    /// Accepted, the engine has not finished.
    Pending,
    /// Computed; candidates and exclusions are filled in.
    Ready,
    /// The engine failed; `error` says why.
    Failed,
}

impl RecommendationStatus {
    /// The wire and column form: `pending`, `ready`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }
}

/// A recommendation as `GET /api/v1/recommendations/{requestId}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecommendationRecord {
    /// The request.
    pub request_id: RequestId,
    /// The job recommended for.
    pub job_id: JobId,
    /// The job's region.
    pub region: RegionId,
    /// Pending, ready or failed.
    pub status: RecommendationStatus,
    /// How many candidates were asked for.
    pub limit: u32,
    /// Whether the top candidate is assigned automatically.
    pub auto_assign: bool,
    /// Who asked (the token's `sub`).
    pub requested_by: String,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// The scoring configuration version used, once ready.
    pub config_version: Option<u32>,
    /// When the engine produced it, once ready.
    pub generated_at: Option<DateTime<Utc>>,
    /// The audit record of the result, once ready.
    pub audit_id: Option<AuditId>,
    /// Candidates in rank order.
    pub candidates: Vec<Candidate>,
    /// Excluded contractors with reasons (empty when read with `?excluded=summary`).
    pub excluded: Vec<Exclusion>,
    /// How many contractors were excluded for each reason code (`missingSkill`, `tooFar`, …):
    /// the counts of `excluded`, also when `?excluded=summary` leaves the list out. Counted
    /// when the result is stored; empty while pending.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Record<string, number>"))]
    pub excluded_counts: BTreeMap<String, usize>,
    /// Why it failed, when failed.
    pub error: Option<String>,
}

/// How many of `excluded` broke each rule, by reason code: a result's `excludedCounts`.
pub fn excluded_counts(excluded: &[Exclusion]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::<&'static str, usize>::new();
    for exclusion in excluded {
        *counts.entry(exclusion.reason.code()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(code, n)| (code.to_owned(), n))
        .collect()
}

/// The audit record of a recommendation or of a manual decision (SPEC §4 "Audit record").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditRecord {
    /// Id.
    pub audit_id: AuditId,
    /// The recommendation request behind it; `None` for a manual assignment without one.
    pub request_id: Option<RequestId>,
    /// The plan whose application made the decision; absent for any other decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub plan_id: Option<PlanId>,
    /// The job's region.
    pub region: RegionId,
    /// The job as it was when recommended for (or assigned).
    pub job: Job,
    /// The scoring configuration version in force.
    pub config_version: u32,
    /// Who asked.
    pub requested_by: String,
    /// When the record was made.
    pub created_at: DateTime<Utc>,
    /// Every candidate considered, best first, with breakdown and proposed slot.
    pub candidates: Vec<Candidate>,
    /// Every contractor excluded, with the reason.
    pub excluded: Vec<Exclusion>,
    /// How many contractors were evaluated.
    pub evaluated: usize,
    /// The decision, once one is made.
    pub decision: Option<Decision>,
}

/// Which contractor was assigned from an audit record, by whom and at which rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Decision {
    /// The contractor assigned.
    pub contractor_id: ContractorId,
    /// The assignment made.
    pub assignment_id: AssignmentId,
    /// Who decided (the token's `sub`, or the service for `auto`).
    pub decided_by: String,
    /// Auto or manual.
    pub source: AssignmentSource,
    /// The contractor's rank among the candidates; `None` when it was not among them.
    pub rank: Option<u32>,
    /// When.
    pub decided_at: DateTime<Utc>,
}

/// The outcome of claiming an idempotency key ([`crate::Store::idempotency_begin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key: run the request, then `idempotency_finish` (or `_abandon`).
    Started,
    /// The request ran before with the same body: answer with this status and body again.
    Replay {
        /// The HTTP status of the first answer.
        status: u16,
        /// The body of the first answer.
        body: Vec<u8>,
    },
    /// The key was used before with a different body (HTTP 422 per the IETF draft).
    Mismatch,
    /// The first request with this key is still running (HTTP 409).
    InProgress,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_items_and_next_cursor() {
        let page = Page {
            items: vec![1, 2],
            next_cursor: None,
        };
        assert_eq!(
            serde_json::to_value(&page).expect("serialize"),
            serde_json::json!({"items": [1, 2], "nextCursor": null})
        );
        assert_eq!(page.map(|n| n * 10).items, vec![10, 20]);
    }

    #[test]
    fn request_id_is_a_lower_case_uuid() {
        let id = RequestId::from_u128(0xABCD);
        assert_eq!(id.to_string(), "00000000-0000-0000-0000-00000000abcd");
        assert_eq!(
            serde_json::to_value(id).expect("serialize"),
            "00000000-0000-0000-0000-00000000abcd"
        );
        assert_eq!(
            "00000000-0000-0000-0000-00000000ABCD"
                .parse::<RequestId>()
                .ok(),
            Some(id)
        );
    }

    #[test]
    fn outbox_events_travel_as_json_with_their_payload_bytes() {
        let payload = RawValue::from_string(r#"{"b":1,"a":[2.5,null]}"#.to_owned()).expect("json");
        let event = OutboxEvent {
            sequence: 7,
            shard: 6,
            channels: vec!["/dispatch/west".into()],
            target: "JobAssigned".into(),
            payload,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let text = serde_json::to_string(&event).expect("serialize");
        assert!(
            text.contains(r#""payload":{"b":1,"a":[2.5,null]}"#),
            "{text}"
        );
        let back: OutboxEvent = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, event);
        assert_eq!(back.payload.get(), event.payload.get());
    }

    #[test]
    fn outbox_shards_are_fnv_1a_of_the_region_and_stable() {
        // Pinned: stored rows carry their shard, so the function may never change.
        assert_eq!(outbox_shard("west"), 6);
        assert_eq!(outbox_shard("east"), 4);
        assert_eq!(outbox_shard("low-voltage_2"), 7);
        assert_eq!(outbox_shard(""), 5);
        let used: std::collections::BTreeSet<u16> =
            (0..100).map(|i| outbox_shard(&format!("r{i}"))).collect();
        assert_eq!(used.len(), usize::from(OUTBOX_SHARDS));
    }

    #[test]
    fn page_request_clamps_and_defaults() {
        assert_eq!(PageRequest::default().effective_limit(), 50);
        assert_eq!(PageRequest::first(0).effective_limit(), 1);
        assert_eq!(PageRequest::first(10_000).effective_limit(), 200);
        let from_query: PageRequest = serde_json::from_str(r#"{"cursor":"abc"}"#).expect("parse");
        assert_eq!(from_query, PageRequest::after(50, "abc"));
    }
}

/// Where a plan is. `running` until its search ends, then `ready` (or `failed`); `cancelled`
/// when stopped while running or discarded while ready; `applied` once applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PlanStatus {
    /// Searching (or waiting for a planning worker).
    Running,
    /// Searched: routes, unassigned jobs and KPIs are filled in, ready to apply.
    Ready,
    /// The search could not run or its node died; `error` says why.
    Failed,
    /// Stopped while running, or discarded while ready.
    Cancelled,
    /// Applied: `application` says what was booked and what conflicted.
    Applied,
}

impl PlanStatus {
    /// The wire and column form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Applied => "applied",
        }
    }

    /// The status of its column form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "applied" => Self::Applied,
            _ => return None,
        })
    }
}

/// How a plan's search is doing: its best solution so far (the final figures once ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanProgress {
    /// Search time so far, ms.
    pub elapsed_ms: u64,
    /// Search iterations so far.
    pub iterations: u64,
    /// Jobs placed by the best solution.
    pub scheduled: u32,
    /// Driving minutes of the best solution.
    pub travel_minutes: i64,
}

/// A plan as `GET /api/v1/plans/{planId}` shows it: the request, where its search is, and its
/// result once ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanRecord {
    /// The plan.
    pub plan_id: PlanId,
    /// Its region.
    pub region: RegionId,
    /// Where it is.
    pub status: PlanStatus,
    /// The scoring configuration version it was planned with.
    pub config_version: u32,
    /// Start of the planning period.
    pub from: DateTime<Utc>,
    /// End of the planning period.
    pub to: DateTime<Utc>,
    /// The jobs asked for; `null`: every open job of the region in the period.
    pub job_ids: Option<Vec<JobId>>,
    /// Whether unstarted automatic bookings in the period were let move (their jobs are
    /// planned again with the rest; applying moves each booking in one step).
    #[serde(default)]
    pub move_automatic: bool,
    /// The search's time budget, seconds.
    pub time_limit_seconds: u32,
    /// The search's seed.
    pub seed: u64,
    /// The token subject who asked.
    pub requested_by: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// The search so far (final once it ended).
    pub progress: PlanProgress,
    /// Per contractor with at least one planned visit, in contractor-id order (empty while
    /// running).
    pub routes: Vec<PlannedRoute>,
    /// The jobs the plan leaves out, with why (empty while running).
    pub unassigned: Vec<Unplanned>,
    /// The plan's figures (`null` while running).
    pub kpis: Option<Kpis>,
    /// Why it failed, when failed.
    pub error: Option<String>,
    /// What applying it did, once applied.
    pub application: Option<PlanApplication>,
}

/// What `POST /api/v1/plans/{planId}/apply` did: the visits booked and the ones that no longer
/// held.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanApplication {
    /// Booked, in the plan's order.
    pub applied: Vec<AppliedVisit>,
    /// Not booked: something changed since the plan was made.
    pub conflicts: Vec<PlanConflict>,
}

/// A planned visit that was booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AppliedVisit {
    /// The job.
    pub job_id: JobId,
    /// Its new assignment.
    pub assignment_id: AssignmentId,
    /// The assignment's audit record, which names the plan.
    pub audit_id: AuditId,
}

/// A planned visit that was not booked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanConflict {
    /// The job.
    pub job_id: JobId,
    /// Why, as a stable code: a hard rule's exclusion code (`timeOff`, `outsideWorkingHours`,
    /// …) or a booking conflict (`job-not-open`, `job-taken`, `contractor-busy`, `gone`).
    pub reason: String,
    /// Why, for people.
    pub detail: String,
}

/// Where an apply stands when `Store::claim_plan_apply` is asked to begin one.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanApplyClaim {
    /// No such plan.
    Missing,
    /// Claimed: this caller applies it (the plan as stored).
    Claimed(Box<PlanRecord>),
    /// Applied already: its application, to answer again.
    Applied(Box<PlanRecord>),
    /// Another apply of it is under way.
    InProgress,
    /// It cannot be applied in this status (running, failed or cancelled).
    NotReady(PlanStatus),
}

/// What a change-log record says changed (internal: never sent to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A contractor was created.
    ContractorCreated,
    /// A contractor's profile, skills, hours or region changed.
    ContractorUpdated,
    /// A contractor was deactivated (an update that cleared `active`).
    ContractorDeactivated,
    /// A contractor was given time off.
    TimeOff,
    /// A job was assigned to the contractor.
    AssignmentMade,
    /// The contractor's assignment of the job ended (unassigned).
    AssignmentRemoved,
    /// The job was cancelled (its live assignment, if any, ended with it).
    JobCancelled,
    /// Contractors were loaded in bulk: the region's state is rebuilt.
    BulkLoaded,
}

impl ChangeKind {
    /// Every kind.
    pub const ALL: [ChangeKind; 8] = [
        ChangeKind::ContractorCreated,
        ChangeKind::ContractorUpdated,
        ChangeKind::ContractorDeactivated,
        ChangeKind::TimeOff,
        ChangeKind::AssignmentMade,
        ChangeKind::AssignmentRemoved,
        ChangeKind::JobCancelled,
        ChangeKind::BulkLoaded,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChangeKind::ContractorCreated => "contractor_created",
            ChangeKind::ContractorUpdated => "contractor_updated",
            ChangeKind::ContractorDeactivated => "contractor_deactivated",
            ChangeKind::TimeOff => "time_off",
            ChangeKind::AssignmentMade => "assignment_made",
            ChangeKind::AssignmentRemoved => "assignment_removed",
            ChangeKind::JobCancelled => "job_cancelled",
            ChangeKind::BulkLoaded => "bulk_loaded",
        }
    }
}

impl FromStr for ChangeKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChangeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// One change-log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its place in the log (commit order within the region).
    pub sequence: i64,
    /// The region whose state it affects.
    pub region: RegionId,
    /// What changed.
    pub kind: ChangeKind,
    /// The contractor concerned, if any.
    pub contractor: Option<ContractorId>,
    /// The job concerned, if any.
    pub job: Option<JobId>,
}
