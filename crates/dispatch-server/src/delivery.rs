//! Delivery: hands the events this node hears on the backplane to its own SignalR clients —
//! each once, in sequence (commit) order, whatever the backplane lost or repeated.
//!
//! Sequence order is commit order within an outbox shard (each relayed by one node), so the
//! node remembers, per shard, the last sequence it delivered. A message at or below its shard's
//! mark is a repeat and is dropped. A message whose `previous` is above it reveals a gap (the
//! subscription was down, or the transport dropped something), filled from the shard's outbox
//! before the message itself. After every (re)subscription, and every two seconds regardless,
//! the node also delivers whatever each shard holds as sent beyond its mark — which covers a
//! lost message that nothing follows. Shards are independent: a shard whose relay died waits
//! for its next holder without holding the others back, and a channel (all of one shard) is
//! delivered in commit order.
//! On shutdown it does so once more, after the relay's last pass, so the node's clients have
//! heard everything sent before they are asked to reconnect elsewhere.

use std::future::Future;
use std::time::Duration;

use dispatch_backplane::{Delivery, Sequenced, Subscription};
use dispatch_store::{OUTBOX_SHARDS, OutboxEvent, Store, StoreError};
use signalr_hub::{HubHandle, Payload};

use crate::telemetry::{self, DeliveryPath};

/// How often the outbox is checked for sent events this node has not heard.
const SWEEP: Duration = Duration::from_secs(2);
/// Events read from the outbox at once.
const PAGE: u32 = 256;

/// Delivers what `subscription` hears to `hub` until `shutdown` resolves, then what the outbox
/// holds as sent and this node has not delivered.
pub async fn run(
    store: Store,
    hub: HubHandle,
    mut subscription: Subscription,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    // Everything sent before this node started is history its clients fetch over HTTP.
    let mut delivered = Vec::with_capacity(usize::from(OUTBOX_SHARDS));
    for shard in 0..OUTBOX_SHARDS {
        let last = loop {
            match store.last_sent_sequence(shard).await {
                Ok(sequence) => break sequence,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the outbox; delivery waits");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = &mut shutdown => return,
                    }
                }
            }
        };
        delivered.push(last);
    }
    let mut node = NodeDelivery {
        store,
        hub,
        delivered,
    };
    // A `Connected` after the first is the subscription coming back.
    let mut subscribed_before = false;
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let outcome = tokio::select! {
            delivery = subscription.recv() => match delivery {
                None => return,
                Some(Delivery::Message(message)) => node.message(message).await,
                Some(Delivery::Connected) => {
                    if subscribed_before {
                        metrics::counter!(telemetry::BACKPLANE_RECONNECTS).increment(1);
                    }
                    subscribed_before = true;
                    node.catch_up_all().await
                }
                Some(Delivery::Disconnected) => Ok(()),
            },
            _ = sweep.tick() => node.catch_up_all().await,
            () = &mut shutdown => {
                if let Err(error) = node.catch_up_all().await {
                    tracing::warn!(%error, "cannot read the outbox before shutting down");
                }
                return;
            }
        };
        if let Err(error) = outcome {
            // Nothing is lost: the mark did not move, the next sweep tries again.
            tracing::warn!(%error, "cannot read the outbox to fill a gap");
        }
    }
}

/// One node's delivery position.
struct NodeDelivery {
    store: Store,
    hub: HubHandle,
    /// The last sequence delivered, per shard.
    delivered: Vec<i64>,
}

impl NodeDelivery {
    async fn message(&mut self, message: Sequenced) -> Result<(), StoreError> {
        let shard = message.shard;
        let Some(&delivered) = self.delivered.get(usize::from(shard)) else {
            tracing::warn!(shard, "ignoring a backplane message of an unknown shard");
            return Ok(());
        };
        if message.sequence <= delivered {
            return Ok(());
        }
        if message.previous > delivered {
            self.catch_up(shard, message.sequence - 1, false).await?;
        }
        match message
            .event
            .and_then(|event| serde_json::from_str::<OutboxEvent>(event.get()).ok())
        {
            Some(event) if event.sequence == message.sequence && event.shard == shard => {
                self.deliver(event, DeliveryPath::Backplane)
            }
            // Too large for the transport (or not readable): the outbox has it.
            _ => self.catch_up(shard, message.sequence, false).await?,
        }
        Ok(())
    }

    /// Delivers what every shard holds as sent beyond its mark.
    async fn catch_up_all(&mut self) -> Result<(), StoreError> {
        for shard in 0..OUTBOX_SHARDS {
            self.catch_up(shard, i64::MAX, true).await?;
        }
        Ok(())
    }

    /// Delivers `shard`'s events after its mark up to `through`, only those marked sent if
    /// `sent_only`.
    async fn catch_up(
        &mut self,
        shard: u16,
        through: i64,
        sent_only: bool,
    ) -> Result<(), StoreError> {
        loop {
            let after = self.delivered[usize::from(shard)];
            let events = self
                .store
                .events_after(shard, after, PAGE, sent_only)
                .await?;
            let full = events.len() == PAGE as usize;
            for event in events {
                if event.sequence > through {
                    return Ok(());
                }
                self.deliver(event, DeliveryPath::Outbox);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Hands `event` to the hub as the bytes its producer encoded (no re-encoding for JSON
    /// clients; MessagePack ones get it transcoded once per send).
    fn deliver(&mut self, event: OutboxEvent, path: DeliveryPath) {
        let (shard, sequence, created_at) = (event.shard, event.sequence, event.created_at);
        match Payload::from_encoded_json(event.payload) {
            Ok(payload) => {
                self.hub
                    .send_to_groups(&event.channels, &event.target, vec![payload]);
                telemetry::event_delivered(created_at, path);
            }
            Err(error) => {
                tracing::error!(%error, sequence, "event payload cannot be sent; dropping it")
            }
        }
        if let Some(mark) = self.delivered.get_mut(usize::from(shard)) {
            *mark = sequence;
        }
    }
}
