//! Bad input over real HTTP (SPEC §6): malformed JSON is 400; unknown fields and invalid values
//! are 422 naming the field by its JSON path; a body that is not JSON is 415; a body over 64 KiB
//! is 413; impossible windows are 422; unknown ids, well-formed or not, are 404; bad query
//! parameters are 422. Every refusal is an `application/problem+json` document with `type`,
//! `title`, `status` and `detail`, and after every one the data reads exactly as before.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Duration as Span, DurationRound as _, SecondsFormat, Utc};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use uuid::Uuid;

const JSON: (&str, &str) = ("content-type", "application/json");
const LIMIT: usize = 64 * 1024;

fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `value` with the member at `pointer` (a JSON pointer) set, the parent existing.
fn set(value: &Value, pointer: &str, member: Value) -> Value {
    let mut value = value.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    match value.pointer_mut(parent).expect("the parent exists") {
        Value::Object(object) => {
            object.insert(key.to_owned(), member);
        }
        Value::Array(array) => array[key.parse::<usize>().expect("an index")] = member,
        other => panic!("cannot set {pointer} in {other}"),
    }
    value
}

/// `value` without the member at `pointer`.
fn unset(value: &Value, pointer: &str) -> Value {
    let mut value = value.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("an object")
        .remove(key)
        .expect("the member exists");
    value
}

fn contractor_body() -> Value {
    let hours: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .flat_map(|day| {
            [
                json!({"day": day, "start": "00:00", "end": "12:00"}),
                json!({"day": day, "start": "12:00", "end": "00:00"}),
            ]
        })
        .collect();
    json!({
        "name": "Ana Ruiz", "region": "west",
        "skills": [{"name": "plumbing", "level": 4}],
        "location": {"lat": 37.77, "lon": -122.42},
        "workingHours": hours,
        "timeOff": [],
        "rating": 4.5, "maxJobsPerDay": 6, "active": true
    })
}

/// A service with a little of everything, and what it reads like.
struct World {
    server: TestServer,
    admin: String,
    contractor: String,
    /// An open job and a slot the contractor could take it in.
    job: String,
    slot: (DateTime<Utc>, DateTime<Utc>),
    assignment: String,
    audit: String,
    request: String,
    base: DateTime<Utc>,
    /// What the data read like before the bad requests.
    before: Mutex<Vec<(String, u16, Value)>>,
}

