//! The registry of live connections, their groups and users (the "lifetime manager").
//!
//! One `std` lock guards three maps that index each other both ways: connection → its entry
//! (queue, user, groups), group → members, user → connections. A disconnect walks only the
//! connection's own groups, so it costs the same whether the hub has 10 groups or 100,000.
//! No `.await` happens under the lock: deliveries use `try_send` on each connection's bounded
//! queue, and a queue that is full marks its connection as too slow and wakes it to close.
//!
//! Connection tokens are not kept here: which negotiated tokens exist and which transport
//! holds them is the HTTP layer's business (the `negotiation` module). The registry knows a
//! connection only from its handshake on, by its public id.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use signalr_protocol::Close;

use crate::ids::{ConnectionId, UserId};
use crate::outbound::{ConnectionSender, Outbound, SharedMessage};

#[derive(Debug)]
struct Entry {
    sender: ConnectionSender,
    user: Option<UserId>,
    groups: HashSet<Arc<str>>,
}

#[derive(Debug, Default)]
struct Index {
    connections: HashMap<ConnectionId, Entry>,
    groups: HashMap<Arc<str>, HashSet<ConnectionId>>,
    users: HashMap<UserId, HashSet<ConnectionId>>,
}

/// Every live connection of one hub, indexed by id, group and user.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    index: RwLock<Index>,
}

impl Registry {
    // A panic while holding the lock leaves the maps consistent (every mutation is a single
    // insert/remove), so a poisoned lock is still safe to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection whose handshake succeeded. Dropping the guard removes it again.
    pub(crate) fn register(
        self: &Arc<Self>,
        connection_id: ConnectionId,
        user: Option<UserId>,
        sender: ConnectionSender,
    ) -> ConnectionGuard {
        let mut index = self.write();
        if let Some(user) = &user {
            index
                .users
                .entry(user.clone())
                .or_default()
                .insert(connection_id.clone());
        }
        index.connections.insert(
            connection_id.clone(),
            Entry {
                sender,
                user,
                groups: HashSet::new(),
            },
        );
        ConnectionGuard {
            registry: Arc::clone(self),
            connection_id,
        }
    }

    fn unregister(&self, connection_id: &ConnectionId) {
        let mut index = self.write();
        let Some(entry) = index.connections.remove(connection_id) else {
            return;
        };
        for group in entry.groups {
            if let Some(members) = index.groups.get_mut(&group) {
                members.remove(connection_id);
                if members.is_empty() {
                    index.groups.remove(&group);
                }
            }
        }
        if let Some(user) = entry.user
            && let Some(connections) = index.users.get_mut(&user)
        {
            connections.remove(connection_id);
            if connections.is_empty() {
                index.users.remove(&user);
            }
        }
    }

    /// Adds a connection to a group; `false` if the connection is unknown.
    pub(crate) fn add_to_group(&self, connection_id: &ConnectionId, group: &str) -> bool {
        let mut index = self.write();
        let Index {
            connections,
            groups,
            ..
        } = &mut *index;
        let Some(entry) = connections.get_mut(connection_id) else {
            return false;
        };
        let name: Arc<str> = match groups.get_key_value(group) {
            Some((name, _)) => Arc::clone(name),
            None => group.into(),
        };
        entry.groups.insert(Arc::clone(&name));
        groups
            .entry(name)
            .or_default()
            .insert(connection_id.clone());
        true
    }

    /// Removes a connection from a group; a no-op when it was not a member.
    pub(crate) fn remove_from_group(&self, connection_id: &ConnectionId, group: &str) {
        let mut index = self.write();
        if let Some(entry) = index.connections.get_mut(connection_id) {
            entry.groups.remove(group);
        }
        if let Some(members) = index.groups.get_mut(group) {
            members.remove(connection_id);
            if members.is_empty() {
                index.groups.remove(group);
            }
        }
    }

    /// Queues `item` for one connection; `true` if it was queued.
    pub(crate) fn send_to_connection(&self, connection_id: &ConnectionId, item: Outbound) -> bool {
        let index = self.read();
        index
            .connections
            .get(connection_id)
            .is_some_and(|entry| entry.sender.deliver(item))
    }

    /// Queues a message for every member of `group`; returns how many queued it.
    pub(crate) fn send_to_group(&self, group: &str, message: &Arc<SharedMessage>) -> usize {
        let index = self.read();
        index
            .groups
            .get(group)
            .map_or(0, |members| deliver_all(&index, members, message))
    }

    /// Queues a message for every connection of `user`; returns how many queued it.
    pub(crate) fn send_to_user(&self, user: &str, message: &Arc<SharedMessage>) -> usize {
        let index = self.read();
        index
            .users
            .get(user)
            .map_or(0, |connections| deliver_all(&index, connections, message))
    }

