//! Table tests: every hard rule, with its reason code, plus the slot arithmetic around them
//! (travel from the previous place and to the next job, time off, the daily cap), the manual
//! check, and the recommendation's shape.

mod common;

use common::*;
use dispatch_core::*;

/// What a case expects for contractor 1.
#[derive(Debug)]
enum Want {
    /// A candidate starting at this instant.
    Start(&'static str),
    /// Excluded with this code (and, for `noSlot`, this cause).
    Code(&'static str, Option<NoSlotCause>),
}

/// Table-driven cases: `name: |contractors, bookings, job, now| setup => expectation;`.
macro_rules! cases {
    ($($name:ident: |$c:ident, $b:ident, $j:ident, $n:ident| $setup:block => $want:expr;)*) => {$(
        #[test]
        #[allow(unused_mut, unused_variables, unused_assignments)]
        fn $name() {
            let mut $c = contractor(1);
            let mut $b: Vec<Booking> = Vec::new();
            let mut $j = job();
            let mut $n = now();
            $setup
            let idx = index(west(), &[$c.clone()], &$b);
            let got = outcome(&idx, &$j, $n, 1);
            match ($want, got) {
                (Want::Start(s), Ok(c)) => {
                    assert_eq!(c.start_utc, utc(s), "{c:?}");
                    assert_eq!(
                        c.end_utc - c.start_utc,
                        chrono::Duration::minutes(i64::from($j.duration_minutes))
                    );
                }
                (Want::Code(code, cause), Err(e)) => {
                    assert_eq!(e.reason.code(), code, "{e}");
                    if let Some(cause) = cause {
                        assert_eq!(e.reason, ExclusionReason::NoSlot { cause }, "{e}");
                    }
                }
                (want, got) => panic!("wanted {want:?}, got {got:?}"),
            }
        }
    )*};
}

const BUSY: Option<NoSlotCause> = Some(NoSlotCause::Busy);

cases! {
    // The baseline: shift starts 15:00Z, 3 minutes' drive from home, rounded up to 5 minutes.
    feasible_baseline: |c, b, j, n| {} => Want::Start("2026-06-02T15:05:00Z");

    inactive: |c, b, j, n| { c.active = false; } => Want::Code("inactive", None);
    wrong_region: |c, b, j, n| { c.region = "east".into(); } => Want::Code("wrongRegion", None);
    lacks_skill: |c, b, j, n| {
        c.skills = vec![Skill { name: "electrical".into(), level: 5 }];
    } => Want::Code("missingSkill", None);
    level_too_low: |c, b, j, n| { c.skills[0].level = 1; } => Want::Code("missingSkill", None);
    second_skill_missing: |c, b, j, n| {
        j.required_skills.push(RequiredSkill { name: "electrical".into(), min_level: 1 });
    } => Want::Code("missingSkill", None);
    too_far: |c, b, j, n| { c.location = north(SITE, 60.0); } => Want::Code("tooFar", None);
    // 30 km straight is 39 km by road: inside the 40 km limit, 59 minutes' drive.
    far_but_within_limit: |c, b, j, n| {
        c.location = north(SITE, 30.0);
    } => Want::Start("2026-06-02T16:00:00Z");

    no_hours_that_day: |c, b, j, n| {
        c.working_hours = vec![hours(Weekday::Sat, "08:00", "17:00")];
    } => Want::Code("noSlot", Some(NoSlotCause::NoWorkingHours));
    time_off_all_day: |c, b, j, n| {
        c.time_off.push(TimeOff {
            start_utc: utc("2026-06-02T07:00:00Z"),
            end_utc: utc("2026-06-03T07:00:00Z"),
            reason: "sick".into(),
        });
    } => Want::Code("noSlot", BUSY);
    // After time off the contractor starts from home again.
    time_off_morning: |c, b, j, n| {
        c.time_off.push(TimeOff {
            start_utc: utc("2026-06-02T14:00:00Z"),
            end_utc: utc("2026-06-02T18:00:00Z"),
            reason: "dentist".into(),
        });
    } => Want::Start("2026-06-02T18:05:00Z");
    fully_booked: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T19:30:00Z", SITE));
        b.push(booking(1, 2, "2026-06-02T19:30:00Z", "2026-06-03T00:00:00Z", SITE));
    } => Want::Code("noSlot", BUSY);
    gap_too_short: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T19:00:00Z", SITE));
        b.push(booking(1, 2, "2026-06-02T19:55:00Z", "2026-06-03T00:00:00Z", SITE));
    } => Want::Code("noSlot", BUSY);
    // After a job at the same place: no travel, from the previous job.
    after_booking_same_place: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T16:00:00Z", SITE));
    } => Want::Start("2026-06-02T16:00:00Z");
    // The job's own booking never blocks it (re-planning an assigned job).
    own_booking_ignored: |c, b, j, n| {
        b.push(booking(1, 0xAB, "2026-06-02T15:00:00Z", "2026-06-02T16:00:00Z", SITE));
    } => Want::Start("2026-06-02T15:05:00Z");
    // Gap 19:00–20:10 holds the 60-minute job, but not the 59-minute drive to the next one.
    travel_to_next_job: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T19:00:00Z", SITE));
        b.push(booking(1, 2, "2026-06-02T20:10:00Z", "2026-06-03T00:00:00Z", north(SITE, 30.0)));
    } => Want::Code("noSlot", BUSY);
    travel_to_next_job_control: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T19:00:00Z", SITE));
        b.push(booking(1, 2, "2026-06-02T20:10:00Z", "2026-06-03T00:00:00Z", SITE));
    } => Want::Start("2026-06-02T19:00:00Z");
    // Gap 19:00–20:30: 59 minutes from the previous job, then 60 on site, is too long.
    travel_from_previous_job: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T19:00:00Z", north(SITE, 30.0)));
        b.push(booking(1, 2, "2026-06-02T20:30:00Z", "2026-06-03T00:00:00Z", SITE));
    } => Want::Code("noSlot", BUSY);
    travel_from_previous_job_control: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T19:00:00Z", north(SITE, 30.0)));
        b.push(booking(1, 2, "2026-06-02T21:00:00Z", "2026-06-03T00:00:00Z", SITE));
    } => Want::Start("2026-06-02T20:00:00Z");
    // Four jobs already on Tuesday (the cap): free gaps exist, but not under the cap.
    max_jobs_per_day: |c, b, j, n| {
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T15:30:00Z", SITE));
        b.push(booking(1, 2, "2026-06-02T16:00:00Z", "2026-06-02T16:30:00Z", SITE));
        b.push(booking(1, 3, "2026-06-02T17:00:00Z", "2026-06-02T17:30:00Z", SITE));
        b.push(booking(1, 4, "2026-06-02T18:00:00Z", "2026-06-02T18:30:00Z", SITE));
    } => Want::Code("maxJobsPerDay", None);
    // With a two-day window the cap on Tuesday moves the job to Wednesday.
    max_jobs_moves_to_next_day: |c, b, j, n| {
        j.window_end_utc = utc("2026-06-04T00:00:00Z");
        b.push(booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T15:30:00Z", SITE));
        b.push(booking(1, 2, "2026-06-02T16:00:00Z", "2026-06-02T16:30:00Z", SITE));
        b.push(booking(1, 3, "2026-06-02T17:00:00Z", "2026-06-02T17:30:00Z", SITE));
        b.push(booking(1, 4, "2026-06-02T18:00:00Z", "2026-06-02T18:30:00Z", SITE));
    } => Want::Start("2026-06-03T15:05:00Z");
    // Later than the window start: from now, plus the drive.
    now_inside_window: |c, b, j, n| {
        n = utc("2026-06-02T20:00:00Z");
    } => Want::Start("2026-06-02T20:05:00Z");
    // The whole job must fit before the window's end.
    // 22:58 + 3 minutes' drive, rounded: 23:05, too late to finish by 00:00.
    must_finish_in_window: |c, b, j, n| {
        n = utc("2026-06-02T22:58:00Z");
    } => Want::Code("noSlot", BUSY);
    // Beyond the search horizon (7 days) nothing is proposed.
    beyond_horizon: |c, b, j, n| {
        c.working_hours = vec![hours(Weekday::Tue, "08:00", "17:00")];
        j.window_start_utc = utc("2026-06-03T00:00:00Z");
        j.window_end_utc = utc("2026-06-12T00:00:00Z");
    } => Want::Start("2026-06-09T15:05:00Z");
}

