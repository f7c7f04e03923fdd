//! [`HubHandle`]: how application code outside hub methods pushes to clients.

use std::sync::Arc;

use signalr_protocol::{Close, HubMessage, Invocation, Payload};

use crate::ids::ConnectionId;
use crate::outbound::{Outbound, SharedMessage};
use crate::registry::Registry;

/// A cheap, cloneable handle for sending to the hub's clients and managing groups.
///
/// Every send is a fire-and-forget Invocation of a client method (`connection.on(target, …)`).
/// The message is encoded once per hub protocol and queued for each recipient without waiting;
/// a recipient whose queue is full is too slow and is closed, so a send never blocks and never
/// grows memory. Each method returns how many connections the message was queued for.
#[derive(Clone, Debug)]
pub struct HubHandle {
    pub(crate) registry: Arc<Registry>,
}

fn invocation(target: &str, arguments: Vec<Payload>) -> Arc<SharedMessage> {
    SharedMessage::new(HubMessage::Invocation(Invocation {
        invocation_id: None,
        target: target.to_owned(),
        arguments,
        stream_ids: Vec::new(),
        headers: Default::default(),
    }))
}

impl HubHandle {
    /// Invokes `target` on every connection.
    pub fn send_to_all(&self, target: &str, arguments: Vec<Payload>) -> usize {
        self.registry.send_to_all(&invocation(target, arguments))
    }

    /// Invokes `target` on every member of `group` (case-sensitive name).
    pub fn send_to_group(&self, group: &str, target: &str, arguments: Vec<Payload>) -> usize {
        self.registry
            .send_to_group(group, &invocation(target, arguments))
    }

    /// Invokes `target` on the members of each of `groups`, the message encoded once for all
    /// of them; a connection in two of the groups receives it twice, as with one call per group.
    /// Returns how many deliveries were queued.
    pub fn send_to_groups<G: AsRef<str>>(
        &self,
        groups: &[G],
        target: &str,
        arguments: Vec<Payload>,
    ) -> usize {
        let message = invocation(target, arguments);
        groups
            .iter()
            .map(|group| self.registry.send_to_group(group.as_ref(), &message))
            .sum()
    }

    /// Invokes `target` on every connection of `user`.
    pub fn send_to_user(&self, user: &str, target: &str, arguments: Vec<Payload>) -> usize {
        self.registry
            .send_to_user(user, &invocation(target, arguments))
    }

    /// Invokes `target` on one connection; `false` if it is not connected.
    pub fn send_to_connection(
        &self,
        connection_id: &ConnectionId,
        target: &str,
        arguments: Vec<Payload>,
    ) -> bool {
        self.registry.send_to_connection(
            connection_id,
            Outbound::Message(invocation(target, arguments)),
        )
    }

    /// Adds a connection to a group; `false` if the connection is unknown.
    pub fn add_to_group(&self, connection_id: &ConnectionId, group: &str) -> bool {
        self.registry.add_to_group(connection_id, group)
    }

    /// Removes a connection from a group; a no-op when it was not a member.
    pub fn remove_from_group(&self, connection_id: &ConnectionId, group: &str) {
        self.registry.remove_from_group(connection_id, group);
    }

    /// Closes a connection with a Close message; `error` is shown to the client, which is
    /// told not to reconnect. `false` if the connection is unknown.
    pub fn close_connection(&self, connection_id: &ConnectionId, error: Option<String>) -> bool {
        self.registry.send_to_connection(
            connection_id,
            Outbound::Close(Box::new(Close {
                error,
                allow_reconnect: false,
            })),
        )
    }

    /// Closes every connection with a Close message: `error` is shown to the clients, and
    /// `allow_reconnect` tells them whether to reconnect (to another node, when the server is
    /// shutting down). Returns how many connections were told.
    pub fn close_all(&self, error: Option<String>, allow_reconnect: bool) -> usize {
        self.registry.close_all(&Close {
            error,
            allow_reconnect,
        })
    }

    /// How many connections are live (handshake done, not yet closed).
    pub fn connection_count(&self) -> usize {
        self.registry.connection_count()
    }

    /// How many groups have at least one member.
    pub fn group_count(&self) -> usize {
        self.registry.group_count()
    }

    /// The groups a connection belongs to, sorted.
    pub fn groups_of(&self, connection_id: &ConnectionId) -> Vec<String> {
        self.registry.groups_of(connection_id)
    }
}