impl World {
    async fn new() -> World {
        let server = start().await;
        server.region("west", "America/Los_Angeles").await;
        let admin = server.admin();
        let created = server
            .call(
                "POST",
                "/api/v1/contractors",
                Some(&admin),
                Some(&contractor_body()),
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        let contractor = created.body["id"].as_str().expect("id").to_owned();
        let base = (Utc::now() + Span::days(1))
            .duration_trunc(Span::hours(1))
            .expect("whole hour");
        let mut jobs = Vec::new();
        for hours in [0, 4] {
            let start = base + Span::hours(hours);
            let body = job_body("west", 37.77, -122.42, start, start + Span::hours(2));
            let job = server
                .call("POST", "/api/v1/jobs", Some(&admin), Some(&body))
                .await;
            assert_eq!(job.status, 201, "{job:?}");
            jobs.push(job.body["id"].as_str().expect("id").to_owned());
        }
        let assigned = server
            .call(
                "POST",
                "/api/v1/assignments",
                Some(&admin),
                Some(&json!({
                    "jobId": jobs[1], "contractorId": contractor,
                    "startUtc": iso(base + Span::hours(4)), "endUtc": iso(base + Span::hours(5))
                })),
            )
            .await;
        assert_eq!(assigned.status, 201, "{assigned:?}");
        let asked = server
            .call(
                "POST",
                "/api/v1/recommendations",
                Some(&admin),
                Some(&json!({"jobId": jobs[0]})),
            )
            .await;
        assert_eq!(asked.status, 202, "{asked:?}");
        let request = asked.body["requestId"].as_str().expect("id").to_owned();
        // Let the recommendation finish, so the snapshot does not change under us.
        let mut ready = false;
        for _ in 0..100 {
            let read = server
                .call(
                    "GET",
                    &format!("/api/v1/recommendations/{request}"),
                    Some(&admin),
                    None,
                )
                .await;
            if read.body["status"] == "ready" {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "the recommendation completes");
        let world = World {
            server,
            admin,
            contractor,
            job: jobs[0].clone(),
            slot: (base, base + Span::hours(1)),
            assignment: assigned.body["id"].as_str().expect("id").to_owned(),
            audit: assigned.body["auditId"].as_str().expect("id").to_owned(),
            request,
            base,
            before: Mutex::new(Vec::new()),
        };
        *world.before.lock().expect("lock") = world.snapshot().await;
        world
    }

    /// Everything the API says about the data, read as the admin.
    async fn snapshot(&self) -> Vec<(String, u16, Value)> {
        let (from, to) = (
            iso(self.base - Span::days(2)),
            iso(self.base + Span::days(60)),
        );
        let paths = [
            "/api/v1/regions".to_owned(),
            "/api/v1/regions/west".to_owned(),
            "/api/v1/contractors?limit=200".to_owned(),
            format!("/api/v1/contractors/{}", self.contractor),
            format!(
                "/api/v1/contractors/{}/assignments?from={from}&to={to}",
                self.contractor
            ),
            "/api/v1/jobs?region=west&limit=200".to_owned(),
            format!("/api/v1/jobs/{}", self.job),
            format!("/api/v1/assignments/{}", self.assignment),
            format!("/api/v1/audit/{}", self.audit),
            format!("/api/v1/recommendations/{}", self.request),
            "/api/v1/config".to_owned(),
            "/api/v1/config/2".to_owned(),
        ];
        let mut snapshot = Vec::new();
        for path in paths {
            let answer = self
                .server
                .call("GET", &path, Some(&self.admin), None)
                .await;
            snapshot.push((path, answer.status, answer.body));
        }
        snapshot
    }

    /// Sends a bad request as the admin and checks the problem document and that nothing
    /// changed; returns the problem.
    async fn refuse(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        status: u16,
        field: Option<&str>,
    ) -> Value {
        let answer = self
            .server
            .raw(method, path, Some(&self.admin), headers, body.into())
            .await;
        let what = format!("{method} {path}");
        assert_problem(&answer, status, &what);
        if let Some(field) = field {
            assert_eq!(
                answer.body["field"], field,
                "{what}: the problem names the field: {}",
                answer.body
            );
        }
        self.assert_unchanged(&what).await;
        answer.body
    }

    /// A JSON body that must be refused.
    async fn refuse_json(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        status: u16,
        field: Option<&str>,
    ) -> Value {
        let headers = [JSON, ("if-match", "\"1\"")];
        let headers = if path == "/api/v1/config" {
            &headers[..]
        } else {
            &headers[..1]
        };
        self.refuse(method, path, headers, body.to_string(), status, field)
            .await
    }

    async fn assert_unchanged(&self, what: &str) {
        if let Some(change) = self.changed().await {
            panic!("after {what}, the data changed: {change}");
        }
    }

    /// What changed since the last look, if anything; the change is then taken as the new
    /// state, so a later case is judged on its own.
    async fn changed(&self) -> Option<String> {
        let after = self.snapshot().await;
        let mut before = self.before.lock().expect("lock");
        let change = before
            .iter()
            .zip(&after)
            .find(|(before, after)| before != after)
            .map(|(before, after)| format!("{before:?} became {after:?}"));
        *before = after;
        change
    }

    /// Every route that takes a body, with a valid body for it.
    async fn bodies(&self) -> Vec<(&'static str, String, Value)> {
        let (start, end) = self.slot;
        let config = self
            .server
            .call("GET", "/api/v1/config", Some(&self.admin), None)
            .await
            .body;
        vec![
            (
                "POST",
                "/api/v1/regions".to_owned(),
                json!({"id": "north", "name": "North", "timeZone": "Europe/Oslo"}),
            ),
            ("POST", "/api/v1/contractors".to_owned(), contractor_body()),
            (
                "PUT",
                format!("/api/v1/contractors/{}", self.contractor),
                set(&contractor_body(), "/rating", json!(3.0)),
            ),
            (
                "POST",
                format!("/api/v1/contractors/{}/time-off", self.contractor),
                json!({"startUtc": iso(self.base + Span::days(9)), "endUtc": iso(self.base + Span::days(10)), "reason": "vacation"}),
            ),
            ("POST", "/api/v1/jobs".to_owned(), self.job_body()),
            (
                "POST",
                "/api/v1/recommendations".to_owned(),
                json!({"jobId": self.job, "limit": 3, "autoAssign": false}),
            ),
            (
                "POST",
                "/api/v1/assignments".to_owned(),
                json!({"jobId": self.job, "contractorId": self.contractor, "startUtc": iso(start), "endUtc": iso(end)}),
            ),
            (
                "PUT",
                "/api/v1/config".to_owned(),
                unset(&set(&config, "/weights/rating", json!(0.2)), "/version"),
            ),
        ]
    }

    fn job_body(&self) -> Value {
        let start = self.base + Span::days(2);
        job_body("west", 37.7, -122.4, start, start + Span::hours(6))
    }
}

fn assert_problem(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{what}: {answer:?}"
    );
    let problem = &answer.body;
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|kind| kind.starts_with("urn:dispatch:problem:")),
        "{what}: {problem}"
    );
    assert!(
        problem["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}: {problem}"
    );
    assert!(
        problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {problem}"
    );
    assert_eq!(problem["status"], status, "{what}: {problem}");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let world = World::new().await;
    let malformed: [&[u8]; 9] = [
        b"",
        b"{",
        b"{\"name\":",
        b"not json",
        b"{'id':'north'}",
        b"{\"id\":\"north\"}}",
        b"{\"id\":\"north\",}",
        b"[1,2,",
        b"{\"name\":\"\xff\xfe\"}",
    ];
    for (method, path, _) in world.bodies().await {
        for body in malformed {
            let problem = world
                .refuse(
                    method,
                    &path,
                    &[JSON, ("if-match", "\"1\"")],
                    Bytes::from_static(body),
                    400,
                    None,
                )
                .await;
            assert_eq!(problem["type"], "urn:dispatch:problem:malformed-json");
        }
    }
    // Absurd nesting is refused (400 or 422, whichever parser gives up first), not a crash.
    for deep in [
        format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)),
        format!("{}1{}", "{\"a\":".repeat(8_000), "}".repeat(8_000)),
    ] {
        let answer = world
            .server
            .raw(
                "POST",
                "/api/v1/jobs",
                Some(&world.admin),
                &[JSON],
                deep.into(),
            )
            .await;
        assert!(matches!(answer.status, 400 | 422), "{answer:?}");
        assert_problem(&answer, answer.status, "deeply nested JSON");
        world.assert_unchanged("deeply nested JSON").await;
    }
}

