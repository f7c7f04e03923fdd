//! Bulk import: `POST /api/v1/contractors:bulk`, one contractor per NDJSON line, all or
//! nothing.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use dispatch_core::{ContractorId, NewContractor, RegionId};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Identity, require_admin};
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::openapi::{Forbidden, Unauthenticated, Unavailable};
use crate::state::AppState;

/// The largest bulk body accepted, in bytes (100,000 contractors of a typical size).
pub const MAX_BULK_BYTES: usize = 64 * 1024 * 1024;
/// The most bad rows one answer lists.
const MAX_REPORTED: usize = 100;

/// The bulk routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bulk_contractors))
        .layer(DefaultBodyLimit::max(MAX_BULK_BYTES))
}

/// What a bulk import created.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkCreated {
    /// How many contractors were created.
    pub created: usize,
    /// Their ids, in the order of the lines.
    #[schema(value_type = Vec<String>)]
    pub ids: Vec<ContractorId>,
}

/// One bad line of a bulk import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BadRow {
    /// Its line number, from 1.
    pub line: usize,
    /// The JSON path of the field at fault within the line (`line` for a line that is not a
    /// JSON object).
    pub field: String,
    /// What is wrong.
    pub detail: String,
}

/// A refused bulk import: a problem document listing the bad lines.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkProblem {
    /// `urn:dispatch:problem:bulk-rows`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// 422.
    pub status: u16,
    /// How many lines are bad, for people.
    pub detail: String,
    /// The bad lines (at most 100), in line order.
    pub errors: Vec<BadRow>,
}

/// Creates contractors in bulk from NDJSON: one contractor (the body of
/// `POST /api/v1/contractors`) per line, blank lines skipped, in one transaction. Every line is
/// checked first; if any is bad, nothing is created and the answer (422) lists each bad line
/// with the field at fault. The regions named must exist. Nodes rebuild the regions' live state
/// once, not per contractor.
///
/// Roles: `admin`.
#[utoipa::path(post, path = "/api/v1/contractors:bulk", tag = "contractors",
    operation_id = "bulkCreateContractors", security(("bearer" = ["admin"])),
    request_body(content = String, content_type = "application/x-ndjson",
        description = "One contractor per line (NDJSON), as for createContractor",
        example = json!("{\"name\":\"Ana Ruiz\",\"region\":\"west\",\"skills\":[{\"name\":\"plumbing\",\"level\":4}],\"location\":{\"lat\":37.77,\"lon\":-122.42},\"workingHours\":[{\"day\":\"mon\",\"start\":\"08:00\",\"end\":\"17:00\"}],\"rating\":4.6,\"maxJobsPerDay\":6,\"active\":true}\n")),
    responses((status = 201, description = "Every line created, in one transaction", body = BulkCreated),
        (status = 422, description = "Bad lines (nothing created): each with its line number and field",
            body = BulkProblem, content_type = "application/problem+json"),
        (status = 409, description = "A row conflicts with the store (nothing created)",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 64 MiB",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/x-ndjson`",
            body = crate::error::Problem, content_type = "application/problem+json"),
        Unauthenticated, Forbidden, Unavailable))]
async fn bulk_contractors(
    State(state): State<AppState>,
    identity: Identity,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    require_admin(&identity)?;
    let is_ndjson = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/x-ndjson")
                || m.eq_ignore_ascii_case("application/jsonl")
        });
    if !is_ndjson {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(MAX_BULK_BYTES)
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::MalformedJson(format!("the body is not UTF-8: {e}")))?;

    let mut regions: HashMap<RegionId, bool> = HashMap::new();
    let mut contractors = Vec::new();
    let mut bad = Vec::new();
    let mut bad_count = 0;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = check_row(&state, &mut regions, line).await?;
        match row {
            Ok(new) => contractors.push(new.into_contractor(ContractorId::from(Uuid::new_v4()))),
            Err((field, detail)) => {
                bad_count += 1;
                if bad.len() < MAX_REPORTED {
                    bad.push(BadRow {
                        line: n + 1,
                        field,
                        detail,
                    });
                }
            }
        }
    }
    if bad_count > 0 {
        let problem = BulkProblem {
            kind: "urn:dispatch:problem:bulk-rows".to_owned(),
            title: "Unprocessable Entity".to_owned(),
            status: 422,
            detail: format!("{bad_count} line(s) are invalid; nothing was created"),
            errors: bad,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            [(CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response());
    }
    if contractors.is_empty() {
        return Err(ApiError::validation("body", "no contractor lines"));
    }
    state.store.create_contractors(&contractors).await?;
    let ids: Vec<ContractorId> = contractors.iter().map(|c| c.id).collect();
    Ok((
        StatusCode::CREATED,
        axum::Json(BulkCreated {
            created: ids.len(),
            ids,
        }),
    )
        .into_response())
}

/// One line: the contractor, or the field at fault and why (the outer error is the store's).
async fn check_row(
    state: &AppState,
    regions: &mut HashMap<RegionId, bool>,
    line: &str,
) -> Result<Result<NewContractor, (String, String)>, ApiError> {
    let new: NewContractor = match parse_json(line.as_bytes()) {
        Ok(new) => new,
        Err(ApiError::Validation { field, detail }) => return Ok(Err((field, detail))),
        Err(other) => return Ok(Err(("line".to_owned(), other.to_string()))),
    };
    if let Err(error) = new.validate() {
        return Ok(Err((error.field().to_owned(), error.to_string())));
    }
    let known = match regions.get(&new.region) {
        Some(&known) => known,
        None => {
            let known = state.store.region(&new.region).await?.is_some();
            regions.insert(new.region.clone(), known);
            known
        }
    };
    if !known {
        return Ok(Err((
            "region".to_owned(),
            format!("region {} does not exist", new.region),
        )));
    }
    Ok(Ok(new))
}