#[test]
fn travel_and_breakdown_are_reported() {
    let idx = index(west(), &[contractor(1)], &[]);
    let c = outcome(&idx, &job(), now(), 1).expect("candidate");
    assert_eq!(c.travel.minutes, 3);
    assert_eq!(c.travel.source, TravelSource::Estimate);
    assert_eq!(c.travel.from, TravelOrigin::Home);
    assert!((c.travel.distance_km - 1.8).abs() < 0.05, "{:?}", c.travel);
    let b = c.breakdown;
    assert_eq!(b.travel_time, 97.5); // 3 of 120 minutes
    assert_eq!(b.earliest_start, 99.0); // 5 minutes into a 480-minute span
    assert_eq!(b.skill_fit, 75.0); // one level above the minimum
    assert_eq!(b.rating, 90.0);
    assert_eq!(b.workload, 100.0);
    let w = Weights::default();
    let score = (w.travel_time * 97.5
        + w.earliest_start * 99.0
        + w.skill_fit * 75.0
        + w.rating * 90.0
        + w.workload * 100.0)
        / w.total();
    assert!((c.score - score).abs() < 0.006, "{} vs {score}", c.score);
}

#[test]
fn exclusions_carry_facts_and_sentences() {
    let mut low = contractor(2);
    low.skills[0].level = 1;
    let mut far = contractor(3);
    far.location = north(SITE, 60.0);
    let mut foreign = contractor(4);
    foreign.region = "east".into();
    let idx = index(west(), &[low, far, foreign], &[]);
    let rec = recommend(&idx, &job(), &ScoringConfig::default(), now(), 5).expect("ok");
    let json = serde_json::to_value(&rec.excluded).expect("serialize");
    assert_eq!(json[0]["reason"], "missingSkill");
    assert_eq!(json[0]["skill"], "plumbing");
    assert_eq!(json[0]["requiredLevel"], 2);
    assert_eq!(json[0]["actualLevel"], 1);
    assert_eq!(
        json[0]["message"],
        "Has plumbing at level 1; the job needs level 2 or higher."
    );
    assert_eq!(json[1]["reason"], "tooFar");
    assert_eq!(json[1]["maxKm"], 40.0);
    let km = json[1]["distanceKm"].as_f64().expect("number");
    assert!((km - 78.0).abs() < 0.5, "{km}");
    assert!(
        json[1]["message"]
            .as_str()
            .expect("text")
            .contains("limit is 40 km")
    );
    assert_eq!(json[2]["reason"], "wrongRegion");
    assert_eq!(json[2]["region"], "east");
    // Round trip: the facts come back; the sentence is re-rendered from them.
    let back: Vec<Exclusion> = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, rec.excluded);
}

