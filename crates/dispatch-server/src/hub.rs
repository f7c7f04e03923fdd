//! The Dispatch hub at `/hub/v1`: authentication by bearer token and the two hub methods,
//! `Subscribe(channel)` and `Unsubscribe(channel)`, with SPEC §2–3's authorisation.

use std::sync::Arc;

use signalr_hub::{AuthError, Caller, Hub, HubError, HubOptions, Principal};

use crate::auth::{Claims, JwtKeys};
use crate::events::Channel;
use crate::telemetry;

/// The route of the hub (negotiate at `/hub/v1/negotiate`).
pub const HUB_PATH: &str = "/hub/v1";

/// Whether `claims` may read `channel`; refusals start with "Forbidden" (SPEC §2).
fn authorize(claims: &Claims, channel: &str) -> Result<(), HubError> {
    let allowed = match channel.parse() {
        Ok(Channel::Dispatch(region)) => claims.can_dispatch(&region),
        Ok(Channel::Contractor(contractor)) => claims.is_contractor_or_admin(contractor),
        Err(_) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(HubError::new(format!(
            "Forbidden: you may not subscribe to '{channel}'"
        )))
    }
}

fn claims(caller: &Caller) -> Result<&Claims, HubError> {
    caller
        .principal()
        .claims::<Claims>()
        .ok_or_else(|| HubError::new("Forbidden: not authenticated"))
}

/// Builds the hub; `keys` verify the bearer token at negotiate and at the transport request.
pub fn dispatch_hub(keys: Arc<JwtKeys>, options: HubOptions) -> Hub {
    Hub::builder()
        .options(options)
        .authenticate(move |request| {
            let token = request
                .token
                .ok_or_else(|| AuthError::new("no bearer token"))?;
            let claims = keys
                .verify(token)
                .map_err(|error| AuthError::new(error.to_string()))?;
            Ok(Principal::user(claims.sub.clone()).with_claims(claims))
        })
        .on_connected(|caller: Caller| async move {
            telemetry::hub_connected(caller.transport(), caller.protocol());
            Ok::<_, HubError>(())
        })
        .on_disconnected(|caller: Caller| async move {
            telemetry::hub_disconnected(caller.transport(), caller.protocol());
        })
        .method(
            "Subscribe",
            |caller: Caller, (channel,): (String,)| async move {
                authorize(claims(&caller)?, &channel)?;
                caller.join_group(&channel);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "Unsubscribe",
            |caller: Caller, (channel,): (String,)| async move {
                authorize(claims(&caller)?, &channel)?;
                caller.leave_group(&channel);
                Ok::<_, HubError>(())
            },
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use dispatch_core::{ContractorId, RegionId};

    fn claims(role: Role, regions: &[&str], contractor: Option<ContractorId>) -> Claims {
        Claims {
            sub: "x".to_owned(),
            role,
            regions: regions.iter().map(|r| RegionId::new(*r)).collect(),
            contractor_id: contractor,
            exp: i64::MAX,
        }
    }

    #[test]
    fn channels_follow_the_roles() {
        let me = ContractorId::from_u128(0xabcd_ef01);
        let other = ContractorId::from_u128(2);
        let dispatcher = claims(Role::Dispatcher, &["west"], None);
        let contractor = claims(Role::Contractor, &[], Some(me));
        let admin = claims(Role::Admin, &[], None);
        assert!(authorize(&dispatcher, "/dispatch/west").is_ok());
        assert!(authorize(&dispatcher, "/dispatch/east").is_err());
        assert!(authorize(&dispatcher, &format!("/contractor/{me}")).is_err());
        assert!(authorize(&contractor, &format!("/contractor/{me}")).is_ok());
        assert!(authorize(&contractor, &format!("/contractor/{other}")).is_err());
        assert!(authorize(&contractor, "/dispatch/west").is_err());
        assert!(authorize(&admin, "/dispatch/anything").is_ok());
        for bad in [
            "",
            "/dispatch/",
            "/dispatch/West",
            "/contractor/nope",
            "/other/west",
        ] {
            let error = authorize(&admin, bad).expect_err(bad);
            assert!(error.message().starts_with("Forbidden"), "{bad}");
        }
        let upper = me.to_string().to_uppercase();
        assert!(authorize(&admin, &format!("/contractor/{upper}")).is_err());
    }
}
