//! The authorisation matrix (SPEC §3): every route the OpenAPI document lists × six callers —
//! an admin, a dispatcher of the object's region, a dispatcher of another region, the contractor
//! the object belongs to, another contractor, and no token — against an expected-access table
//! written here as data. A route in the document without a row, or a row without a route, fails;
//! so does a document whose declared security or responses disagree with the table. The
//! operational routes (`/healthz`, `/readyz`, `/metrics`, the document and its page) are public and
//! exercised whether or not the document lists them.
//!
//! A refused read of an object in another region or of another contractor must answer exactly
//! like a missing one: every such cell is compared byte for byte with the same request for an id
//! that does not exist. Refusals of the role (401, 403) must not depend on the object existing
//! either, so they are compared the same way.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Bytes;
use axum::http::{Method, Request};
use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};
use common::*;
use dispatch_core::RegionId;
use dispatch_server::auth::Role;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use uuid::Uuid;

/// What a caller gets from a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// 2xx: the request is valid for this caller.
    Ok,
    /// 401: no valid token.
    NoToken,
    /// 403: a valid token without the right (whether or not the object exists).
    Refused,
    /// 404 that is byte for byte the answer for an id that does not exist.
    LooksMissing,
}

use Access::{LooksMissing as MISSING, NoToken as E401, Ok as OK, Refused as E403};

/// The callers of every row, in order.
const CALLERS: [&str; 6] = [
    "admin",
    "dispatcher of the object's region",
    "dispatcher of another region",
    "contractor self",
    "contractor other",
    "no token",
];

