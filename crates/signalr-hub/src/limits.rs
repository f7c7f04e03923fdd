//! Per-user caps: how many connections one user may hold at once
//! ([`HubOptions::max_connections_per_user`](crate::HubOptions::max_connections_per_user)).
//!
//! A [`UserSlot`] is taken at the transport request, before the socket is upgraded or the
//! HTTP transport starts, and travels with the connection task: the count goes down when the
//! connection ends however it ends (a Drop guard, no "remember to call remove"). Anonymous
//! connections have no user and are not counted here. The bound on negotiations waiting for
//! their transport lives with the token table (`negotiation`), which owns those entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::ids::UserId;

/// Live connections per user, with a cap.
#[derive(Debug)]
pub(crate) struct UserConnections {
    cap: Option<usize>,
    counts: Mutex<HashMap<UserId, usize>>,
}

/// One user's connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct UserSlot {
    owner: Arc<UserConnections>,
    user: UserId,
}

impl UserConnections {
    /// A counter refusing the `cap + 1`-th connection of a user (`None`: never refuses).
    pub(crate) fn new(cap: Option<usize>) -> Arc<Self> {
        Arc::new(Self {
            cap,
            counts: Mutex::new(HashMap::new()),
        })
    }

    // Every mutation is one insert/update/remove: a poisoned lock is still consistent.
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more connection of `user`, or `None` when the user is at the cap. Without a
    /// user (anonymous) or a cap nothing is counted and the answer is `Some(None)`.
    pub(crate) fn acquire(self: &Arc<Self>, user: Option<&UserId>) -> Option<Option<UserSlot>> {
        let (Some(cap), Some(user)) = (self.cap, user) else {
            return Some(None);
        };
        let mut counts = self.counts();
        let count = counts.entry(user.clone()).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Some(UserSlot {
            owner: Arc::clone(self),
            user: user.clone(),
        }))
    }

    /// How many connections `user` holds now.
    #[cfg(test)]
    pub(crate) fn count(&self, user: &UserId) -> usize {
        self.counts().get(user).copied().unwrap_or(0)
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts();
        if let Some(count) = counts.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_cap_and_slots_free_on_drop() {
        let limits = UserConnections::new(Some(2));
        let ana = UserId::from("ana");
        let first = limits.acquire(Some(&ana)).expect("under the cap");
        let second = limits.acquire(Some(&ana)).expect("at the cap");
        assert!(limits.acquire(Some(&ana)).is_none(), "over the cap");
        assert!(
            limits.acquire(Some(&UserId::from("bo"))).is_some(),
            "others are not affected"
        );
        drop(first);
        assert_eq!(limits.count(&ana), 1);
        assert!(limits.acquire(Some(&ana)).is_some());
        drop(second);
        assert!(limits.acquire(None).is_some_and(|slot| slot.is_none()));
        let unlimited = UserConnections::new(None);
        assert!(
            unlimited
                .acquire(Some(&ana))
                .is_some_and(|slot| slot.is_none())
        );
    }
}