#[tokio::test]
async fn unknown_fields_and_invalid_values_are_422_naming_the_field() {
    let world = World::new().await;
    let region = json!({"id": "north", "name": "North", "timeZone": "Europe/Oslo"});
    let contractor = contractor_body();
    let job = world.job_body();
    let (start, end) = world.slot;
    let assignment = json!({"jobId": world.job, "contractorId": world.contractor, "startUtc": iso(start), "endUtc": iso(end)});
    let config = world
        .server
        .call("GET", "/api/v1/config", Some(&world.admin), None)
        .await
        .body;
    let config = unset(&config, "/version");
    let time_off = json!({"startUtc": iso(world.base + Span::days(9)), "endUtc": iso(world.base + Span::days(10))});
    let contractor_path = format!("/api/v1/contractors/{}", world.contractor);
    let time_off_path = format!("{contractor_path}/time-off");
    let missing = Uuid::new_v4().to_string();

    #[rustfmt::skip]
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        // Regions.
        ("POST", "/api/v1/regions", set(&region, "/extra", json!(1)), "extra"),
        ("POST", "/api/v1/regions", set(&region, "/timeZone", json!("Mars/Olympus_Mons")), "timeZone"),
        ("POST", "/api/v1/regions", set(&region, "/timeZone", json!(5)), "timeZone"),
        ("POST", "/api/v1/regions", set(&region, "/id", json!("Not A Slug")), "id"),
        ("POST", "/api/v1/regions", set(&region, "/name", json!("")), "name"),
        ("POST", "/api/v1/regions", unset(&region, "/name"), "name"),
        // Contractors.
        ("POST", "/api/v1/contractors", set(&contractor, "/extra", json!(true)), "extra"),
        ("POST", "/api/v1/contractors", set(&contractor, "/id", json!(missing)), "id"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills/0/level", json!(9)), "skills[0].level"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills/0/level", json!(0)), "skills[0].level"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills/0/level", json!(300)), "skills[0].level"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills/0/level", json!("expert")), "skills[0].level"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills/0/years", json!(3)), "skills[0].years"),
        ("POST", "/api/v1/contractors", unset(&contractor, "/skills/0/level"), "skills[0].level"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills/0/name", json!("Plumbing!")), "skills[0].name"),
        ("POST", "/api/v1/contractors", set(&contractor, "/skills", json!([{"name": "hvac", "level": 2}, {"name": "hvac", "level": 3}])), "skills[1].name"),
        ("POST", "/api/v1/contractors", set(&contractor, "/location/lat", json!(123.0)), "location.lat"),
        ("POST", "/api/v1/contractors", set(&contractor, "/location/alt", json!(10)), "location.alt"),
        ("POST", "/api/v1/contractors", set(&contractor, "/workingHours/3/day", json!("funday")), "workingHours[3].day"),
        ("POST", "/api/v1/contractors", set(&contractor, "/workingHours/0/start", json!("25:00")), "workingHours[0].start"),
        ("POST", "/api/v1/contractors", set(&contractor, "/workingHours/0/end", json!("00:00")), "workingHours[0].end"),
        ("POST", "/api/v1/contractors", set(&contractor, "/workingHours/0/lunch", json!("12:00")), "workingHours[0].lunch"),
        ("POST", "/api/v1/contractors", set(&contractor, "/timeOff", json!([{"startUtc": iso(world.base), "endUtc": iso(world.base - Span::hours(1))}])), "timeOff[0].endUtc"),
        ("POST", "/api/v1/contractors", set(&contractor, "/timeOff", json!([{"startUtc": iso(world.base), "endUtc": iso(world.base + Span::hours(1)), "paid": true}])), "timeOff[0].paid"),
        ("POST", "/api/v1/contractors", set(&contractor, "/rating", json!(7.5)), "rating"),
        ("POST", "/api/v1/contractors", set(&contractor, "/maxJobsPerDay", json!(0)), "maxJobsPerDay"),
        ("POST", "/api/v1/contractors", set(&contractor, "/maxJobsPerDay", json!(-1)), "maxJobsPerDay"),
        ("POST", "/api/v1/contractors", set(&contractor, "/active", json!("yes")), "active"),
        ("POST", "/api/v1/contractors", set(&contractor, "/region", json!("nowhere")), "region"),
        ("POST", "/api/v1/contractors", unset(&contractor, "/skills"), "skills"),
        ("PUT", &contractor_path, set(&contractor, "/extra", json!(1)), "extra"),
        ("PUT", &contractor_path, set(&contractor, "/rating", json!(-1)), "rating"),
        ("PUT", &contractor_path, set(&contractor, "/skills/0/level", json!(6)), "skills[0].level"),
        // Time off.
        ("POST", &time_off_path, set(&time_off, "/extra", json!(1)), "extra"),
        ("POST", &time_off_path, set(&time_off, "/startUtc", json!("yesterday")), "startUtc"),
        ("POST", &time_off_path, unset(&time_off, "/endUtc"), "endUtc"),
        // Jobs.
        ("POST", "/api/v1/jobs", set(&job, "/extra", json!(1)), "extra"),
        ("POST", "/api/v1/jobs", set(&job, "/status", json!("assigned")), "status"),
        ("POST", "/api/v1/jobs", set(&job, "/id", json!(missing)), "id"),
        ("POST", "/api/v1/jobs", set(&job, "/windowEndUtc", json!("not a time")), "windowEndUtc"),
        ("POST", "/api/v1/jobs", set(&job, "/windowStartUtc", json!(1_700_000_000)), "windowStartUtc"),
        ("POST", "/api/v1/jobs", set(&job, "/priority", json!("urgent")), "priority"),
        ("POST", "/api/v1/jobs", set(&job, "/requiredSkills/0/minLevel", json!(0)), "requiredSkills[0].minLevel"),
        ("POST", "/api/v1/jobs", set(&job, "/requiredSkills/0/minLevel", json!(6)), "requiredSkills[0].minLevel"),
        ("POST", "/api/v1/jobs", set(&job, "/requiredSkills/0/level", json!(2)), "requiredSkills[0].level"),
        ("POST", "/api/v1/jobs", set(&job, "/location/lon", json!(200.0)), "location.lon"),
        ("POST", "/api/v1/jobs", set(&job, "/location/x", json!(1)), "location.x"),
        ("POST", "/api/v1/jobs", set(&job, "/durationMinutes", json!(0)), "durationMinutes"),
        ("POST", "/api/v1/jobs", set(&job, "/durationMinutes", json!(-30)), "durationMinutes"),
        ("POST", "/api/v1/jobs", set(&job, "/durationMinutes", json!(1.5)), "durationMinutes"),
        ("POST", "/api/v1/jobs", set(&job, "/title", json!("")), "title"),
        ("POST", "/api/v1/jobs", set(&job, "/title", json!("x".repeat(10_000))), "title"),
        ("POST", "/api/v1/jobs", set(&job, "/region", json!("nowhere")), "region"),
        ("POST", "/api/v1/jobs", unset(&job, "/windowEndUtc"), "windowEndUtc"),
        // Recommendations.
        ("POST", "/api/v1/recommendations", json!({"jobId": world.job, "extra": 1}), "extra"),
        ("POST", "/api/v1/recommendations", json!({"jobId": "job-1"}), "jobId"),
        ("POST", "/api/v1/recommendations", json!({"jobId": world.job, "limit": 0}), "limit"),
        ("POST", "/api/v1/recommendations", json!({"jobId": world.job, "limit": 1000}), "limit"),
        ("POST", "/api/v1/recommendations", json!({"jobId": world.job, "autoAssign": "yes"}), "autoAssign"),
        ("POST", "/api/v1/recommendations", json!({}), "jobId"),
        // Assignments.
        ("POST", "/api/v1/assignments", set(&assignment, "/extra", json!(1)), "extra"),
        ("POST", "/api/v1/assignments", set(&assignment, "/source", json!("auto")), "source"),
        ("POST", "/api/v1/assignments", set(&assignment, "/contractorId", json!("ana")), "contractorId"),
        ("POST", "/api/v1/assignments", set(&assignment, "/startUtc", json!("soon")), "startUtc"),
        ("POST", "/api/v1/assignments", set(&assignment, "/requestId", json!("r-1")), "requestId"),
        ("POST", "/api/v1/assignments", set(&assignment, "/requestId", json!(missing)), "requestId"),
        ("POST", "/api/v1/assignments", unset(&assignment, "/endUtc"), "endUtc"),
        // Scoring configuration.
        ("PUT", "/api/v1/config", set(&config, "/version", json!(1)), "version"),
        ("PUT", "/api/v1/config", set(&config, "/extra", json!(1)), "extra"),
        ("PUT", "/api/v1/config", set(&config, "/weights/travelTime", json!("high")), "weights.travelTime"),
        ("PUT", "/api/v1/config", set(&config, "/weights/travelTime", json!(-1)), "weights.travelTime"),
        ("PUT", "/api/v1/config", set(&config, "/weights/luck", json!(0.5)), "weights.luck"),
        ("PUT", "/api/v1/config", unset(&config, "/weights/rating"), "weights.rating"),
        ("PUT", "/api/v1/config", set(&config, "/limits/maxTravelKm", json!(0)), "limits.maxTravelKm"),
        ("PUT", "/api/v1/config", set(&config, "/limits/maxTravelMiles", json!(10)), "limits.maxTravelMiles"),
    ];
    let mut failures = Vec::new();
    for (method, path, body, field) in &cases {
        let answer = world
            .server
            .raw(
                method,
                path,
                Some(&world.admin),
                &[JSON, ("if-match", "\"1\"")],
                body.to_string().into(),
            )
            .await;
        if answer.status != 422
            || answer.body["field"] != *field
            || answer.body["type"] != "urn:dispatch:problem:validation"
        {
            failures.push(format!(
                "{method} {path} expecting 422 on {field}: {} {}",
                answer.status, answer.body
            ));
        } else {
            assert_problem(&answer, 422, &format!("{method} {path} ({field})"));
        }
        if let Some(change) = world.changed().await {
            failures.push(format!(
                "{method} {path} ({field}) changed the data: {change}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases are wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn bodies_that_are_not_json_are_415() {
    let world = World::new().await;
    let kinds = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/jsonp"),
        Some("json"),
    ];
    for (method, path, body) in world.bodies().await {
        for kind in kinds {
            let mut headers = vec![("if-match", "\"1\"")];
            if let Some(kind) = kind {
                headers.push(("content-type", kind));
            }
            let problem = world
                .refuse(method, &path, &headers, body.to_string(), 415, None)
                .await;
            assert_eq!(
                problem["type"],
                "urn:dispatch:problem:unsupported-media-type"
            );
        }
    }
}

/// A valid-looking JSON body of exactly `size` bytes: `{"title":"xxx…"}`.
fn padded(size: usize) -> String {
    let frame = "{\"title\":\"\"}".len();
    format!("{{\"title\":\"{}\"}}", "x".repeat(size - frame))
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let world = World::new().await;
    for (method, path, body) in world.bodies().await {
        // The valid body, padded with a long string past the limit.
        let big = set(&body, "/padding", json!("x".repeat(LIMIT)));
        for headers in [
            &[JSON, ("if-match", "\"1\"")][..],
            &[JSON, ("if-match", "\"1\""), ("idempotency-key", "big-1")][..],
        ] {
            let problem = world
                .refuse(method, &path, headers, big.to_string(), 413, None)
                .await;
            assert_eq!(problem["type"], "urn:dispatch:problem:payload-too-large");
        }
        world
            .refuse(method, &path, &[JSON], padded(LIMIT + 1), 413, None)
            .await;
    }
    // At the limit the size is fine, and the content is judged instead.
    world
        .refuse("POST", "/api/v1/jobs", &[JSON], padded(LIMIT), 422, None)
        .await;

    // A chunked body without Content-Length is cut off the same way.
    let answer = chunked(
        &world,
        "/api/v1/jobs",
        &world.job_body().to_string(),
        LIMIT + 4096,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    world.assert_unchanged("a chunked oversized body").await;
}

/// Sends `body` padded to `size` bytes with whitespace, chunked, over a raw socket; returns the
/// response head and as much body as came.
async fn chunked(world: &World, path: &str, body: &str, size: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(world.server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        world.server.addr, world.admin
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut payload = body.as_bytes().to_vec();
    payload.resize(size, b' ');
    for chunk in payload.chunks(8192) {
        let frame = format!("{:x}\r\n", chunk.len());
        // The server may answer and close before everything is sent.
        if stream.write_all(frame.as_bytes()).await.is_err()
            || stream.write_all(chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn impossible_windows_are_422() {
    let world = World::new().await;
    let job = world.job_body();
    let start = world.base + Span::days(2);
    let now = Utc::now();
    let windows = [
        // Ends before it starts.
        (start, start - Span::hours(1), 60),
        // Ends as it starts.
        (start, start, 60),
        // Shorter than the work.
        (start, start + Span::minutes(59), 60),
        // Already over.
        (now - Span::hours(5), now - Span::hours(1), 60),
        // Too far ahead to plan.
        (now + Span::days(400), now + Span::days(401), 60),
    ];
    for (window_start, window_end, minutes) in windows {
        let body = set(
            &set(
                &set(&job, "/windowStartUtc", json!(iso(window_start))),
                "/windowEndUtc",
                json!(iso(window_end)),
            ),
            "/durationMinutes",
            json!(minutes),
        );
        world
            .refuse_json("POST", "/api/v1/jobs", &body, 422, Some("windowEndUtc"))
            .await;
    }

    let (slot_start, _) = world.slot;
    for end in [slot_start, slot_start - Span::minutes(30)] {
        let body = json!({"jobId": world.job, "contractorId": world.contractor, "startUtc": iso(slot_start), "endUtc": iso(end)});
        world
            .refuse_json("POST", "/api/v1/assignments", &body, 422, Some("endUtc"))
            .await;
    }
    let time_off = format!("/api/v1/contractors/{}/time-off", world.contractor);
    for end in [world.base, world.base - Span::days(1)] {
        let body = json!({"startUtc": iso(world.base), "endUtc": iso(end)});
        world
            .refuse_json("POST", &time_off, &body, 422, Some("endUtc"))
            .await;
    }
    let contractor = set(
        &contractor_body(),
        "/timeOff",
        json!([{"startUtc": iso(world.base), "endUtc": iso(world.base)}]),
    );
    world
        .refuse_json(
            "POST",
            "/api/v1/contractors",
            &contractor,
            422,
            Some("timeOff[0].endUtc"),
        )
        .await;
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let world = World::new().await;
    let well_formed = Uuid::new_v4().to_string();
    let ids = [
        well_formed.as_str(),
        "nope",
        "123",
        "00000000-0000-0000-0000-00000000000g",
        "%20",
        "..%2F..%2Fetc",
    ];
    let (from, to) = (iso(world.base), iso(world.base + Span::days(1)));
    let contractor = contractor_body();
    let time_off = json!({"startUtc": iso(world.base + Span::days(9)), "endUtc": iso(world.base + Span::days(10))});
    for id in ids {
        let routes: Vec<(&str, String, Option<&Value>)> = vec![
            ("GET", format!("/api/v1/contractors/{id}"), None),
            (
                "PUT",
                format!("/api/v1/contractors/{id}"),
                Some(&contractor),
            ),
            (
                "POST",
                format!("/api/v1/contractors/{id}/time-off"),
                Some(&time_off),
            ),
            (
                "GET",
                format!("/api/v1/contractors/{id}/assignments?from={from}&to={to}"),
                None,
            ),
            ("GET", format!("/api/v1/jobs/{id}"), None),
            ("POST", format!("/api/v1/jobs/{id}/cancel"), None),
            ("GET", format!("/api/v1/recommendations/{id}"), None),
            ("GET", format!("/api/v1/assignments/{id}"), None),
            ("DELETE", format!("/api/v1/assignments/{id}"), None),
            ("GET", format!("/api/v1/audit/{id}"), None),
            ("GET", format!("/api/v1/regions/{id}"), None),
        ];
        for (method, path, body) in routes {
            let body = body.map(Value::to_string).unwrap_or_default();
            let problem = world.refuse(method, &path, &[JSON], body, 404, None).await;
            assert_eq!(problem["type"], "urn:dispatch:problem:not-found", "{path}");
        }
    }
    for version in ["0", "3", "999999", "-1", "one", "99999999999999999999"] {
        world
            .refuse(
                "GET",
                &format!("/api/v1/config/{version}"),
                &[],
                "",
                404,
                None,
            )
            .await;
    }
    // Ids in bodies: well-formed but unknown is 404 as well.
    let (start, end) = world.slot;
    world
        .refuse_json(
            "POST",
            "/api/v1/recommendations",
            &json!({"jobId": well_formed}),
            404,
            None,
        )
        .await;
    for body in [
        json!({"jobId": well_formed, "contractorId": world.contractor, "startUtc": iso(start), "endUtc": iso(end)}),
        json!({"jobId": world.job, "contractorId": well_formed, "startUtc": iso(start), "endUtc": iso(end)}),
    ] {
        world
            .refuse_json("POST", "/api/v1/assignments", &body, 404, None)
            .await;
    }
    // Routes that do not exist, and methods a route does not have.
    world
        .refuse("GET", "/api/v1/nothing-here", &[], "", 404, None)
        .await;
    world
        .refuse("GET", "/api/v2/jobs", &[], "", 404, None)
        .await;
    for (method, path, allow) in [
        ("PATCH", "/api/v1/jobs".to_owned(), "GET,HEAD,POST"),
        ("DELETE", format!("/api/v1/jobs/{}", world.job), "GET,HEAD"),
        ("PUT", "/api/v1/assignments".to_owned(), "POST"),
    ] {
        world.refuse(method, &path, &[JSON], "{}", 405, None).await;
        let answer = world
            .server
            .call(method, &path, Some(&world.admin), Some(&json!({})))
            .await;
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn bad_query_parameters_are_422() {
    let world = World::new().await;
    let c = &world.contractor;
    let (from, to) = (iso(world.base), iso(world.base + Span::days(1)));
    let cases: Vec<(String, &str)> = vec![
        ("/api/v1/jobs".to_owned(), "region"),
        ("/api/v1/jobs?region=west&status=bogus".to_owned(), "status"),
        ("/api/v1/jobs?region=west&limit=0".to_owned(), "limit"),
        ("/api/v1/jobs?region=west&limit=201".to_owned(), "limit"),
        ("/api/v1/jobs?region=west&limit=abc".to_owned(), "limit"),
        ("/api/v1/jobs?region=west&limit=-1".to_owned(), "limit"),
        (
            "/api/v1/jobs?region=west&cursor=garbage".to_owned(),
            "cursor",
        ),
        ("/api/v1/jobs?region=west&sort=title".to_owned(), "sort"),
        ("/api/v1/contractors?limit=0".to_owned(), "limit"),
        ("/api/v1/contractors?limit=ten".to_owned(), "limit"),
        ("/api/v1/contractors?cursor=%00%01".to_owned(), "cursor"),
        ("/api/v1/contractors?active=true".to_owned(), "active"),
        (
            format!("/api/v1/contractors/{c}/assignments?to={to}"),
            "from",
        ),
        (
            format!("/api/v1/contractors/{c}/assignments?from={from}"),
            "to",
        ),
        (
            format!("/api/v1/contractors/{c}/assignments?from=yesterday&to={to}"),
            "from",
        ),
        (
            format!("/api/v1/contractors/{c}/assignments?from={from}&to=2026-13-01T00:00:00Z"),
            "to",
        ),
        (
            format!("/api/v1/contractors/{c}/assignments?from={to}&to={from}"),
            "to",
        ),
        (
            format!(
                "/api/v1/contractors/{c}/assignments?from={from}&to={}",
                iso(world.base + Span::days(400))
            ),
            "to",
        ),
    ];
    let mut failures = Vec::new();
    for (path, field) in &cases {
        let answer = world
            .server
            .call("GET", path, Some(&world.admin), None)
            .await;
        if !matches!(answer.status, 400 | 422)
            || (answer.status == 422 && answer.body["field"] != *field)
        {
            failures.push(format!(
                "GET {path} expecting 422 on {field}: {} {}",
                answer.status, answer.body
            ));
            continue;
        }
        assert_problem(&answer, answer.status, path);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases are wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    world.assert_unchanged("bad queries").await;
}
