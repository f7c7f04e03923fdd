//! What other tasks hand a connection's task to write: the queue item, the shared encoded
//! message, and the sending side of the queue.
//!
//! These are the only types the registry, the handle, hub methods and the connection task all
//! need, so they live here, below all of them, rather than in any one of them.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use signalr_protocol::{Close, HubMessage, HubProtocol};
use tokio::sync::{Notify, mpsc};

/// A hub message shared by every connection it is sent to, encoded at most once per protocol.
#[derive(Debug)]
pub(crate) struct SharedMessage {
    message: HubMessage,
    json: OnceLock<Option<Bytes>>,
    message_pack: OnceLock<Option<Bytes>>,
}

impl SharedMessage {
    /// The message itself.
    pub(crate) fn message(&self) -> &HubMessage {
        &self.message
    }

    pub(crate) fn new(message: HubMessage) -> Arc<Self> {
        Arc::new(Self {
            message,
            json: OnceLock::new(),
            message_pack: OnceLock::new(),
        })
    }

    /// The framed bytes for `protocol`; `None` if the message cannot be encoded in it.
    pub(crate) fn encoded(&self, protocol: HubProtocol) -> Option<&Bytes> {
        let cell = match protocol {
            HubProtocol::Json => &self.json,
            HubProtocol::MessagePack => &self.message_pack,
        };
        cell.get_or_init(|| {
            let mut out = Vec::new();
            match protocol.encode(&self.message, &mut out) {
                Ok(()) => Some(Bytes::from(out)),
                Err(error) => {
                    tracing::warn!(%error, protocol = protocol.name(), "cannot encode hub message");
                    None
                }
            }
        })
        .as_ref()
    }
}

/// What other tasks ask a connection's task to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Write this message.
    Message(Arc<SharedMessage>),
    /// Write this Close message, then end the connection. Boxed: it is rare, and keeping the
    /// enum small keeps every connection's queue small.
    Close(Box<Close>),
}

/// The sending side of a connection's bounded queue, plus the bell that wakes it to abort.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionSender {
    pub(crate) queue_tx: mpsc::Sender<Outbound>,
    pub(crate) abort: Arc<Notify>,
}

impl ConnectionSender {
    /// Queues without waiting; a full queue means the client cannot keep up, so it is aborted.
    // Inlined into the registry's fan-out loops, where it runs once per recipient.
    #[inline]
    pub(crate) fn deliver(&self, item: Outbound) -> bool {
        match self.queue_tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.abort.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}