    /// Queues a message for every connection; returns how many queued it.
    pub(crate) fn send_to_all(&self, message: &Arc<SharedMessage>) -> usize {
        let index = self.read();
        index
            .connections
            .values()
            .filter(|entry| entry.sender.deliver(Outbound::Message(Arc::clone(message))))
            .count()
    }

    /// Queues `close` for every connection (each then ends); returns how many queued it.
    pub(crate) fn close_all(&self, close: &Close) -> usize {
        let index = self.read();
        index
            .connections
            .values()
            .filter(|entry| {
                entry
                    .sender
                    .deliver(Outbound::Close(Box::new(close.clone())))
            })
            .count()
    }

    /// How many connections are live.
    pub(crate) fn connection_count(&self) -> usize {
        self.read().connections.len()
    }

    /// How many groups have at least one member.
    pub(crate) fn group_count(&self) -> usize {
        self.read().groups.len()
    }

    /// The groups a connection is in (for tests and diagnostics).
    pub(crate) fn groups_of(&self, connection_id: &ConnectionId) -> Vec<String> {
        let index = self.read();
        let mut groups: Vec<String> = index
            .connections
            .get(connection_id)
            .map(|entry| entry.groups.iter().map(|g| g.to_string()).collect())
            .unwrap_or_default();
        groups.sort();
        groups
    }
}

fn deliver_all(
    index: &Index,
    members: &HashSet<ConnectionId>,
    message: &Arc<SharedMessage>,
) -> usize {
    members
        .iter()
        .filter_map(|id| index.connections.get(id))
        .filter(|entry| entry.sender.deliver(Outbound::Message(Arc::clone(message))))
        .count()
}

/// Keeps a connection registered; dropping it removes the connection and its group
/// memberships, whatever way the connection ended.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    registry: Arc<Registry>,
    connection_id: ConnectionId,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.registry.unregister(&self.connection_id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use signalr_protocol::HubMessage;
    use tokio::sync::{Notify, mpsc};

    use super::*;

    fn sender(capacity: usize) -> (ConnectionSender, mpsc::Receiver<Outbound>) {
        let (queue_tx, queue_rx) = mpsc::channel(capacity);
        (
            ConnectionSender {
                queue_tx,
                abort: Arc::new(Notify::new()),
            },
            queue_rx,
        )
    }

    fn ping() -> Arc<SharedMessage> {
        SharedMessage::new(HubMessage::Ping)
    }

    #[test]
    fn group_membership_is_indexed_both_ways_and_dropped_on_disconnect() {
        let registry = Arc::new(Registry::default());
        let (tx, mut rx) = sender(8);
        let id = ConnectionId::from("a");
        let guard = registry.register(id.clone(), Some(UserId::from("ana")), tx);
        assert!(registry.add_to_group(&id, "g1"));
        assert!(registry.add_to_group(&id, "g1"));
        assert!(registry.add_to_group(&id, "G1"));
        assert_eq!(registry.groups_of(&id), ["G1", "g1"]);
        assert_eq!(registry.send_to_group("g1", &ping()), 1);
        assert_eq!(registry.send_to_user("ana", &ping()), 1);
        assert!(rx.try_recv().is_ok());
        drop(guard);
        assert_eq!(registry.connection_count(), 0);
        assert_eq!(registry.group_count(), 0);
        assert_eq!(registry.send_to_group("g1", &ping()), 0);
        assert_eq!(registry.send_to_user("ana", &ping()), 0);
    }

    #[test]
    fn remove_from_group_is_idempotent() {
        let registry = Arc::new(Registry::default());
        let (tx, _rx) = sender(8);
        let id = ConnectionId::from("a");
        let _guard = registry.register(id.clone(), None, tx);
        registry.remove_from_group(&id, "never");
        registry.add_to_group(&id, "g");
        registry.remove_from_group(&id, "g");
        registry.remove_from_group(&id, "g");
        assert_eq!(registry.group_count(), 0);
        assert!(!registry.add_to_group(&ConnectionId::from("ghost"), "g"));
    }

    #[test]
    fn full_queue_rings_the_abort_bell() {
        let registry = Arc::new(Registry::default());
        let (tx, _rx) = sender(1);
        let abort = Arc::clone(&tx.abort);
        let id = ConnectionId::from("slow");
        let _guard = registry.register(id.clone(), None, tx);
        registry.add_to_group(&id, "g");
        assert_eq!(registry.send_to_group("g", &ping()), 1);
        assert_eq!(registry.send_to_group("g", &ping()), 0);
        let rang = abort.notified();
        tokio_test_poll_ready(rang);
    }

    // `Notify` keeps one permit when nobody waits, so a later `notified()` completes at once.
    fn tokio_test_poll_ready(fut: tokio::sync::futures::Notified<'_>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), fut)
                .await
                .expect("abort was signalled");
        });
    }
}
