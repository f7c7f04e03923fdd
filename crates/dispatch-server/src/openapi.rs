//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`: its frame (info, tags, the bearer
//! scheme) and the parts every operation shares — the problem responses (RFC 9457,
//! `application/problem+json`, the [`Problem`] schema) and the `Idempotency-Key` header.
//!
//! The operations themselves come from the handlers' `#[utoipa::path]` annotations in
//! [`crate::api`]: each names its roles twice, in the operation's `security` requirement (the
//! role names are listed, as OpenAPI 3.1 allows for non-OAuth schemes; any one of them
//! suffices) and in a "Roles" line of its description. The document is checked in the test
//! suite by an independent validator and by the clients generated from it (`e2e/api`).

use std::sync::Arc;

use axum::Extension;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::error::Problem;
use crate::events;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// The introduction an integrator reads first (the document's `info.description`).
const INTRODUCTION: &str = "\
Field-service dispatch: regions, contractors and jobs; ranked, explained contractor \
recommendations; manual and automatic assignments, each with an audit record of why.

**Authentication.** Every `/api/v1` operation takes a bearer token: an HS256 JWT with the \
claims `sub`, `role` (`admin`, `dispatcher` or `contractor`), `regions` (a dispatcher's \
regions), `contractorId` (a contractor's own id) and `exp`. Without a valid token the answer is \
401; with one whose role may not do the operation, 403. Each operation lists the roles that may \
call it. Something the caller may not see answers 404, exactly like something that does not \
exist.

**Errors** are `application/problem+json` (RFC 9457, schema `Problem`) with a stable `type` \
(`urn:dispatch:problem:<kind>`): validation failures are 422 and name the field by its JSON path \
(`skills[0].level`); conflicts (double booking, job already assigned, stale configuration \
version) are 409.

**Retries.** A `POST` accepts an `Idempotency-Key` header: a retry with the same key and body \
replays the first answer (header `idempotent-replayed: true`) and changes nothing.

**Lists** are paged: `limit` (1–200, default 50) and the `nextCursor` of the previous page.

**Time**: every timestamp is UTC ISO 8601 with a `Z`; working hours are local to the region's \
time zone. Ids are lower-case hyphenated UUIDs, except region ids (short slugs).

**Real time.** Two events arrive over the SignalR hub at `/hub/v1` (negotiate at \
`/hub/v1/negotiate`; the official SignalR clients connect unchanged, with the same bearer token): \
`RecommendationReady` and `JobAssigned` (schemas of the same names). After connecting, invoke \
`Subscribe(\"/dispatch/{region}\")` or `Subscribe(\"/contractor/{contractorId}\")`. Events are \
signals: fetch the data over HTTP.";

/// The document's frame; the paths come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Dispatch", description = INTRODUCTION),
    paths(document, docs_page),
    components(schemas(events::RecommendationReady, events::JobAssigned, Problem)),
    tags(
        (name = "regions", description = "Regions: a slug, a name and an IANA time zone."),
        (name = "contractors", description = "Contractors: skills, home base, working hours, time off, their bookings."),
        (name = "jobs", description = "Jobs of a region: create, list by status, read, cancel."),
        (name = "recommendations", description = "Ask for a ranked, explained list of contractors for a job (computed in the background; `RecommendationReady` says when), then read it."),
        (name = "assignments", description = "Book a contractor for a job (re-validated against every hard rule), read, unassign."),
        (name = "plans", description = "Plan a region's open backlog over a period at once (more jobs done, less driving), read its progress and routes, apply it as ordinary assignments, or cancel it."),
        (name = "audit", description = "Why each contractor was (or was not) recommended, under which configuration version, and the decision."),
        (name = "config", description = "The scoring configuration: weights and hard limits, versioned; replace with `If-Match`."),
        (name = "system", description = "Liveness, readiness, metrics and this document: no token needed."),
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme every `/api/v1` operation uses.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An HS256 JWT (`dispatch token --role …` prints one). The role names an \
                         operation's requirement lists are alternatives: any one of them may call it.",
                    ))
                    .build(),
            ),
        );
    }
}

/// No bearer token, or one that is invalid or expired.
#[derive(utoipa::IntoResponses)]
#[response(status = 401, content_type = "application/problem+json", example = json!({
    "type": "urn:dispatch:problem:unauthenticated", "title": "Unauthorized", "status": 401,
    "detail": "a valid bearer token is required"}))]
pub struct Unauthenticated(pub Problem);

/// The token is valid, but its role may not do this (see the operation's roles).
#[derive(utoipa::IntoResponses)]
#[response(status = 403, content_type = "application/problem+json", example = json!({
    "type": "urn:dispatch:problem:forbidden", "title": "Forbidden", "status": 403,
    "detail": "only an admin may do this"}))]
