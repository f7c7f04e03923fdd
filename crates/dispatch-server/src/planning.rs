//! Loading what the engine needs from the store: a region's index around a job.

use chrono::{DateTime, Duration, Utc};
use dispatch_core::{Job, Region, RegionIndex, ScoringConfig};
use dispatch_store::Store;

use crate::error::ApiError;

/// The region's contractors and the bookings that can matter for `job`: from a day before its
/// window (or now) to a day after the later of its window's end and the search horizon — a day
/// either side so the day's workload and the travel to neighbouring jobs are seen.
pub async fn region_index(
    store: &Store,
    region: Region,
    job: &Job,
    config: &ScoringConfig,
    now: DateTime<Utc>,
) -> Result<RegionIndex, ApiError> {
    let from = job.window_start_utc.min(now) - Duration::days(1);
    let horizon = now + Duration::hours(i64::from(config.limits.horizon_hours));
    let to = job.window_end_utc.max(horizon) + Duration::days(1);
    let contractors = store.contractors_in_region(&region.id).await?;
    let bookings = store.region_bookings(&region.id, from, to).await?;
    // Building is CPU work proportional to the region: keep it off the async threads.
    tokio::task::spawn_blocking(move || RegionIndex::build(region, &contractors, &bookings))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}
