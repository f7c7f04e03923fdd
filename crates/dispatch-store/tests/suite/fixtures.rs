//! Builders for the suite: small, valid domain values with predictable ids.

use chrono::{DateTime, TimeZone, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AssignmentSource, AuditId, Contractor, ContractorId, GeoPoint, Job,
    JobId, JobStatus, Priority, Region, RegionId, RequiredSkill, Skill, SkillName, Weekday,
    WorkingHours,
};
use dispatch_store::{AuditRecord, Decision, NewOutboxEvent, Store};

/// 2026-12-01 at `h:m` UTC.
pub fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0)
        .single()
        .expect("valid time")
}

/// A region `id` in Los Angeles time.
pub fn region(id: &str) -> Region {
    Region {
        id: RegionId::new(id),
        name: format!("Region {id}"),
        time_zone: "America/Los_Angeles".parse().expect("known zone"),
    }
}

/// Contractor number `n` of `region`.
pub fn contractor(n: u128, region: &str) -> Contractor {
    Contractor {
        id: ContractorId::from_u128(0xC000_0000 + n),
        name: format!("Contractor {n:04}"),
        region: RegionId::new(region),
        skills: vec![Skill {
            name: SkillName::new("plumbing"),
            level: 4,
        }],
        location: GeoPoint::new(37.77, -122.42),
        working_hours: vec![
            WorkingHours::parse(Weekday::Mon, "08:00", "17:00").expect("valid hours"),
            WorkingHours::parse(Weekday::Tue, "22:00", "06:00").expect("valid hours"),
        ],
        time_off: vec![],
        rating: 4.6,
        max_jobs_per_day: 6,
        active: true,
    }
}

/// Job number `n` of `region`, its window starting at `start` for six hours.
pub fn job(n: u128, region: &str, start: DateTime<Utc>) -> Job {
    Job {
        id: JobId::from_u128(0x1000_0000 + n),
        region: RegionId::new(region),
        title: format!("Job {n}"),
        location: GeoPoint::new(37.76 + n as f64 * 1e-4, -122.41),
        required_skills: vec![RequiredSkill {
            name: SkillName::new("plumbing"),
            min_level: 2,
        }],
        priority: Priority::High,
        window_start_utc: start,
        window_end_utc: start + chrono::Duration::hours(6),
        duration_minutes: 90,
        status: JobStatus::Open,
    }
}

/// An audit record of a manual decision on `job`, without candidates.
pub fn audit(n: u128, job: &Job) -> AuditRecord {
    AuditRecord {
        audit_id: AuditId::from_u128(0xA000_0000 + n),
        request_id: None,
        plan_id: None,
        region: job.region.clone(),
        job: job.clone(),
        config_version: 1,
        requested_by: "dispatcher-1".into(),
        created_at: at(7, 0),
        candidates: vec![],
        excluded: vec![],
        evaluated: 0,
        decision: None,
    }
}

/// Assignment number `n` of `job` to `contractor` for `[start, end)`, under `audit`.
pub fn assignment(
    n: u128,
    job: &Job,
    contractor: &Contractor,
    audit: AuditId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Assignment {
    Assignment {
        id: AssignmentId::from_u128(0xB000_0000 + n),
        job_id: job.id,
        contractor_id: contractor.id,
        start_utc: start,
        end_utc: end,
        source: AssignmentSource::Manual,
        audit_id: audit,
    }
}

/// The manual decision recording `a`.
pub fn decision(a: &Assignment) -> Decision {
    Decision {
        contractor_id: a.contractor_id,
        assignment_id: a.id,
        decided_by: "dispatcher-1".into(),
        source: a.source,
        rank: None,
        decided_at: at(7, 30),
    }
}

/// `value` encoded once, as producers hand payloads to the outbox.
pub fn payload(value: serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(&value).expect("encodes")
}

/// A stored payload decoded, to compare values rather than spellings (PostgreSQL's `jsonb`
/// keeps the value, not the text).
pub fn parsed(payload: &serde_json::value::RawValue) -> serde_json::Value {
    serde_json::from_str(payload.get()).expect("stored payload is JSON")
}

/// The `JobAssigned` event of `a` in `region`.
pub fn job_assigned(a: &Assignment, region: &str) -> NewOutboxEvent {
    NewOutboxEvent::new(
        region,
        [
            format!("/dispatch/{region}"),
            format!("/contractor/{}", a.contractor_id),
        ],
        "JobAssigned",
        payload(serde_json::json!({
            "type": "JobAssigned",
            "jobId": a.job_id,
            "contractorId": a.contractor_id,
            "assignmentId": a.id,
            "startUtc": a.start_utc,
            "endUtc": a.end_utc,
            "region": region,
            "source": "manual",
            "auditId": a.audit_id,
        })),
    )
}

/// A region `west` with `contractors` contractors and `jobs` jobs (all windows at 16:00), plus
/// one audit record per job (audit `i` for job `i`).
pub struct World {
    /// The contractors, numbered from 0.
    pub contractors: Vec<Contractor>,
    /// The jobs, numbered from 0.
    pub jobs: Vec<Job>,
    /// `audits[i]` is the audit record of `jobs[i]`.
    pub audits: Vec<AuditRecord>,
}

/// Seeds a [`World`].
pub async fn world(store: &Store, contractors: u128, jobs: u128) -> World {
    store
        .create_region(&region("west"))
        .await
        .expect("create region");
    let mut w = World {
        contractors: vec![],
        jobs: vec![],
        audits: vec![],
    };
    for n in 0..contractors {
        let c = contractor(n, "west");
        store
            .create_contractor(&c)
            .await
            .expect("create contractor");
        w.contractors.push(c);
    }
    for n in 0..jobs {
        let j = job(n, "west", at(16, 0));
        store.create_job(&j).await.expect("create job");
        let a = audit(n, &j);
        store.create_audit(&a).await.expect("create audit");
        w.jobs.push(j);
        w.audits.push(a);
    }
    w
}
