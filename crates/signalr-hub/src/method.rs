//! Hub methods: how the application registers them and how invocations bind their arguments.
//!
//! A method is an async function of a [`Caller`] and a tuple of typed arguments that returns a
//! serializable value or a [`HubError`]. Arguments arrive as protocol-neutral [`Payload`]s and
//! are bound when the invocation runs, so a client that sends the wrong count or types gets an
//! error Completion and keeps its connection, as with ASP.NET Core.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use signalr_protocol::{Close, Payload};

use crate::auth::Principal;
use crate::handle::HubHandle;
use crate::ids::{ConnectionId, UserId};
use crate::outbound::Outbound;

/// An error a hub method returns on purpose; its message is sent to the caller verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HubError {
    message: String,
}

impl HubError {
    /// An error whose message the calling client will see.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Why an invocation's arguments could not be bound to the method's parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// The client sent a different number of arguments than the method takes.
    #[error("Invocation provides {provided} argument(s) but target expects {expected}.")]
    Count {
        /// Arguments sent.
        provided: usize,
        /// Parameters declared.
        expected: usize,
    },
    /// An argument did not deserialize into the parameter's type.
    #[error("Error binding argument {position}: {reason}")]
    Type {
        /// Zero-based position of the argument.
        position: usize,
        /// What serde said.
        reason: String,
    },
}

/// Parameter lists a hub method can take: tuples of deserializable values.
pub trait FromArguments: Sized + Send + 'static {
    /// Binds the invocation's arguments, checking count and types.
    fn from_arguments(arguments: &[Payload]) -> Result<Self, BindError>;
}

macro_rules! impl_from_arguments {
    ($count:expr; $($name:ident : $index:tt),*) => {
        impl<$($name: DeserializeOwned + Send + 'static),*> FromArguments for ($($name,)*) {
            fn from_arguments(arguments: &[Payload]) -> Result<Self, BindError> {
                if arguments.len() != $count {
                    return Err(BindError::Count { provided: arguments.len(), expected: $count });
                }
                Ok(($(
                    arguments[$index].deserialize::<$name>().map_err(|error| BindError::Type {
                        position: $index,
                        reason: error.to_string(),
                    })?,
                )*))
            }
        }
    };
}

impl_from_arguments!(0;);
impl_from_arguments!(1; A: 0);
impl_from_arguments!(2; A: 0, B: 1);
impl_from_arguments!(3; A: 0, B: 1, C: 2);
impl_from_arguments!(4; A: 0, B: 1, C: 2, D: 3);
impl_from_arguments!(5; A: 0, B: 1, C: 2, D: 3, E: 4);
impl_from_arguments!(6; A: 0, B: 1, C: 2, D: 3, E: 4, F: 5);

/// The connection a hub method or hook runs for, and the way back to the rest of the hub.
#[derive(Clone, Debug)]
pub struct Caller {
    pub(crate) connection_id: ConnectionId,
    pub(crate) principal: Arc<Principal>,
    pub(crate) hub: HubHandle,
    pub(crate) transport: &'static str,
    pub(crate) protocol: &'static str,
}

impl Caller {
    /// The caller's public connection id.
    pub fn connection_id(&self) -> &ConnectionId {
        &self.connection_id
    }

    /// Who the caller authenticated as.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The caller's user id, if authenticated.
    pub fn user_id(&self) -> Option<&UserId> {
        self.principal.user_id.as_ref()
    }

    /// The connection's transport, as negotiate names it: `WebSockets`, `ServerSentEvents` or
    /// `LongPolling`.
    pub fn transport(&self) -> &'static str {
        self.transport
    }

    /// The connection's hub protocol, as the handshake names it: `json` or `messagepack`.
    pub fn protocol(&self) -> &'static str {
        self.protocol
    }

    /// The hub, to send to others.
    pub fn hub(&self) -> &HubHandle {
        &self.hub
    }

    /// Adds the caller to `group` (names are case-sensitive).
    pub fn join_group(&self, group: &str) {
        self.hub.add_to_group(&self.connection_id, group);
    }

    /// Removes the caller from `group`; a no-op when it was not a member.
    pub fn leave_group(&self, group: &str) {
        self.hub.remove_from_group(&self.connection_id, group);
    }

    /// Ends the caller's connection with a Close message carrying `error` (no reconnect hint).
    pub fn close(&self, error: Option<String>) {
        self.hub.registry.send_to_connection(
            &self.connection_id,
            Outbound::Close(Box::new(Close {
                error,
                allow_reconnect: false,
            })),
        );
    }
}

/// Why an invocation produced an error Completion.
#[derive(Debug)]
pub(crate) enum InvocationError {
    Bind(BindError),
    Hub(HubError),
    Result(String),
}

pub(crate) type MethodFn = Arc<
    dyn Fn(Caller, &[Payload]) -> BoxFuture<'static, Result<Payload, InvocationError>>
        + Send
        + Sync,
>;

/// Methods by lower-cased name: lookup is case-insensitive, as in ASP.NET Core.
#[derive(Default)]
pub(crate) struct MethodTable {
    methods: HashMap<String, MethodFn>,
}

impl MethodTable {
    pub(crate) fn insert<Args, Res, Fut, F>(&mut self, name: &str, handler: F)
    where
        Args: FromArguments,
        Res: Serialize,
        Fut: Future<Output = Result<Res, HubError>> + Send + 'static,
        F: Fn(Caller, Args) -> Fut + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let call: MethodFn = Arc::new(move |caller, arguments| {
            let bound = Args::from_arguments(arguments);
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let arguments = bound.map_err(InvocationError::Bind)?;
                let result = handler(caller, arguments)
                    .await
                    .map_err(InvocationError::Hub)?;
                Payload::from_serialize(&result)
                    .map_err(|error| InvocationError::Result(error.to_string()))
            })
        });
        self.methods.insert(name.to_lowercase(), call);
    }

    pub(crate) fn get(&self, target: &str) -> Option<&MethodFn> {
        self.methods.get(&target.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(values: &[serde_json::Value]) -> Vec<Payload> {
        values
            .iter()
            .map(|value| Payload::from_serialize(value).expect("serializable"))
            .collect()
    }

    #[test]
    fn binds_tuples_by_position() {
        let bound = <(String, i64)>::from_arguments(&payloads(&[
            serde_json::json!("a"),
            serde_json::json!(7),
        ]));
        assert_eq!(bound, Ok(("a".to_owned(), 7)));
    }

    #[test]
    fn wrong_count_names_both_counts() {
        let error = <(String, i64)>::from_arguments(&[]).expect_err("count mismatch");
        assert_eq!(
            error.to_string(),
            "Invocation provides 0 argument(s) but target expects 2."
        );
    }

    #[test]
    fn wrong_type_names_the_position() {
        let error = <(i64,)>::from_arguments(&payloads(&[serde_json::json!("x")]))
            .expect_err("type mismatch");
        assert!(
            matches!(error, BindError::Type { position: 0, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn lookup_ignores_case() {
        let mut table = MethodTable::default();
        table.insert("Echo", |_caller: Caller, (text,): (String,)| async move {
            Ok::<_, HubError>(text)
        });
        assert!(table.get("echo").is_some());
        assert!(table.get("ECHO").is_some());
        assert!(table.get("other").is_none());
    }
}
