//! A small hub for interop tests with the official SignalR clients (`e2e/`).
//!
//! Serves the same methods at `/hub` (anonymous allowed) and `/authhub` (token required).
//! A token `user:<name>` authenticates as user `<name>`; any other token is refused.
//!
//! ```text
//! interop_server [--addr 127.0.0.1:0] [--keep-alive-ms N] [--client-timeout-ms N]
//!                [--handshake-timeout-ms N] [--max-message-size N]
//!                [--disconnect-timeout-ms N] [--allowed-origin URL]...
//!                [--connection-token-secret S]
//! ```
//! `--disconnect-timeout-ms` is also the stateful-reconnect resume window. Each
//! `--allowed-origin` adds a browser origin that may call the hubs cross-origin (CORS answers
//! for it; other origins get 403). Without any, `Origin` is not checked and no CORS headers are
//! sent, so only same-origin pages can use the hubs. With `--connection-token-secret`,
//! connection tokens are signed with `S`, so two servers started with the same secret act as
//! two nodes of one cluster: negotiate on one, open the WebSocket on the other.
//!
//! Prints `listening on http://ADDR` once it accepts connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use signalr_hub::{
    AuthError, Caller, ConnectionTokenKey, Hub, HubError, HubOptions, Payload, Principal,
};

/// Values recorded by `Record`, per key, shared by both hubs: lets a test check on the server
/// side that each invocation ran exactly once, in order (stateful reconnect replays).
type Recorded = Arc<Mutex<HashMap<String, Vec<Value>>>>;

fn hub(options: HubOptions, require_token: bool, recorded: &Recorded) -> Hub {
    let record = Arc::clone(recorded);
    let read_back = Arc::clone(recorded);
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
        // Sends Numbered(0..count) to a group from a background task, one every `interval_ms`,
        // so a test can cut the transport while the stream is under way. Returns at once.
        .method(
            "StreamToGroup",
            |caller: Caller, (group, count, interval_ms): (String, u32, u64)| async move {
                let hub = caller.hub().clone();
                let numbered = (0..count)
                    .map(|i| payloads(&[Value::from(i)]))
                    .collect::<Result<Vec<_>, _>>()?;
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
                    for arguments in numbered {
                        tick.tick().await;
                        hub.send_to_group(&group, "Numbered", arguments);
                    }
                });
                Ok::<_, HubError>(())
            },
        )
        // Appends `value` to the list kept under `key`; returns the list's new length.
        .method("Record", move |_: Caller, (key, value): (String, Value)| {
            let record = Arc::clone(&record);
            async move {
                let mut recorded = record.lock().unwrap_or_else(PoisonError::into_inner);
                let list = recorded.entry(key).or_default();
                list.push(value);
                Ok::<_, HubError>(list.len())
            }
        })
        .method("GetRecorded", move |_: Caller, (key,): (String,)| {
            let read_back = Arc::clone(&read_back);
            async move {
                let recorded = read_back.lock().unwrap_or_else(PoisonError::into_inner);
                Ok::<_, HubError>(recorded.get(&key).cloned().unwrap_or_default())
            }
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
            "--disconnect-timeout-ms" => options.disconnect_timeout = millis()?,
            "--allowed-origin" => options
                .allowed_origins
                .get_or_insert_with(Vec::new)
                .push(value.clone()),
            "--connection-token-secret" => {
                options.connection_token_key = Some(ConnectionTokenKey::new(&value));
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
    let recorded = Recorded::default();
    let app = hub(options.clone(), false, &recorded)
        .router("/hub")
        .merge(hub(options, true, &recorded).router("/authhub"));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