pub struct Forbidden(pub Problem);

/// No such thing, or one the caller may not see: both answer alike, revealing nothing.
#[derive(utoipa::IntoResponses)]
#[response(status = 404, content_type = "application/problem+json", example = json!({
    "type": "urn:dispatch:problem:not-found", "title": "Not Found", "status": 404,
    "detail": "job not found"}))]
pub struct NotFound(pub Problem);

/// A query parameter is missing, unknown or invalid; `field` names it.
#[derive(utoipa::IntoResponses)]
#[response(status = 422, content_type = "application/problem+json", example = json!({
    "type": "urn:dispatch:problem:validation", "title": "Unprocessable Entity", "status": 422,
    "detail": "limit must be between 1 and 200", "field": "limit"}))]
pub struct InvalidQuery(pub Problem);

/// The service cannot take the request now (the database is busy or unreachable, the queue is
/// full, or the node is shutting down): retry shortly.
#[derive(utoipa::IntoResponses)]
#[response(status = 503, content_type = "application/problem+json", example = json!({
    "type": "urn:dispatch:problem:unavailable", "title": "Service Unavailable", "status": 503,
    "detail": "the database is busy; retry shortly"}))]
pub struct Unavailable(pub Problem);

/// This caller is over its per-subject limit for this operation (a rate, or its share of the
/// work queue): retry after `Retry-After` seconds. Other callers are not affected.
#[derive(utoipa::IntoResponses)]
#[response(status = 429, content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying")),
    example = json!({
    "type": "urn:dispatch:problem:rate-limited", "title": "Too Many Requests", "status": 429,
    "detail": "too many recommendation requests from this caller; retry after the time in Retry-After"}))]
pub struct RateLimited(pub Problem);

/// What an operation with a JSON body may answer about the body itself.
#[derive(utoipa::IntoResponses)]
pub enum BodyProblems {
    /// The body is not JSON at all.
    #[response(status = 400, content_type = "application/problem+json", example = json!({
        "type": "urn:dispatch:problem:malformed-json", "title": "Bad Request", "status": 400,
        "detail": "the body is not valid JSON: EOF while parsing an object at line 1 column 9"}))]
    Malformed(Problem),
    /// The body is larger than 64 KiB.
    #[response(status = 413, content_type = "application/problem+json", example = json!({
        "type": "urn:dispatch:problem:payload-too-large", "title": "Payload Too Large", "status": 413,
        "detail": "the body is larger than 65536 bytes"}))]
    TooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json", example = json!({
        "type": "urn:dispatch:problem:unsupported-media-type", "title": "Unsupported Media Type",
        "status": 415, "detail": "the body must be application/json"}))]
    NotJson(Problem),
    /// The body did not arrive within the body timeout (`DISPATCH_HTTP_BODY_TIMEOUT_MS`).
    #[response(status = 408, content_type = "application/problem+json", example = json!({
        "type": "urn:dispatch:problem:request-timeout", "title": "Request Timeout", "status": 408,
        "detail": "the request body did not arrive within 30 seconds"}))]
    TooSlow(Problem),
    /// A field is missing, unknown or invalid (`field` names it by its JSON path), or an
    /// `Idempotency-Key` was reused with another body.
    #[response(status = 422, content_type = "application/problem+json", example = json!({
        "type": "urn:dispatch:problem:validation", "title": "Unprocessable Entity", "status": 422,
        "detail": "level must be between 1 and 5", "field": "skills[0].level"}))]
    Invalid(Problem),
}

/// The `Idempotency-Key` header every `POST` accepts.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKey {
    /// A key of 1 to 255 visible ASCII characters, unique per intended change: a retry with
    /// the same key and body replays the first answer (with `idempotent-replayed: true`); the
    /// same key with another body is 422; a retry while the first is still running is 409.
    #[param(rename = "Idempotency-Key", value_type = String, required = false, min_length = 1, max_length = 255)]
    pub key: Option<String>,
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system", operation_id = "getOpenApiDocument",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json",
        body = Object)))]
pub async fn document(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> axum::Json<Arc<utoipa::openapi::OpenApi>> {
    axum::Json(document)
}

/// The API reference: this document rendered for people, with "Try it out" (paste a token under
/// "Authorize"; a console session of the same tab is used). Its script and styles are part of
/// the binary; nothing is fetched from elsewhere.
#[utoipa::path(get, path = "/api/v1/docs", tag = "system", operation_id = "getApiDocsPage",
    security(()),
    responses((status = 200, description = "The HTML page (Swagger UI)", content_type = "text/html", body = String),
        (status = 304, description = "The client's copy (`If-None-Match`) is current")))]
pub async fn docs_page(headers: HeaderMap) -> Response {
    dispatch_web::api_docs::page(&headers)
}
