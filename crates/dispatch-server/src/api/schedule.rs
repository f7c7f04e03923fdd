//! A region's schedule over a period, in one bounded read: every contractor with its working
//! hours, time off and bookings (each with its job), and the open jobs not yet booked — what a
//! schedule board draws.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use dispatch_core::{
    Assignment, Booking, Contractor, ContractorId, Job, Region, RegionId, StraightLine, Travel,
    time::working_intervals, trips_into_bookings,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Identity, require_dispatcher};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::openapi::{Forbidden, InvalidQuery, NotFound, Unauthenticated, Unavailable};
use crate::state::AppState;

/// The schedule route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(read))
}

/// `?from=&to=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScheduleQuery {
    /// Start of the period (ISO 8601, UTC).
    from: DateTime<Utc>,
    /// End of the period, at most 14 days after `from`.
    to: DateTime<Utc>,
}

/// A region's schedule over a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// The region (its time zone is the board's).
    pub region: Region,
    /// Start of the period.
    pub from: DateTime<Utc>,
    /// End of the period.
    pub to: DateTime<Utc>,
    /// Every contractor of the region, by name, with its bookings in the period.
    pub contractors: Vec<ScheduleRow>,
    /// Open jobs whose window overlaps the period: emergencies first, then by window start.
    pub unassigned: Vec<Job>,
    /// True when there are more open jobs than [`MAX_UNASSIGNED`] (the first are listed).
    pub unassigned_truncated: bool,
}

/// One contractor's row: the contractor (its time off cut to the period), when it works and
/// its bookings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRow {
    /// The contractor.
    pub contractor: Contractor,
    /// Its working hours in the period as UTC stretches (sorted, merged, DST-correct): the
    /// engine's own "inside working hours", so a board never re-derives it.
    pub working: Vec<WorkingStretch>,
    /// Its live bookings overlapping the period, by start.
    pub bookings: Vec<ScheduledBooking>,
}

/// A booking with its job and the trip into it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ScheduledBooking {
    /// The assignment.
    pub assignment: Assignment,
    /// Its job.
    pub job: Job,
    /// The drive before it, by the rule recommendations plan with: from the previous job of
    /// the same working stretch, else from home.
    pub travel: Travel,
}

/// A stretch of working time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct WorkingStretch {
    /// Start.
    pub start_utc: DateTime<Utc>,
    /// End.
    pub end_utc: DateTime<Utc>,
}

/// Longest period one read covers.
const MAX_PERIOD_DAYS: i64 = 14;
/// Most open jobs one read lists.
pub const MAX_UNASSIGNED: u32 = 1_000;

/// The region's schedule over `[from, to)`: contractors with working hours, time off and
/// bookings, and the open jobs not yet booked.
///
/// Roles: `admin`, a `dispatcher` of the region.
#[utoipa::path(get, path = "/api/v1/regions/{id}/schedule", tag = "regions", operation_id = "getSchedule",
    security(("bearer" = ["admin", "dispatcher"])),
    params(("id" = String, Path, description = "Region id"), ScheduleQuery),
    responses((status = 200, description = "The schedule", body = Schedule),
        InvalidQuery, NotFound, Unauthenticated, Forbidden, Unavailable))]
async fn read(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ScheduleQuery>,
) -> Result<Json<Schedule>, ApiError> {
    require_dispatcher(&identity)?;
    let id = RegionId::new(id);
    // Another region's schedule looks missing.
    if !identity.can_dispatch(&id) {
        return Err(ApiError::NotFound("region"));
    }
    let region = state
        .store
        .region(&id)
        .await?
        .ok_or(ApiError::NotFound("region"))?;
    let (from, to) = (query.from, query.to);
    if to <= from {
        return Err(ApiError::validation("to", "to must be after from"));
    }
    if to - from > Duration::days(MAX_PERIOD_DAYS) {
        return Err(ApiError::validation(
            "to",
            format!("a schedule covers at most {MAX_PERIOD_DAYS} days"),
        ));
    }
    let mut contractors = state.store.contractors_in_region(&id).await?;
    contractors.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut booked: HashMap<ContractorId, Vec<(Assignment, Job)>> = HashMap::new();
    for (assignment, job) in state.store.region_schedule(&id, from, to).await? {
        booked
            .entry(assignment.contractor_id)
            .or_default()
            .push((assignment, job));
    }
    let travel = StraightLine::from_limits(&state.store.current_config().await?.limits);
    let zone = region.time_zone;
    let rows = contractors
        .into_iter()
        .map(|mut contractor| {
            let bookings = booked.remove(&contractor.id).unwrap_or_default();
            let trips = trips_into_bookings(
                &contractor,
                zone,
                &bookings
                    .iter()
                    .map(|(assignment, job)| Booking::new(assignment, job.location))
                    .collect::<Vec<_>>(),
                &travel,
            );
            contractor
                .time_off
                .retain(|off| off.start_utc < to && off.end_utc > from);
            ScheduleRow {
                working: working_intervals(zone, &contractor.working_hours, from, to)
                    .into_iter()
                    .map(|(start_utc, end_utc)| WorkingStretch { start_utc, end_utc })
                    .collect(),
                bookings: bookings
                    .into_iter()
                    .zip(trips)
                    .map(|((assignment, job), travel)| ScheduledBooking {
                        assignment,
                        job,
                        travel,
                    })
                    .collect(),
                contractor,
            }
        })
        .collect();
    let mut unassigned = state
        .store
        .open_jobs_between(&id, from, to, MAX_UNASSIGNED + 1)
        .await?;
    let unassigned_truncated = unassigned.len() > MAX_UNASSIGNED as usize;
    unassigned.truncate(MAX_UNASSIGNED as usize);
    unassigned.sort_by_key(|job| (std::cmp::Reverse(job.priority), job.window_start_utc));
    Ok(Json(Schedule {
        region,
        from,
        to,
        contractors: rows,
        unassigned,
        unassigned_truncated,
    }))
}
