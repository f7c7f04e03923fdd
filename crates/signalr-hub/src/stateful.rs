//! Stateful reconnect bookkeeping: what was sent but not yet acknowledged, and what was
//! received, so a connection that loses its WebSocket can resume on a new one without losing
//! or repeating a message.
//!
//! Only "trackable" messages count (Invocation, StreamItem, Completion, StreamInvocation,
//! CancelInvocation); their sequence ids are implicit — 1, 2, 3 … in send order on each side —
//! and never on the wire. Each side acknowledges what it processed with `Ack{n}`; after a
//! reconnect each side first sends `Sequence{first id it will replay}` and then the replay.
//! See `HubProtocol.md`, "Stateful Reconnect".

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use signalr_protocol::HubMessage;

/// Whether a message gets a sequence id and is kept for replay.
pub(crate) fn is_trackable(message: &HubMessage) -> bool {
    matches!(
        message,
        HubMessage::Invocation(_)
            | HubMessage::StreamItem(_)
            | HubMessage::Completion(_)
            | HubMessage::StreamInvocation(_)
            | HubMessage::CancelInvocation(_)
    )
}

/// Sent messages the client has not acknowledged yet, in order.
#[derive(Debug)]
pub(crate) struct ReplayBuffer {
    /// The id the next trackable message will get.
    next_id: u64,
    entries: VecDeque<(u64, Bytes)>,
    bytes: usize,
    limit: usize,
    /// Bytes held by every connection's buffer together, for the hub-wide cap.
    global: Arc<AtomicUsize>,
}

impl ReplayBuffer {
    pub(crate) fn new(limit: usize, global: Arc<AtomicUsize>) -> Self {
        Self {
            next_id: 1,
            entries: VecDeque::new(),
            bytes: 0,
            limit,
            global,
        }
    }

    /// Keeps an encoded trackable message until it is acknowledged.
    pub(crate) fn record(&mut self, encoded: Bytes) {
        self.bytes += encoded.len();
        self.global.fetch_add(encoded.len(), Ordering::Relaxed);
        self.entries.push_back((self.next_id, encoded));
        self.next_id += 1;
    }

    /// Forgets every message up to and including `id`.
    pub(crate) fn acknowledge(&mut self, id: u64) {
        while let Some((first, encoded)) = self.entries.front() {
            if *first > id {
                break;
            }
            self.bytes -= encoded.len();
            self.global.fetch_sub(encoded.len(), Ordering::Relaxed);
            self.entries.pop_front();
        }
    }

    /// Whether sending should pause until acknowledgements free room (backpressure).
    pub(crate) fn is_full(&self) -> bool {
        self.bytes >= self.limit
    }

    /// The id the replay starts at (what `Sequence` announces) and the messages to replay.
    pub(crate) fn replay(&self) -> (u64, impl Iterator<Item = &Bytes>) {
        let first = self.entries.front().map_or(self.next_id, |(id, _)| *id);
        (first, self.entries.iter().map(|(_, encoded)| encoded))
    }
}

impl Drop for ReplayBuffer {
    fn drop(&mut self) {
        self.global.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// What the peer sent: which id comes next and which was processed last.
#[derive(Debug)]
pub(crate) struct ReceiveTracker {
    next: u64,
    processed: u64,
    acknowledged: u64,
}

/// A `Sequence` that announces messages we never received: the peer's state is corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Sequence ID greater than amount of messages we've received.")]
pub(crate) struct SequenceGap;

impl ReceiveTracker {
    pub(crate) fn new() -> Self {
        Self {
            next: 1,
            processed: 0,
            acknowledged: 0,
        }
    }

    /// The peer restarts its numbering at `id` (after a reconnect).
    pub(crate) fn restart_at(&mut self, id: u64) -> Result<(), SequenceGap> {
        if id > self.processed + 1 {
            return Err(SequenceGap);
        }
        self.next = id;
        Ok(())
    }

    /// Numbers an arriving trackable message; `false` if it was already processed.
    pub(crate) fn accept(&mut self) -> bool {
        let id = self.next;
        self.next += 1;
        if id <= self.processed {
            return false;
        }
        self.processed = id;
        true
    }

    /// The id to acknowledge, if anything new was processed since the last Ack.
    pub(crate) fn ack_due(&mut self) -> Option<u64> {
        (self.processed > self.acknowledged).then(|| {
            self.acknowledged = self.processed;
            self.processed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(limit: usize) -> (ReplayBuffer, Arc<AtomicUsize>) {
        let global = Arc::new(AtomicUsize::new(0));
        (ReplayBuffer::new(limit, Arc::clone(&global)), global)
    }

    #[test]
    fn acknowledged_messages_leave_the_buffer_and_the_global_count() {
        let (mut replay, global) = buffer(10);
        replay.record(Bytes::from_static(b"aaaa"));
        replay.record(Bytes::from_static(b"bbbb"));
        replay.record(Bytes::from_static(b"cc"));
        assert!(replay.is_full());
        assert_eq!(global.load(Ordering::Relaxed), 10);
        replay.acknowledge(2);
        assert!(!replay.is_full());
        let (first, rest) = replay.replay();
        assert_eq!(first, 3);
        assert_eq!(
            rest.cloned().collect::<Vec<_>>(),
            vec![Bytes::from_static(b"cc")]
        );
        drop(replay);
        assert_eq!(global.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_empty_buffer_announces_the_next_id() {
        let (mut replay, _) = buffer(10);
        replay.record(Bytes::from_static(b"x"));
        replay.acknowledge(1);
        assert_eq!(replay.replay().0, 2);
    }

    #[test]
    fn replayed_duplicates_are_dropped_and_gaps_refused() {
        let mut received = ReceiveTracker::new();
        assert!(received.accept());
        assert!(received.accept());
        assert_eq!(received.ack_due(), Some(2));
        assert_eq!(received.ack_due(), None);
        // The peer missed our Ack and replays from 2: message 2 is a duplicate, 3 is new.
        received.restart_at(2).expect("restart");
        assert!(!received.accept());
        assert!(received.accept());
        assert_eq!(received.restart_at(9), Err(SequenceGap));
    }
}
