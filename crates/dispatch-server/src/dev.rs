//! Development sign-in: who a newcomer can be, and a short-lived token for that identity, so the
//! web console works on the demo data without anyone handling a token (SPEC §7).
//!
//! Only in development mode ([`AppState::dev_mode`]: no `DISPATCH_JWT_SECRET`, tokens signed with
//! the public development secret, so anyone could mint them anyway). With a real secret both
//! routes answer 404, exactly like routes that do not exist, and the sign-in page asks for a
//! token instead.
//!
//! ```text
//! GET  /api/v1/dev/identities  {"regions":[{"region":{id,name,timeZone},
//!                                           "contractors":[{id,name,skills}]}]}
//! POST /api/v1/dev/token       {"role":"dispatcher","region":"west"}
//!                              {"role":"contractor","contractorId":"…"}
//!                              -> {"token","expiresAt","role","sub","regions","contractorId"}
//! ```
//!
//! Neither needs a token; they are the way to get one. They are not part of the OpenAPI
//! document, which describes the service as deployed.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use dispatch_core::{ContractorId, Region, RegionId, Skill};
use dispatch_store::PageRequest;
use serde::{Deserialize, Serialize};

use crate::auth::{Claims, Role};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

/// How long a development token lives.
pub const DEV_TOKEN_HOURS: i64 = 8;

/// Most contractors listed per region.
const MAX_CONTRACTORS: u32 = 200;

/// The development sign-in routes (404 unless in development mode).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/dev/identities", get(identities))
        .route("/api/v1/dev/token", post(token))
}

/// Who one can sign in as.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DevIdentities {
    /// Every region, with its contractors.
    pub regions: Vec<DevRegion>,
}

/// A region one can dispatch, and its contractors one can be.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DevRegion {
    /// The region.
    pub region: Region,
    /// Its contractors (at most 200), by name.
    pub contractors: Vec<DevContractor>,
}

/// A contractor one can sign in as.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DevContractor {
    /// Id.
    pub id: ContractorId,
    /// Display name.
    pub name: String,
    /// Skills with levels.
    pub skills: Vec<Skill>,
}

/// The role of a development token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum DevRole {
    /// A dispatcher of one region.
    Dispatcher,
    /// One contractor.
    Contractor,
}

/// `POST /api/v1/dev/token`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevTokenRequest {
    /// Dispatcher or contractor.
    pub role: DevRole,
    /// For a dispatcher: the region.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub region: Option<RegionId>,
    /// For a contractor: who.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub contractor_id: Option<ContractorId>,
}

/// A development token and what it lets one be.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DevToken {
    /// The bearer token (also the hub's `access_token`).
    pub token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Dispatcher or contractor.
    pub role: DevRole,
    /// The token's subject (recorded as who asked and who decided).
    pub sub: String,
    /// The regions a dispatcher serves.
    pub regions: Vec<RegionId>,
    /// The contractor a contractor token is for.
    pub contractor_id: Option<ContractorId>,
}

fn ensure_dev(state: &AppState) -> Result<(), ApiError> {
    if state.dev_mode {
        Ok(())
    } else {
        Err(ApiError::NotFound("route"))
    }
}

/// Every region and its contractors.
async fn identities(State(state): State<AppState>) -> Result<Json<DevIdentities>, ApiError> {
    ensure_dev(&state)?;
    let mut regions = Vec::new();
    for region in state.store.regions().await? {
        let page = state
            .store
            .list_contractors(Some(&region.id), PageRequest::first(MAX_CONTRACTORS))
            .await?;
        let mut contractors: Vec<DevContractor> = page
            .items
            .into_iter()
            .map(|contractor| DevContractor {
                id: contractor.id,
                name: contractor.name,
                skills: contractor.skills,
            })
            .collect();
        contractors.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        regions.push(DevRegion {
            region,
            contractors,
        });
    }
    regions.sort_by(|a, b| a.region.id.cmp(&b.region.id));
    Ok(Json(DevIdentities { regions }))
}

