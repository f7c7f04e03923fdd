//! Travel estimates, behind the [`TravelEstimator`] trait so a road-routing source can replace
//! the built-in straight-line estimate without touching the engine.
//!
//! The built-in [`StraightLine`] is great-circle (haversine) distance × a road factor, driven at
//! an average speed, both from the scoring configuration. Every figure it gives is labelled
//! [`TravelSource::Estimate`] so that screens and audit records say so (DOMAIN.md: "travel-time
//! source is part of the answer").

use serde::{Deserialize, Serialize};

use crate::config::Limits;
use crate::model::GeoPoint;

/// Mean earth radius (IUGG), km.
pub(crate) const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// Where a travel figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum TravelSource {
    /// Straight-line distance × road factor at an average speed.
    Estimate,
    /// A road-routing service.
    Road,
}

/// One travel figure: road distance, driving time and its source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TravelEstimate {
    /// Road distance, km.
    pub distance_km: f64,
    /// Driving time, whole minutes (rounded up).
    pub minutes: u32,
    /// How it was obtained.
    pub source: TravelSource,
}

/// A source of travel estimates between two points.
///
/// Contract: `distance_km` is never below the great-circle distance between the points (roads
/// are never shorter than the straight line). The engine relies on it to rule out contractors
/// who are surely out of reach from geometry alone, without asking the estimator about them.
pub trait TravelEstimator {
    /// Travel from `from` to `to`.
    fn estimate(&self, from: GeoPoint, to: GeoPoint) -> TravelEstimate;

    /// The largest great-circle distance at which a trip can still be `road_km` or shorter by
    /// this estimator. The default, `road_km`, follows from the contract above; an estimator
    /// that knows its roads are longer may return less, so more contractors are ruled out
    /// from geometry alone.
    fn great_circle_bound_km(&self, road_km: f64) -> f64 {
        road_km
    }

    /// The road distance this estimator gives for *any* trip of great-circle length `gc_km`,
    /// when it depends on nothing else (true of a straight-line estimate); `None` (the default)
    /// otherwise. Lets the engine say how far an out-of-reach contractor is without a full
    /// estimate.
    fn road_km_for_great_circle(&self, gc_km: f64) -> Option<f64> {
        let _ = gc_km;
        None
    }
}

impl<T: TravelEstimator + ?Sized> TravelEstimator for &T {
    fn estimate(&self, from: GeoPoint, to: GeoPoint) -> TravelEstimate {
        (**self).estimate(from, to)
    }

    fn great_circle_bound_km(&self, road_km: f64) -> f64 {
        (**self).great_circle_bound_km(road_km)
    }

    fn road_km_for_great_circle(&self, gc_km: f64) -> Option<f64> {
        (**self).road_km_for_great_circle(gc_km)
    }
}

/// Great-circle distance × road factor at an average speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StraightLine {
    /// Circuity factor, ≥ 1.
    pub road_factor: f64,
    /// Average speed, km/h, > 0.
    pub average_speed_kmh: f64,
}

impl StraightLine {
    /// The estimator configured by the scoring limits.
    pub fn from_limits(limits: &Limits) -> Self {
        Self {
            // Clamped so that an unvalidated configuration cannot break the trait's contract
            // (factor below 1) or divide by zero.
            road_factor: limits.road_factor.max(1.0),
            average_speed_kmh: limits.average_speed_kmh.max(0.1),
        }
    }
}

impl TravelEstimator for StraightLine {
    fn estimate(&self, from: GeoPoint, to: GeoPoint) -> TravelEstimate {
        let distance_km = haversine_km(from, to) * self.road_factor;
        TravelEstimate {
            distance_km,
            minutes: minutes_for(distance_km, self.average_speed_kmh),
            source: TravelSource::Estimate,
        }
    }

    fn great_circle_bound_km(&self, road_km: f64) -> f64 {
        // A hair of slack so float rounding at the boundary never drops a contractor the
        // exact check would keep.
        road_km / self.road_factor * (1.0 + 1e-9) + 1e-6
    }