/// Every route, lower-case method and OpenAPI path, with what each of [`CALLERS`] gets.
///
/// The objects: region `west`, contractor *self* (in `west`), contractor *other* (also in
/// `west`, so only the contractor check refuses it), a `west` job assigned to *self*, that
/// assignment, its audit record, a recommendation for a `west` job, a ready plan of `west`; the
/// other dispatcher serves `east`.
#[rustfmt::skip]
const TABLE: &[(&str, &str, [Access; 6])] = &[
    //                                                   admin  west     east     self     other    none
    ("get",    "/api/v1/regions",                       [OK,    OK,      OK,      OK,      OK,      E401]),
    ("post",   "/api/v1/regions",                       [OK,    E403,    E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/regions/{id}",                  [OK,    OK,      MISSING, OK,      OK,      E401]),
    ("get",    "/api/v1/regions/{id}/schedule",         [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("get",    "/api/v1/regions/{id}/state",            [OK,    E403,    E403,    E403,    E403,    E401]),
    ("post",   "/api/v1/regions/{id}/state/check",      [OK,    E403,    E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/contractors",                   [OK,    OK,      E403,    E403,    E403,    E401]),
    ("post",   "/api/v1/contractors",                   [OK,    E403,    E403,    E403,    E403,    E401]),
    ("post",   "/api/v1/contractors:bulk",              [OK,    E403,    E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/contractors/{id}",              [OK,    OK,      MISSING, OK,      MISSING, E401]),
    ("put",    "/api/v1/contractors/{id}",              [OK,    E403,    E403,    E403,    E403,    E401]),
    ("post",   "/api/v1/contractors/{id}/time-off",     [OK,    E403,    E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/contractors/{id}/assignments",  [OK,    OK,      MISSING, OK,      MISSING, E401]),
    ("get",    "/api/v1/jobs",                          [OK,    OK,      E403,    E403,    E403,    E401]),
    ("post",   "/api/v1/jobs",                          [OK,    OK,      E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/jobs/{id}",                     [OK,    OK,      MISSING, OK,      MISSING, E401]),
    ("post",   "/api/v1/jobs/{id}/cancel",              [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("post",   "/api/v1/recommendations",               [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("get",    "/api/v1/recommendations/{id}",          [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("post",   "/api/v1/plans",                         [OK,    OK,      E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/plans/{id}",                    [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("post",   "/api/v1/plans/{id}/apply",              [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("post",   "/api/v1/plans/{id}/cancel",             [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("post",   "/api/v1/assignments",                   [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("get",    "/api/v1/assignments/{id}",              [OK,    OK,      MISSING, OK,      MISSING, E401]),
    ("delete", "/api/v1/assignments/{id}",              [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("post",   "/api/v1/assignments/{id}/move",         [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("get",    "/api/v1/audit/{id}",                    [OK,    OK,      MISSING, E403,    E403,    E401]),
    ("get",    "/api/v1/config",                        [OK,    OK,      OK,      E403,    E403,    E401]),
    ("put",    "/api/v1/config",                        [OK,    E403,    E403,    E403,    E403,    E401]),
    ("get",    "/api/v1/config/{version}",              [OK,    OK,      OK,      E403,    E403,    E401]),
    ("get",    "/api/v1/openapi.json",                  [OK,    OK,      OK,      OK,      OK,      OK]),
    ("get",    "/api/v1/docs",                          [OK,    OK,      OK,      OK,      OK,      OK]),
    ("get",    "/healthz",                              [OK,    OK,      OK,      OK,      OK,      OK]),
    ("get",    "/readyz",                               [OK,    OK,      OK,      OK,      OK,      OK]),
    ("get",    "/metrics",                              [OK,    OK,      OK,      OK,      OK,      OK]),
];

/// Operational routes the OpenAPI document may leave out (it need not describe itself, the
/// probes or the metrics); they are exercised all the same.
const OPERATIONAL: &[&str] = &[
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/healthz",
    "/readyz",
    "/metrics",
];

const PROBLEM_JSON: &str = "application/problem+json";

/// A raw answer, compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Raw {
    status: u16,
    content_type: Option<String>,
    body: Bytes,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One concrete request of a route, and the same request naming an object that does not exist.
struct Call {
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    missing: Option<(String, Option<Value>)>,
}

impl Call {
    fn at(path: impl Into<String>) -> Self {
        Call {
            path: path.into(),
            body: None,
            headers: Vec::new(),
            missing: None,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn missing(mut self, path: impl Into<String>, body: Option<Value>) -> Self {
        self.missing = Some((path.into(), body));
        self
    }
}

struct World {
    server: TestServer,
    raw: Client<HttpConnector, Full<Bytes>>,
    tokens: [Option<String>; 6],
    me: String,
    job: String,
    assignment: String,
    audit: String,
    request: String,
    plan: String,
    /// The first whole hour a day from now: slots are `base + 2h·k`.
    base: DateTime<Utc>,
    next_slot: AtomicI64,
    next_name: AtomicI64,
}

impl World {
    async fn new() -> World {
        let server = start().await;
        server.region("west", "America/Los_Angeles").await;
        server.region("east", "America/New_York").await;
        let admin = server.admin();
        let mut ids = Vec::new();
        for name in ["Self", "Other"] {
            let answer = server
                .call(
                    "POST",
                    "/api/v1/contractors",
                    Some(&admin),
                    Some(&contractor_body(name)),
                )
                .await;
            assert_eq!(answer.status, 201, "{answer:?}");
            ids.push(answer.body["id"].as_str().expect("id").to_owned());
        }
        let tokens = [
            Some(admin),
            Some(server.dispatcher("west")),
            Some(server.dispatcher("east")),
            Some(server.contractor(&ids[0])),
            Some(server.contractor(&ids[1])),
            None,
        ];
        let base = (Utc::now() + Span::days(1))
            .duration_trunc(Span::hours(1))
            .expect("whole hour");
        let raw = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let mut world = World {
            server,
            raw,
            tokens,
            me: ids[0].clone(),
            job: String::new(),
            assignment: String::new(),
            audit: String::new(),
            request: String::new(),
            plan: String::new(),
            base,
            next_slot: AtomicI64::new(0),
            next_name: AtomicI64::new(0),
        };
        let (job, assignment) = world.assigned_job().await;
        world.audit = assignment["auditId"].as_str().expect("audit id").to_owned();
        world.assignment = assignment["id"].as_str().expect("id").to_owned();
        world.job = job;
        let open = world.open_job().await;
        let asked = world
            .server
            .call(
                "POST",
                "/api/v1/recommendations",
                Some(&world.server.dispatcher("west")),
                Some(&json!({"jobId": open.0})),
            )
            .await;
        assert_eq!(asked.status, 202, "{asked:?}");
        world.request = asked.body["requestId"]
            .as_str()
            .expect("request id")
            .to_owned();
        world.plan = world.plan().await;
        let read = format!("/api/v1/plans/{}", world.plan);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let answer = world
                .server
                .call("GET", &read, Some(world.admin()), None)
                .await;
            if answer.body["status"] == "ready" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the plan is not ready: {answer:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        world
    }

    /// The body of a one-second plan of `west` over the day after `base`.
    fn plan_body(&self) -> Value {
        json!({"region": "west", "from": iso(self.base), "to": iso(self.base + Span::days(1)),
            "timeLimitSeconds": 1})
    }

    /// A fresh plan of `west` (running); its id.
    async fn plan(&self) -> String {
        let answer = self
            .server
            .call(
                "POST",
                "/api/v1/plans",
                Some(self.admin()),
                Some(&self.plan_body()),
            )
            .await;
        assert_eq!(answer.status, 202, "{answer:?}");
        answer.body["planId"].as_str().expect("plan id").to_owned()
    }

    fn admin(&self) -> &str {
        self.tokens[0].as_deref().expect("admin token")
    }

    /// A fresh open `west` job at the contractor's home with a slot of its own; its id and slot.
    async fn open_job(&self) -> (String, DateTime<Utc>, DateTime<Utc>) {
        let slot = self.next_slot.fetch_add(1, Ordering::SeqCst);
        let start = self.base + Span::hours(2 * slot);
        let body = job_body("west", 37.77, -122.42, start, start + Span::minutes(90));
        let answer = self
            .server
            .call("POST", "/api/v1/jobs", Some(self.admin()), Some(&body))
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        let id = answer.body["id"].as_str().expect("job id").to_owned();
        (id, start, start + Span::minutes(60))
    }

    /// A fresh `west` job assigned to contractor self; the job id and the assignment.
    async fn assigned_job(&self) -> (String, Value) {
        let (job, start, end) = self.open_job().await;
        let answer = self
            .server
            .call(
                "POST",
                "/api/v1/assignments",
                Some(self.admin()),
                Some(&json!({"jobId": job, "contractorId": self.me, "startUtc": iso(start), "endUtc": iso(end)})),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        (job, answer.body)
    }

    /// The request a caller of a route sends: valid, with fresh objects for writes.
    async fn call(&self, method: &str, route: &str) -> Call {
        let missing = Uuid::new_v4().to_string();
        let (from, to) = (
            iso(self.base - Span::days(2)),
            iso(self.base + Span::days(30)),
        );
        match (method, route) {
            ("get", "/api/v1/regions") => Call::at(route),
            ("post", "/api/v1/regions") => {
                let n = self.next_name.fetch_add(1, Ordering::SeqCst);
                Call::at(route).body(json!({"id": format!("r{n}"), "name": "R", "timeZone": "UTC"}))
            }
            ("get", "/api/v1/regions/{id}") => {
                Call::at("/api/v1/regions/west").missing("/api/v1/regions/nowhere", None)
            }
            ("get", "/api/v1/regions/{id}/schedule") => Call::at(format!(
                "/api/v1/regions/west/schedule?from={from}&to={}",
                iso(self.base + Span::days(7))
            ))
            .missing(
                format!(
                    "/api/v1/regions/nowhere/schedule?from={from}&to={}",
                    iso(self.base + Span::days(7))
                ),
                None,
            ),
            ("get", "/api/v1/regions/{id}/state") => Call::at("/api/v1/regions/west/state")
                .missing("/api/v1/regions/nowhere/state", None),
            ("post", "/api/v1/regions/{id}/state/check") => {
                Call::at("/api/v1/regions/west/state/check")
                    .missing("/api/v1/regions/nowhere/state/check", None)
            }
            ("post", "/api/v1/contractors:bulk") => Call::at(route)
                .body(contractor_body("Bulk"))
                .header("content-type", "application/x-ndjson".to_owned()),
            ("get", "/api/v1/contractors") => Call::at("/api/v1/contractors?region=west"),
            ("post", "/api/v1/contractors") => Call::at(route).body(contractor_body("New")),
            ("get", "/api/v1/contractors/{id}") => {
                Call::at(format!("/api/v1/contractors/{}", self.me))
                    .missing(format!("/api/v1/contractors/{missing}"), None)
            }
            ("put", "/api/v1/contractors/{id}") => {
                let body = contractor_body("Self");
                Call::at(format!("/api/v1/contractors/{}", self.me))
                    .body(body.clone())
                    .missing(format!("/api/v1/contractors/{missing}"), Some(body))
            }
            ("post", "/api/v1/contractors/{id}/time-off") => {
                let start = self.base + Span::days(200);
                let body = json!({"startUtc": iso(start), "endUtc": iso(start + Span::days(1)), "reason": "vacation"});
                Call::at(format!("/api/v1/contractors/{}/time-off", self.me))
                    .body(body.clone())
                    .missing(
                        format!("/api/v1/contractors/{missing}/time-off"),
                        Some(body),
                    )
            }
            ("get", "/api/v1/contractors/{id}/assignments") => Call::at(format!(
                "/api/v1/contractors/{}/assignments?from={from}&to={to}",
                self.me
            ))
            .missing(
                format!("/api/v1/contractors/{missing}/assignments?from={from}&to={to}"),
                None,
            ),
            ("get", "/api/v1/jobs") => Call::at("/api/v1/jobs?region=west"),
            ("post", "/api/v1/jobs") => {
                let start = self.base + Span::days(3);
                Call::at(route).body(job_body(
                    "west",
                    37.7,
                    -122.4,
                    start,
                    start + Span::hours(4),
                ))
            }
            ("get", "/api/v1/jobs/{id}") => Call::at(format!("/api/v1/jobs/{}", self.job))
                .missing(format!("/api/v1/jobs/{missing}"), None),
            ("post", "/api/v1/jobs/{id}/cancel") => {
                let (job, ..) = self.open_job().await;
                Call::at(format!("/api/v1/jobs/{job}/cancel"))
                    .missing(format!("/api/v1/jobs/{missing}/cancel"), None)
            }
            ("post", "/api/v1/recommendations") => {
                let (job, ..) = self.open_job().await;
                Call::at(route)
                    .body(json!({"jobId": job, "limit": 3}))
                    .missing(route, Some(json!({"jobId": missing, "limit": 3})))
            }
            ("get", "/api/v1/recommendations/{id}") => {
                Call::at(format!("/api/v1/recommendations/{}", self.request))
                    .missing(format!("/api/v1/recommendations/{missing}"), None)
            }
            ("post", "/api/v1/plans") => Call::at(route).body(self.plan_body()),
            ("get", "/api/v1/plans/{id}") => Call::at(format!("/api/v1/plans/{}", self.plan))
                .missing(format!("/api/v1/plans/{missing}"), None),
            // Applying the ready plan again answers its application again.
            ("post", "/api/v1/plans/{id}/apply") => {
                Call::at(format!("/api/v1/plans/{}/apply", self.plan))
                    .missing(format!("/api/v1/plans/{missing}/apply"), None)
            }
            ("post", "/api/v1/plans/{id}/cancel") => {
                let plan = self.plan().await;
                Call::at(format!("/api/v1/plans/{plan}/cancel"))
                    .missing(format!("/api/v1/plans/{missing}/cancel"), None)
            }
            ("post", "/api/v1/assignments") => {
                let (job, start, end) = self.open_job().await;
                let body = |job: &str| json!({"jobId": job, "contractorId": self.me, "startUtc": iso(start), "endUtc": iso(end)});
                Call::at(route)
                    .body(body(&job))
                    .missing(route, Some(body(&missing)))
            }
            ("get", "/api/v1/assignments/{id}") => {
                Call::at(format!("/api/v1/assignments/{}", self.assignment))
                    .missing(format!("/api/v1/assignments/{missing}"), None)
            }
            ("delete", "/api/v1/assignments/{id}") => {
                let (_, assignment) = self.assigned_job().await;
                let id = assignment["id"].as_str().expect("id");
                Call::at(format!("/api/v1/assignments/{id}"))
                    .missing(format!("/api/v1/assignments/{missing}"), None)
            }
            ("post", "/api/v1/assignments/{id}/move") => {
                let (_, assignment) = self.assigned_job().await;
                let id = assignment["id"].as_str().expect("id");
                // Half an hour later, still inside the job's window.
                let start = assignment["startUtc"].as_str().expect("start");
                let start =
                    DateTime::parse_from_rfc3339(start).expect("time").to_utc() + Span::minutes(30);
                let end = start + Span::minutes(60);
                let body =
                    json!({"contractorId": self.me, "startUtc": iso(start), "endUtc": iso(end)});
                Call::at(format!("/api/v1/assignments/{id}/move"))
                    .body(body.clone())
                    .missing(format!("/api/v1/assignments/{missing}/move"), Some(body))
            }
            ("get", "/api/v1/audit/{id}") => Call::at(format!("/api/v1/audit/{}", self.audit))
                .missing(format!("/api/v1/audit/{missing}"), None),
            ("get", "/api/v1/config") => Call::at(route),
            ("put", "/api/v1/config") => {
                let current = self
                    .server
                    .call("GET", "/api/v1/config", Some(self.admin()), None)
                    .await;
                let mut body = current.body.clone();
                let version = body
                    .as_object_mut()
                    .and_then(|object| object.remove("version"))
                    .expect("version");
                Call::at(route)
                    .body(body)
                    .header("if-match", format!("\"{version}\""))
            }
            ("get", "/api/v1/config/{version}") => {
                Call::at("/api/v1/config/1").missing("/api/v1/config/999999", None)
            }
            (
                "get",
                "/api/v1/openapi.json" | "/api/v1/docs" | "/healthz" | "/readyz" | "/metrics",
            ) => Call::at(route),
            _ => panic!("no request for {method} {route}: add one to World::call"),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&'static str, String)],
        body: Option<&Value>,
    ) -> Raw {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"))
            .uri(format!("http://{}{path}", self.server.addr));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() && !headers.iter().any(|(name, _)| *name == "content-type") {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let bytes = body
            .map(|body| Bytes::from(body.to_string()))
            .unwrap_or_default();
        let response = self
            .raw
            .request(request.body(Full::new(bytes)).expect("request"))
            .await
            .expect("http");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Raw {
            status,
            content_type,
            body,
        }
    }
}

/// The OpenAPI document the service serves.
async fn document(world: &World) -> Value {
    let answer = world
        .send("get", "/api/v1/openapi.json", None, &[], None)
        .await;
    assert_eq!(answer.status, 200, "the OpenAPI document is served");
    let document = answer.json();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with('3')),
        "an OpenAPI 3 document: {document}"
    );
    document
}

/// Every operation of the document: `(method, path)` and the operation object.
fn operations(document: &Value) -> Vec<((String, String), &Value)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if let Some(operation) = item.get(method) {
                operations.push(((method.to_owned(), path.clone()), operation));
            }
        }
    }
    operations
}

/// The routes to exercise: the document's, plus the operational ones it leaves out.
async fn routes(world: &World) -> BTreeSet<(String, String)> {
    let document = document(world).await;
    let mut routes: BTreeSet<_> = operations(&document)
        .into_iter()
        .map(|(route, _)| route)
        .collect();
    routes.extend(
        OPERATIONAL
            .iter()
            .map(|path| ("get".to_owned(), (*path).to_owned())),
    );
    routes
}

fn table_routes() -> BTreeSet<(String, String)> {
    let routes: BTreeSet<_> = TABLE
        .iter()
        .map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(routes.len(), TABLE.len(), "no route is listed twice");
    routes
}

fn expected(method: &str, path: &str) -> [Access; 6] {
    TABLE
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, access)| *access)
        .expect("a row for the route")
}

/// A problem document of this status with the fields every problem has.
fn problem(answer: &Raw, status: u16, kind: Option<&str>) -> Result<(), String> {
    let document = answer.json();
    let fine = answer.status == status
        && answer.content_type.as_deref() == Some(PROBLEM_JSON)
        && document["type"].is_string()
        && document["title"].is_string()
        && document["detail"].is_string()
        && document["status"] == status
        && kind.is_none_or(|kind| document["type"] == format!("urn:dispatch:problem:{kind}"));
    if fine {
        Ok(())
    } else {
        Err(format!("expected a {status} problem, got {answer:?}"))
    }
}

fn assert_problem(answer: &Raw, status: u16, what: &str) {
    if let Err(error) = problem(answer, status, None) {
        panic!("{what}: {error}");
    }
}

/// Whether an answer is what the table expects.
fn check(answer: &Raw, access: Access) -> Result<(), String> {
    match access {
        Access::Ok if (200..300).contains(&answer.status) => Ok(()),
        Access::Ok => Err(format!("expected 2xx, got {answer:?}")),
        Access::NoToken => problem(answer, 401, Some("unauthenticated")),
        Access::Refused => problem(answer, 403, Some("forbidden")),
        Access::LooksMissing => problem(answer, 404, Some("not-found")),
    }
}

#[tokio::test]
async fn the_route_table_is_the_openapi_document() {
    let world = World::new().await;
    let document = document(&world).await;
    let operations = operations(&document);
    let documented: BTreeSet<_> = operations.iter().map(|(route, _)| route.clone()).collect();
    let table = table_routes();
    let undocumented: Vec<_> = table
        .difference(&documented)
        .filter(|(method, path)| !(method == "get" && OPERATIONAL.contains(&path.as_str())))
        .collect();
    let unlisted: Vec<_> = documented.difference(&table).collect();
    assert!(
        undocumented.is_empty() && unlisted.is_empty(),
        "rows without a documented route: {undocumented:?}; documented routes without a row: {unlisted:?}"
    );

    // What the document promises agrees with the table: a route that answers 401 without a
    // token declares the bearer scheme, a public one declares none, and every status the
    // table expects is among the documented responses.
    let mut disagreements = Vec::new();
    for ((method, path), operation) in &operations {
        let access = expected(method, path);
        let security = operation.get("security").unwrap_or(&document["security"]);
        let needs_token = security
            .as_array()
            .is_some_and(|schemes| !schemes.is_empty() && !schemes.iter().any(|s| s == &json!({})));
        if needs_token != (access[5] == Access::NoToken) {
            disagreements.push(format!("{method} {path}: declared security {security}"));
        }
        let responses = operation["responses"].as_object().expect("responses");
        for access in access {
            let documented = match access {
                Access::Ok => responses.keys().any(|status| status.starts_with('2')),
                Access::NoToken => responses.contains_key("401"),
                Access::Refused => responses.contains_key("403"),
                Access::LooksMissing => responses.contains_key("404"),
            };
            if !documented {
                disagreements.push(format!(
                    "{method} {path}: no documented response for {access:?}"
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_table_says() {
    let world = World::new().await;
    let routes = routes(&world).await;
    assert_eq!(
        routes,
        table_routes(),
        "see the_route_table_is_the_openapi_document"
    );
    let forged = bad_tokens(&world);
    let mut failures = Vec::new();
    let mut cells = 0;
    for (method, route) in &routes {
        for (who, access) in expected(method, route).into_iter().enumerate() {
            cells += 1;
            let what = format!("{} {route} as {}", method.to_uppercase(), CALLERS[who]);
            let call = world.call(method, route).await;
            let token = world.tokens[who].as_deref();
            let answer = world
                .send(method, &call.path, token, &call.headers, call.body.as_ref())
                .await;
            if let Err(error) = check(&answer, access) {
                failures.push(format!("{what}: {error}"));
                continue;
            }
            // Refusals do not depend on whether the object exists.
            if access != Access::Ok
                && let Some((path, body)) = &call.missing
            {
                let absent = world
                    .send(method, path, token, &call.headers, body.as_ref())
                    .await;
                if absent != answer {
                    failures.push(format!(
                        "{what}: the refusal differs from the answer for a missing object\n  existing: {answer:?}\n  missing:  {absent:?}"
                    ));
                }
            }
            // A bad token is no token: an expired one, one signed with another secret.
            if access == Access::NoToken {
                for bad in &forged {
                    let refused = world
                        .send(
                            method,
                            &call.path,
                            Some(bad),
                            &call.headers,
                            call.body.as_ref(),
                        )
                        .await;
                    if refused != answer {
                        failures.push(format!("{what} with a bad token: {refused:?}"));
                    }
                }
            }
        }
    }
    assert_eq!(cells, TABLE.len() * CALLERS.len());
    assert!(
        failures.is_empty(),
        "{} of {cells} cells are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Tokens the service must not accept: expired, signed with another secret, not a JWT.
fn bad_tokens(world: &World) -> Vec<String> {
    let other = dispatch_server::auth::JwtKeys::new(b"not-the-secret");
    vec![
        world
            .server
            .keys
            .mint_for("admin", Role::Admin, vec![], None, -2)
            .expect("expired token"),
        other
            .mint_for("admin", Role::Admin, vec![], None, 1)
            .expect("forged token"),
        other
            .mint_for(
                "west",
                Role::Dispatcher,
                vec![RegionId::new("west")],
                None,
                1,
            )
            .expect("forged token"),
        "not-a-jwt".to_owned(),
    ]
}

#[tokio::test]
async fn lists_show_only_what_the_caller_may_see() {
    let world = World::new().await;
    let regions = |who: usize| {
        let token = world.tokens[who].clone();
        let world = &world;
        async move {
            let answer = world
                .send("get", "/api/v1/regions", token.as_deref(), &[], None)
                .await;
            assert_eq!(answer.status, 200, "{answer:?}");
            let mut ids: Vec<String> = answer
                .json()
                .as_array()
                .expect("array")
                .iter()
                .map(|region| region["id"].as_str().expect("id").to_owned())
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(regions(0).await, ["east", "west"]);
    assert_eq!(regions(1).await, ["west"]);
    assert_eq!(regions(2).await, ["east"]);
    assert_eq!(regions(3).await, ["west"]);
    assert_eq!(regions(4).await, ["west"]);

    // A dispatcher's job list holds its region only, and asking for another region tells
    // nothing about whether it exists.
    let east = world.tokens[2].as_deref();
    let west_jobs = world
        .send("get", "/api/v1/jobs?region=west", east, &[], None)
        .await;
    let nowhere_jobs = world
        .send("get", "/api/v1/jobs?region=nowhere", east, &[], None)
        .await;
    assert_problem(&west_jobs, 403, "east lists west's jobs");
    assert_problem(
        &nowhere_jobs,
        403,
        "east lists a region that does not exist",
    );
    assert_eq!(west_jobs.json()["type"], nowhere_jobs.json()["type"]);
}