#[test]
fn recommendation_shape_matches_spec() {
    let idx = index(west(), &[contractor(1)], &[]);
    let rec = recommend(&idx, &job(), &ScoringConfig::default(), now(), 5).expect("ok");
    let json = serde_json::to_value(&rec).expect("serialize");
    let c = &json["candidates"][0];
    assert_eq!(c["rank"], 1);
    assert_eq!(c["contractorId"], "00000000-0000-0000-0000-000000000001");
    assert_eq!(c["startUtc"], "2026-06-02T15:05:00Z");
    assert_eq!(c["endUtc"], "2026-06-02T16:05:00Z");
    assert_eq!(c["travel"]["source"], "estimate");
    assert_eq!(c["travel"]["from"], "home");
    for f in [
        "travelTime",
        "earliestStart",
        "skillFit",
        "rating",
        "workload",
    ] {
        assert!(c["breakdown"][f].is_number(), "{f}");
    }
    assert_eq!(json["configVersion"], 1);
    assert_eq!(json["generatedAt"], "2026-06-01T12:00:00Z");
    assert_eq!(json["feasibleCount"], 1);
    let back: Recommendation = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, rec);
}

#[test]
fn limit_truncates_and_ties_break_by_id() {
    let all: Vec<Contractor> = (1..=6).rev().map(contractor).collect();
    let idx = index(west(), &all, &[]);
    let rec = recommend(&idx, &job(), &ScoringConfig::default(), now(), 3).expect("ok");
    assert_eq!(rec.feasible_count, 6);
    assert_eq!(rec.considered_count, 6);
    assert!(rec.excluded.is_empty());
    let ids: Vec<ContractorId> = rec.candidates.iter().map(|c| c.contractor_id).collect();
    assert_eq!(
        ids,
        (1..=3).map(ContractorId::from_u128).collect::<Vec<_>>()
    );
    let ranks: Vec<u32> = rec.candidates.iter().map(|c| c.rank).collect();
    assert_eq!(ranks, vec![1, 2, 3]);
    // The configuration caps the limit.
    let mut config = ScoringConfig::default();
    config.limits.max_candidates = 2;
    let rec = recommend(&idx, &job(), &config, now(), 50).expect("ok");
    assert_eq!(rec.candidates.len(), 2);
}