    fn road_km_for_great_circle(&self, gc_km: f64) -> Option<f64> {
        Some(gc_km * self.road_factor)
    }
}

/// Whole minutes (rounded up) to drive `km` at `kmh`. A hair of tolerance keeps 10.000000001
/// minutes from becoming 11.
pub fn minutes_for(km: f64, kmh: f64) -> u32 {
    let m = (km / kmh * 60.0 - 1e-9).ceil();
    if m.is_finite() && m > 0.0 {
        // Saturating: a trip longer than u32::MAX minutes is as good as impossible.
        if m >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            m as u32
        }
    } else {
        0
    }
}

/// A point as a unit vector on the sphere.
pub(crate) fn unit_vector(p: GeoPoint) -> [f64; 3] {
    let (lat, lon) = (p.lat.to_radians(), p.lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Squared chord between two unit vectors (0 … 4).
pub(crate) fn chord2(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (x, y, z) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    x * x + y * y + z * z
}

/// The great-circle distance, km, of a squared chord.
pub(crate) fn chord2_to_km(c2: f64) -> f64 {
    2.0 * EARTH_RADIUS_KM * (c2.max(0.0).sqrt() * 0.5).min(1.0).asin()
}

/// The squared chord of a great-circle distance, km; above 4 (everything) from half the
/// circumference on.
pub(crate) fn km_to_chord2(km: f64) -> f64 {
    let angle = km / EARTH_RADIUS_KM;
    if angle.is_nan() || angle >= std::f64::consts::PI {
        return f64::INFINITY;
    }
    let c = 2.0 * (angle * 0.5).sin();
    c * c
}

/// Great-circle distance between two points, km.
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat * 0.5).sin().powi(2) + la1.cos() * la2.cos() * (dlon * 0.5).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distances() {
        let sf = GeoPoint::new(37.7749, -122.4194);
        let la = GeoPoint::new(34.0522, -118.2437);
        let d = haversine_km(sf, la);
        assert!((d - 559.0).abs() < 2.0, "{d}");
        assert_eq!(haversine_km(sf, sf), 0.0);
        // Across the antimeridian.
        let d = haversine_km(GeoPoint::new(0.0, 179.5), GeoPoint::new(0.0, -179.5));
        assert!((d - 111.2).abs() < 0.5, "{d}");
    }

    #[test]
    fn chord_distance_matches_haversine() {
        let pts = [
            GeoPoint::new(37.7749, -122.4194),
            GeoPoint::new(34.0522, -118.2437),
            GeoPoint::new(52.52, 13.405),
            GeoPoint::new(-33.87, 151.21),
            GeoPoint::new(37.78, -122.41),
        ];
        for a in pts {
            for b in pts {
                let h = haversine_km(a, b);
                let c = chord2_to_km(chord2(unit_vector(a), unit_vector(b)));
                assert!((h - c).abs() < 1e-6 * h.max(1.0), "{a:?} {b:?}: {h} vs {c}");
            }
        }
        assert!((chord2_to_km(km_to_chord2(40.0)) - 40.0).abs() < 1e-9);
        assert_eq!(km_to_chord2(30_000.0), f64::INFINITY);
    }

    #[test]
    fn straight_line_applies_factor_and_speed() {
        let est = StraightLine {
            road_factor: 1.5,
            average_speed_kmh: 30.0,
        };
        let a = GeoPoint::new(52.0, 13.0);
        let b = GeoPoint::new(52.1, 13.0); // ~11.1 km
        let t = est.estimate(a, b);
        assert!((t.distance_km - 16.68).abs() < 0.05, "{t:?}");
        assert_eq!(t.minutes, 34); // 16.68 km at 30 km/h = 33.4 min, rounded up
        assert_eq!(t.source, TravelSource::Estimate);
    }

    #[test]
    fn minutes_round_up_but_not_on_float_noise() {
        assert_eq!(minutes_for(10.0, 60.0), 10);
        assert_eq!(minutes_for(10.01, 60.0), 11);
        assert_eq!(minutes_for(0.0, 60.0), 0);
        assert_eq!(minutes_for(f64::NAN, 60.0), 0);
    }
}
