//! What the engine works over: the node's live region state ([`crate::region_state`]), or a
//! region's index loaded from the store around a job, or over a planning period.

use chrono::{DateTime, Duration, Utc};
use dispatch_core::{IndexError, Job, Region, RegionIndex, ScoringConfig};
use dispatch_store::{Store, StoreError};

use crate::region_state::{Current, RegionStates};

/// Why a region's index could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RegionLoadError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rows do not make an index (a booking of an unknown contractor, …).
    #[error("the region's data is inconsistent: {0}")]
    Inconsistent(#[from] IndexError),
    /// The building task panicked or was cancelled.
    #[error("building the region's index failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The region's state was evicted while in use (idle eviction raced a request).
    #[error("region {0}'s state was evicted meanwhile; try again")]
    Evicted(dispatch_core::RegionId),
    /// A consistency check found no quiet moment to compare (commits kept arriving).
    #[error("region {0} kept changing while being checked; try again")]
    Busy(dispatch_core::RegionId),
}

/// A region's index for one request: this node's live state, or (for a job whose window lies
/// further back than the live state holds) a fresh load.
pub enum RegionView {
    /// The node's live region state, caught up to every committed change.
    Live(Current),
    /// Loaded for this request alone.
    Fresh(Box<RegionIndex>),
}

impl std::ops::Deref for RegionView {
    type Target = RegionIndex;

    fn deref(&self) -> &RegionIndex {
        match self {
            RegionView::Live(current) => &current.index,
            RegionView::Fresh(index) => index,
        }
    }
}

/// The region's index around `job`: the live state (see [`crate::region_state`]) when it holds
/// the bookings that can matter for the job, else [`region_index`].
pub async fn region_view(
    states: &RegionStates,
    store: &Store,
    region: Region,
    job: &Job,
    config: &ScoringConfig,
    now: DateTime<Utc>,
) -> Result<RegionView, RegionLoadError> {
    let current = states.current(&region).await?;
    if job.window_start_utc.min(now) - Duration::days(1) >= current.from {
        return Ok(RegionView::Live(current));
    }
    drop(current);
    Ok(RegionView::Fresh(Box::new(
        region_index(store, region, job, config, now).await?,
    )))
}

/// The region's contractors and the bookings that can matter for `job`: from a day before its
/// window (or now) to a day after the later of its window's end and the search horizon — a day
/// either side so the day's workload and the travel to neighbouring jobs are seen.
pub async fn region_index(
    store: &Store,
    region: Region,
    job: &Job,
    config: &ScoringConfig,
    now: DateTime<Utc>,
) -> Result<RegionIndex, RegionLoadError> {
    let from = job.window_start_utc.min(now);
    let horizon = now + Duration::hours(i64::from(config.limits.horizon_hours));
    let to = job.window_end_utc.max(horizon);
    period_index(store, region, from, to).await
}

/// The region's contractors and the bookings that can matter for visits in `[from, to)`: a
/// day either side, so the day's workload and the travel to neighbouring jobs are seen.
pub async fn period_index(
    store: &Store,
    region: Region,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<RegionIndex, RegionLoadError> {
    let (from, to) = (from - Duration::days(1), to + Duration::days(1));
    let contractors = store.contractors_in_region(&region.id).await?;
    let bookings = store.region_bookings(&region.id, from, to).await?;
    // Building is CPU work proportional to the region: keep it off the async threads.
    Ok(
        tokio::task::spawn_blocking(move || RegionIndex::build(region, &contractors, &bookings))
            .await??,
    )
}