/// A token for a dispatcher of an existing region or for an existing contractor.
async fn token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<DevTokenRequest>,
) -> Result<Json<DevToken>, ApiError> {
    ensure_dev(&state)?;
    let (role, sub, regions, contractor_id) = match request.role {
        DevRole::Dispatcher => {
            let region = request
                .region
                .ok_or_else(|| ApiError::validation("region", "a dispatcher needs a region"))?;
            if state.store.region(&region).await?.is_none() {
                return Err(ApiError::validation(
                    "region",
                    format!("region '{region}' does not exist"),
                ));
            }
            let sub = format!("dev-dispatcher-{region}");
            (Role::Dispatcher, sub, vec![region], None)
        }
        DevRole::Contractor => {
            let id = request.contractor_id.ok_or_else(|| {
                ApiError::validation("contractorId", "a contractor token needs a contractorId")
            })?;
            if state.store.contractor(id).await?.is_none() {
                return Err(ApiError::validation(
                    "contractorId",
                    "no contractor with that id",
                ));
            }
            (
                Role::Contractor,
                format!("dev-contractor-{id}"),
                Vec::new(),
                Some(id),
            )
        }
    };
    let expires_at = Utc::now() + Duration::hours(DEV_TOKEN_HOURS);
    let claims = Claims {
        sub: sub.clone(),
        role,
        regions: regions.clone(),
        contractor_id,
        exp: expires_at.timestamp(),
    };
    let token = state.keys.mint(&claims).map_err(ApiError::internal)?;
    Ok(Json(DevToken {
        token,
        expires_at,
        role: request.role,
        sub,
        regions,
        contractor_id,
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use dispatch_store::Store;
    use http_body_util::BodyExt as _;
    use signalr_hub::HubOptions;
    use tower::ServiceExt as _;

    use super::*;
    use crate::Service;
    use crate::auth::JwtKeys;

    async fn service(dev_mode: bool) -> Service {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let west: Region = serde_json::from_value(serde_json::json!(
            {"id": "west", "name": "West", "timeZone": "America/Los_Angeles"}
        ))
        .expect("a region");
        store.create_region(&west).await.expect("region");
        Service::new(
            store,
            JwtKeys::new(b"secret"),
            dev_mode,
            HubOptions::default(),
        )
    }

    async fn call(service: &Service, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = service
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    fn token_request(body: &serde_json::Value) -> Request<Body> {
        Request::post("/api/v1/dev/token")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    #[tokio::test]
    async fn development_mode_lists_identities_and_mints_working_tokens() {
        let service = service(true).await;
        let (status, identities) = call(
            &service,
            Request::get("/api/v1/dev/identities")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(identities["regions"][0]["region"]["id"], "west");

        let (status, minted) = call(
            &service,
            token_request(&serde_json::json!({"role": "dispatcher", "region": "west"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{minted}");
        let token = minted["token"].as_str().expect("a token");
        let claims = service
            .state
            .keys
            .verify(token)
            .expect("signed with the keys");
        assert_eq!(claims.role, Role::Dispatcher);
        assert_eq!(claims.regions, vec![RegionId::new("west")]);
        let (status, _) = call(
            &service,
            Request::get("/api/v1/jobs?region=west")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "the token works on the API");

        for (body, field) in [
            (
                serde_json::json!({"role": "dispatcher", "region": "nowhere"}),
                "region",
            ),
            (serde_json::json!({"role": "dispatcher"}), "region"),
            (serde_json::json!({"role": "contractor"}), "contractorId"),
            (
                serde_json::json!({"role": "contractor", "contractorId": "00000000-0000-0000-0000-000000000001"}),
                "contractorId",
            ),
        ] {
            let (status, problem) = call(&service, token_request(&body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(problem["field"], field, "{body}");
        }
        let (status, _) = call(
            &service,
            token_request(&serde_json::json!({"role": "admin"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no admin tokens");
    }

    #[tokio::test]
    async fn with_a_real_secret_both_routes_do_not_exist() {
        let service = service(false).await;
        let (status, _) = call(
            &service,
            Request::get("/api/v1/dev/identities")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(
            &service,
            token_request(&serde_json::json!({"role": "dispatcher", "region": "west"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_pages_are_served_beside_the_api() {
        let service = service(false).await;
        for path in [
            "/",
            "/dispatch/west",
            "/contractor/00000000-0000-0000-0000-000000000001",
        ] {
            let response = service
                .router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).expect("request"))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .expect("ascii")
                    .starts_with("text/html"),
                "{path}"
            );
        }
        // Not shadowed by the pages.
        let (status, _) = call(
            &service,
            Request::get("/api/v1/nope")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, health) = call(
            &service,
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(
            (status, &health["status"]),
            (StatusCode::OK, &serde_json::json!("ok"))
        );
    }
}
