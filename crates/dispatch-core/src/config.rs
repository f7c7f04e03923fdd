//! The scoring configuration: weights of the soft factors and the hard limits, with the version
//! that every recommendation records (SPEC §4, §6 `GET /api/v1/config`).
//!
//! ```text
//! {"version":3,
//!  "weights":{"travelTime":0.35,"earliestStart":0.30,"skillFit":0.10,"rating":0.10,"workload":0.15},
//!  "limits":{"maxTravelKm":40,"roadFactor":1.3,"averageSpeedKmh":40,"horizonHours":168,
//!            "travelWorstMinutes":120,"slotStepMinutes":5,"maxCandidates":200}}
//! ```
//!
//! Weights need not sum to 1: the score is `Σ wᵢ·gradeᵢ / Σ wᵢ`, always 0…100 (DOMAIN.md B2).
//! Missing `limits` fields take their defaults, so configurations stored before a limit was
//! added stay readable (SPEC: "old versions stay readable").

use serde::{Deserialize, Serialize};

/// The weight of each soft factor (see the crate README for each factor's best and worst case).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Weights {
    /// Travel time to the job from where the contractor comes from.
    pub travel_time: f64,
    /// How soon the job can start (ASAP).
    pub earliest_start: f64,
    /// Skill level close to what the job needs (keeps masters for hard jobs).
    pub skill_fit: f64,
    /// The contractor's rating.
    pub rating: f64,
    /// How lightly loaded the contractor is on the slot's day.
    pub workload: f64,
}

impl Default for Weights {
    /// DOMAIN.md's proposals for the factors we build (travel 35, ASAP 25, skill 10, workload
    /// 10), with the 20 points of the factors we do not build yet (preferred contractor 15,
    /// overtime 5) spread as ASAP +5, workload +5 and rating 10 — rating is a factor the issue
    /// names, kept small because ratings are subjective (Timefold's argument for weight 0).
    fn default() -> Self {
        Self {
            travel_time: 0.35,
            earliest_start: 0.30,
            skill_fit: 0.10,
            rating: 0.10,
            workload: 0.15,
        }
    }
}

impl Weights {
    /// The sum of the weights, the score's denominator.
    pub fn total(&self) -> f64 {
        self.travel_time + self.earliest_start + self.skill_fit + self.rating + self.workload
    }
}

/// Hard limits and the scales of the soft factors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Limits {
    /// A contractor whose home base is farther than this from the job (estimated road km) is
    /// excluded (`tooFar`).
    pub max_travel_km: f64,
    /// Straight-line distance × this = estimated road distance (circuity factor, ≥ 1).
    pub road_factor: f64,
    /// Average driving speed for the straight-line estimate.
    pub average_speed_kmh: f64,
    /// Slots are searched up to this many hours after the job can first start; it is also the
    /// "worst case" of the earliest-start factor.
    pub horizon_hours: u32,
    /// Travel of this many minutes or more grades 0 on the travel factor.
    pub travel_worst_minutes: u32,
    /// Proposed start times are multiples of this many minutes (UTC), e.g. 10:05, not 10:03.
    pub slot_step_minutes: u32,
    /// At most this many candidates are returned, whatever limit is asked for.
    pub max_candidates: u32,
}

impl Default for Limits {
    /// 60 minutes' drive at 40 km/h (DOMAIN H8 and ServiceNow's 25 mph), a 1.3 road factor
    /// (typical urban circuity), one week of horizon, 120 minutes as the travel worst case
    /// (Salesforce's scale), 5-minute steps, 200 candidates at most (DOMAIN "M").
    fn default() -> Self {
        Self {
            max_travel_km: 40.0,
            road_factor: 1.3,
            average_speed_kmh: 40.0,
            horizon_hours: 168,
            travel_worst_minutes: 120,
            slot_step_minutes: 5,
            max_candidates: 200,
        }
    }
}

/// A versioned scoring configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ScoringConfig {
    /// Increases by one on every change; recorded in every recommendation.
    pub version: u32,
    /// Soft-factor weights.
    pub weights: Weights,
    /// Hard limits and scales.
    pub limits: Limits,
}

impl Default for ScoringConfig {
    /// Version 1 with the default weights and limits.
    fn default() -> Self {
        Self {
            version: 1,
            weights: Weights::default(),
            limits: Limits::default(),
        }
    }
}

/// The body of `PUT /api/v1/config`: a configuration without its version (the store assigns it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewScoringConfig {
    /// Soft-factor weights.
    pub weights: Weights,
    /// Hard limits and scales.
    #[serde(default)]
    pub limits: Limits,
}

impl NewScoringConfig {
    /// The stored configuration with the version the store assigned.
    pub fn into_config(self, version: u32) -> ScoringConfig {
        ScoringConfig {
            version,
            weights: self.weights,
            limits: self.limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_weights_sum_to_one() {
        let c = ScoringConfig::default();
        assert!((c.weights.total() - 1.0).abs() < 1e-9);
        let json = serde_json::to_value(c).expect("serialize");
        assert_eq!(json["weights"]["travelTime"], 0.35);
        assert_eq!(json["limits"]["maxTravelKm"], 40.0);
        let back: ScoringConfig = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, c);
    }

    #[test]
    fn missing_limits_take_defaults() {
        let c: ScoringConfig = serde_json::from_str(
            r#"{"version":2,"weights":{"travelTime":1,"earliestStart":0,"skillFit":0,"rating":0,"workload":0},
                "limits":{"maxTravelKm":60}}"#,
        )
        .expect("parses");
        assert_eq!(c.limits.max_travel_km, 60.0);
        assert_eq!(c.limits.horizon_hours, Limits::default().horizon_hours);
    }
}
