//! A small hub for interop tests with the official SignalR clients (`e2e/`).
//!
//! Serves the same methods at `/hub` (anonymous allowed) and `/authhub` (token required).
//! A token `user:<name>` authenticates as user `<name>`; any other token is refused.
//!
//! ```text
//! interop_server [--addr 127.0.0.1:0] [--keep-alive-ms N] [--client-timeout-ms N]
//!                [--handshake-timeout-ms N] [--max-message-size N]
//! ```
//! Prints `listening on http://ADDR` once it accepts connections.

use std::time::Duration;

use serde_json::Value;
use signalr_hub::{AuthError, Caller, Hub, HubError, HubOptions, Payload, Principal};

fn hub(options: HubOptions, require_token: bool) -> Hub {
    Hub::builder()
        .options(options)
        .authenticate(move |request| match request.token {
            Some(token) => token
                .strip_prefix("user:")
                .filter(|name| !name.is_empty())
                .map(Principal::user)
                .ok_or_else(|| AuthError::new("token is not of the form user:<name>")),
            None if require_token => Err(AuthError::new("token required")),
            None => Ok(Principal::anonymous()),
        })
        .method("Echo", |_: Caller, (message,): (String,)| async move {
            Ok::<_, HubError>(message)
        })
        .method("EchoValue", |_: Caller, (value,): (Value,)| async move {
            Ok::<_, HubError>(value)
        })
        .method("Add", |_: Caller, (a, b): (i64, i64)| async move {
            a.checked_add(b).ok_or_else(|| HubError::new("overflow"))
        })
        .method("Throw", |_: Caller, (message,): (String,)| async move {
            Err::<(), _>(HubError::new(message))
        })
        .method(
            "JoinGroup",
            |caller: Caller, (group,): (String,)| async move {
                caller.join_group(&group);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "LeaveGroup",
            |caller: Caller, (group,): (String,)| async move {
                caller.leave_group(&group);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendToGroup",
            |caller: Caller, (group, message): (String, Value)| async move {
                let arguments = payloads(&[Value::String(group.clone()), message])?;
                caller
                    .hub()
                    .send_to_group(&group, "GroupMessage", arguments);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendToUser",
            |caller: Caller, (user, message): (String, Value)| async move {
                caller
                    .hub()
                    .send_to_user(&user, "UserMessage", payloads(&[message])?);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendToAll",
            |caller: Caller, (message,): (Value,)| async move {
                caller
                    .hub()
                    .send_to_all("AllMessage", payloads(&[message])?);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendToConnection",
            |caller: Caller, (connection_id, message): (String, Value)| async move {
                caller.hub().send_to_connection(
                    &connection_id.into(),
                    "DirectMessage",
                    payloads(&[message])?,
                );
                Ok::<_, HubError>(())
            },
        )
        .method("GetConnectionId", |caller: Caller, (): ()| async move {
            Ok::<_, HubError>(caller.connection_id().to_string())
        })
        .method("GetUser", |caller: Caller, (): ()| async move {
            Ok::<_, HubError>(caller.user_id().map(ToString::to_string))
        })
        .method("SendMany", |caller: Caller, (count,): (u32,)| async move {
            for i in 0..count {
                caller.hub().send_to_connection(
                    caller.connection_id(),
                    "Numbered",
                    payloads(&[Value::from(i)])?,
                );
            }
            Ok::<_, HubError>(count)
        })
        .method("Kick", |caller: Caller, (reason,): (String,)| async move {
            caller.close(Some(reason));
            Ok::<_, HubError>(())
        })
        .build()
}

fn payloads(values: &[Value]) -> Result<Vec<Payload>, HubError> {
    values
        .iter()
        .map(|value| {
            Payload::from_serialize(value).map_err(|error| HubError::new(error.to_string()))
        })
        .collect()
}

fn parse_args() -> Result<(String, HubOptions), String> {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut options = HubOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let millis = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--addr" => addr = value.clone(),
            "--keep-alive-ms" => options.keep_alive_interval = millis()?,
            "--client-timeout-ms" => options.client_timeout = millis()?,
            "--handshake-timeout-ms" => options.handshake_timeout = millis()?,
            "--max-message-size" => {
                options.max_message_size = value.parse().map_err(|e| format!("{flag}: {e}"))?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((addr, options))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let (addr, options) = parse_args()?;
    let app = hub(options.clone(), false)
        .router("/hub")
        .merge(hub(options, true).router("/authhub"));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