#[test]
fn better_factors_rank_higher() {
    let near = contractor(9);
    let mut far = contractor(1);
    far.location = north(SITE, 20.0);
    let mut overqualified = contractor(2);
    overqualified.skills[0].level = 5;
    let idx = index(west(), &[far, overqualified, near], &[]);
    let rec = recommend(&idx, &job(), &ScoringConfig::default(), now(), 5).expect("ok");
    let order: Vec<u128> = rec
        .candidates
        .iter()
        .map(|c| c.contractor_id.as_uuid().as_u128())
        .collect();
    assert_eq!(order, vec![9, 2, 1]);
    assert!(rec.candidates.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn request_errors() {
    let idx = index(west(), &[contractor(1)], &[]);
    let config = ScoringConfig::default();
    let mut j = job();
    j.region = "east".into();
    assert!(matches!(
        recommend(&idx, &j, &config, now(), 5),
        Err(RecommendError::RegionMismatch { .. })
    ));
    let mut j = job();
    j.duration_minutes = 0;
    assert!(matches!(
        recommend(&idx, &j, &config, now(), 5),
        Err(RecommendError::InvalidJob(e)) if e.field() == "durationMinutes"
    ));
    assert!(matches!(
        recommend(&idx, &job(), &config, utc("2026-06-02T23:30:00Z"), 5),
        Err(RecommendError::WindowClosed { .. })
    ));
    let mut bad = config;
    bad.limits.average_speed_kmh = 0.0;
    assert!(matches!(
        recommend(&idx, &job(), &bad, now(), 5),
        Err(RecommendError::InvalidConfig(e)) if e.field() == "limits.averageSpeedKmh"
    ));
}

#[test]
fn index_updates_move_the_slot() {
    let mut idx = index(west(), &[contractor(1)], &[]);
    let first = outcome(&idx, &job(), now(), 1).expect("candidate");
    assert_eq!(first.start_utc, utc("2026-06-02T15:05:00Z"));
    let b = booking(1, 7, "2026-06-02T15:00:00Z", "2026-06-02T17:00:00Z", SITE);
    idx.add_booking(&b).expect("known contractor");
    let later = outcome(&idx, &job(), now(), 1).expect("candidate");
    assert_eq!(later.start_utc, utc("2026-06-02T17:00:00Z"));
    assert_eq!(later.travel.from, TravelOrigin::PreviousJob);
    assert!(idx.remove_booking(b.contractor_id, b.job_id));
    assert!(!idx.remove_booking(b.contractor_id, b.job_id));
    assert_eq!(outcome(&idx, &job(), now(), 1).expect("candidate"), first);

    let mut c = contractor(1);
    c.active = false;
    idx.upsert_contractor(&c);
    assert_eq!(
        outcome(&idx, &job(), now(), 1)
            .expect_err("excluded")
            .reason,
        ExclusionReason::Inactive
    );

    // A new contractor joins in id order.
    idx.upsert_contractor(&contractor(0));
    let ids: Vec<ContractorId> = idx.contractor_ids().collect();
    assert_eq!(
        ids,
        vec![ContractorId::from_u128(0), ContractorId::from_u128(1)]
    );
    assert!(outcome(&idx, &job(), now(), 0).is_ok());

    let stranger = booking(99, 8, "2026-06-02T15:00:00Z", "2026-06-02T16:00:00Z", SITE);
    assert!(matches!(
        idx.add_booking(&stranger),
        Err(IndexError::UnknownContractor { .. })
    ));
}

#[test]
fn build_refuses_duplicates() {
    let r = RegionIndex::build(west(), &[contractor(1), contractor(1)], &[] as &[Booking]);
    assert!(matches!(r, Err(IndexError::DuplicateContractor(_))));
}

/// A road-routing stand-in: a fixed 17 minutes for anything under 25 km, labelled `road`.
struct FakeRoads;

impl TravelEstimator for FakeRoads {
    fn estimate(&self, from: GeoPoint, to: GeoPoint) -> TravelEstimate {
        let km = travel::haversine_km(from, to) * 1.5;
        TravelEstimate {
            distance_km: km,
            minutes: if km < 25.0 { 17 } else { 90 },
            source: TravelSource::Road,
        }
    }
}

#[test]
fn travel_source_is_pluggable() {
    let mut far = contractor(2);
    far.location = north(SITE, 30.0); // 45 km by these roads: beyond 40
    let idx = index(west(), &[contractor(1), far], &[]);
    let rec = recommend_with(
        &idx,
        &job(),
        &ScoringConfig::default(),
        now(),
        5,
        &FakeRoads,
    )
    .expect("ok");
    assert_eq!(rec.candidates[0].travel.source, TravelSource::Road);
    assert_eq!(rec.candidates[0].travel.minutes, 17);
    assert_eq!(rec.candidates[0].start_utc, utc("2026-06-02T15:20:00Z"));
    assert_eq!(rec.excluded[0].reason.code(), "tooFar");
}

mod manual {
    use super::*;

    fn check(
        c: Contractor,
        bookings: &[Booking],
        start: &str,
        end: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ExclusionReason> {
        let idx = index(west(), &[c], bookings);
        check_assignment(
            &idx,
            ContractorId::from_u128(1),
            &job(),
            utc(start),
            utc(end),
            &ScoringConfig::default(),
            now,
        )
        .map_err(|e| e.reason)
    }

    macro_rules! manual_cases {
        ($($name:ident: $c:expr, $b:expr, $s:expr, $e:expr, $now:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(check($c, &$b, $s, $e, $now), $want);
            }
        )*};
    }

    fn no_slot(cause: NoSlotCause) -> Result<(), ExclusionReason> {
        Err(ExclusionReason::NoSlot { cause })
    }

    fn split_day() -> Contractor {
        let mut c = contractor(1);
        c.working_hours = weekdays("08:00", "12:00");
        c
    }

    fn inactive() -> Contractor {
        let mut c = contractor(1);
        c.active = false;
        c
    }

    fn capped() -> Vec<Booking> {
        vec![
            booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T15:30:00Z", SITE),
            booking(1, 2, "2026-06-02T16:00:00Z", "2026-06-02T16:30:00Z", SITE),
            booking(1, 3, "2026-06-02T17:00:00Z", "2026-06-02T17:30:00Z", SITE),
            booking(1, 4, "2026-06-02T18:00:00Z", "2026-06-02T18:30:00Z", SITE),
        ]
    }

    manual_cases! {
        proposed_slot: contractor(1), [], "2026-06-02T15:05:00Z", "2026-06-02T16:05:00Z", now() => Ok(());
        off_grid_but_feasible: contractor(1), [], "2026-06-02T15:03:00Z", "2026-06-02T16:03:00Z", now() => Ok(());
        longer_than_job: contractor(1), [], "2026-06-02T15:05:00Z", "2026-06-02T17:05:00Z", now() => Ok(());
        no_time_to_drive: contractor(1), [], "2026-06-02T15:02:00Z", "2026-06-02T16:02:00Z", now() => no_slot(NoSlotCause::Travel);
        before_window: contractor(1), [], "2026-06-02T14:30:00Z", "2026-06-02T15:30:00Z", now() => no_slot(NoSlotCause::OutsideWindow);
        after_window: contractor(1), [], "2026-06-02T23:30:00Z", "2026-06-03T00:30:00Z", now() => no_slot(NoSlotCause::OutsideWindow);
        outside_hours: split_day(), [], "2026-06-02T18:30:00Z", "2026-06-02T19:30:00Z", now() => no_slot(NoSlotCause::OutsideWorkingHours);
        too_short: contractor(1), [], "2026-06-02T15:05:00Z", "2026-06-02T15:35:00Z", now() => no_slot(NoSlotCause::TooShort);
        overlap: contractor(1), [booking(1, 1, "2026-06-02T16:00:00Z", "2026-06-02T17:00:00Z", SITE)],
            "2026-06-02T16:30:00Z", "2026-06-02T17:30:00Z", now() => no_slot(NoSlotCause::Overlap);
        overlap_from_inside: contractor(1), [booking(1, 1, "2026-06-02T16:00:00Z", "2026-06-02T16:20:00Z", SITE)],
            "2026-06-02T15:50:00Z", "2026-06-02T16:50:00Z", now() => no_slot(NoSlotCause::Overlap);
        no_time_to_next_job: contractor(1), [booking(1, 1, "2026-06-02T16:10:00Z", "2026-06-02T17:00:00Z", north(SITE, 30.0))],
            "2026-06-02T15:05:00Z", "2026-06-02T16:05:00Z", now() => no_slot(NoSlotCause::Travel);
        right_after_previous: contractor(1), [booking(1, 1, "2026-06-02T15:00:00Z", "2026-06-02T16:00:00Z", SITE)],
            "2026-06-02T16:00:00Z", "2026-06-02T17:00:00Z", now() => Ok(());
        already_started: contractor(1), [], "2026-06-02T15:05:00Z", "2026-06-02T16:05:00Z",
            utc("2026-06-02T15:30:00Z") => no_slot(NoSlotCause::Travel);
        cap_reached: contractor(1), capped(), "2026-06-02T19:00:00Z", "2026-06-02T20:00:00Z", now()
            => Err(ExclusionReason::MaxJobsPerDay { max_jobs_per_day: 4 });
        inactive_contractor: inactive(), [], "2026-06-02T15:05:00Z", "2026-06-02T16:05:00Z", now()
            => Err(ExclusionReason::Inactive);
    }

    #[test]
    fn unknown_contractor_is_not_in_region() {
        let idx = index(west(), &[contractor(1)], &[]);
        let e = check_assignment(
            &idx,
            ContractorId::from_u128(42),
            &job(),
            utc("2026-06-02T15:05:00Z"),
            utc("2026-06-02T16:05:00Z"),
            &ScoringConfig::default(),
            now(),
        )
        .expect_err("refused");
        assert_eq!(e.reason, ExclusionReason::WrongRegion { region: None });
        assert_eq!(e.contractor_id, ContractorId::from_u128(42));
    }
}

/// The travel a calendar draws before each booking is the travel the engine assumed when it
/// proposed the slot: from the previous job in the same stretch, from home after time off.
#[test]
fn calendars_draw_the_engines_travel() {
    let estimator = StraightLine::from_limits(&ScoringConfig::default().limits);
    let before = booking(
        1,
        0x10,
        "2026-06-02T15:00:00Z",
        "2026-06-02T19:00:00Z",
        north(SITE, 20.0),
    );
    let mut c = contractor(1);
    let idx = index(
        west(),
        std::slice::from_ref(&c),
        std::slice::from_ref(&before),
    );
    let proposed = outcome(&idx, &job(), now(), 1).expect("candidate after the booking");
    assert_eq!(proposed.travel.from, TravelOrigin::PreviousJob);
    let booked = Booking {
        start_utc: proposed.start_utc,
        end_utc: proposed.end_utc,
        location: SITE,
        ..booking(
            1,
            0xAB,
            "2026-06-02T00:00:00Z",
            "2026-06-02T00:00:00Z",
            SITE,
        )
    };
    let zone = west().time_zone;
    // Given in any order, answered in that order.
    let trips = trips_into_bookings(&c, zone, &[booked, before], &estimator);
    assert_eq!(trips[0], proposed.travel);
    assert_eq!(
        trips[1].from,
        TravelOrigin::Home,
        "the first job of the day starts at home"
    );

    // Time off between the two jobs: the contractor comes from home.
    c.time_off.push(TimeOff {
        start_utc: utc("2026-06-02T19:00:00Z"),
        end_utc: utc("2026-06-02T19:30:00Z"),
        reason: "lunch at home".into(),
    });
    let trips = trips_into_bookings(&c, zone, &[before, booked], &estimator);
    assert_eq!(trips[1].from, TravelOrigin::Home);
    assert_eq!(trips[1].minutes, 3);
}
