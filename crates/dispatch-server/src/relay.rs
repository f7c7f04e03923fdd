//! The outbox relay: sends committed events to the hub, then marks them sent.
//!
//! Events are written to the outbox in the transaction of the change they report, so an event
//! exists if and only if its change committed. The relay runs after every such commit (rung by
//! the writer) and once a second regardless, and at start-up it sends whatever a crashed process
//! committed but never sent. Delivery is at least once: a crash between sending and marking
//! sends that batch again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dispatch_store::Store;
use signalr_hub::{HubHandle, Payload};
use tokio::sync::Notify;

/// How many events one pass sends at most.
const BATCH: u32 = 256;

/// Sends pending events until `shutdown` resolves.
///
/// Events still pending at start-up were committed by an earlier run that died before sending
/// them; their subscribers are reconnecting right now (the official clients retry at once, then
/// after 2 s). Waiting `start_delay` before that first pass lets them be there to hear it.
pub async fn run(
    store: Store,
    hub: HubHandle,
    ring: Arc<Notify>,
    start_delay: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    match store.pending_events(1).await {
        Ok(backlog) if !backlog.is_empty() && !start_delay.is_zero() => {
            tracing::info!(
                ?start_delay,
                "events from an earlier run are pending; sending them shortly"
            );
            tokio::select! {
                () = tokio::time::sleep(start_delay) => {}
                () = &mut shutdown => return,
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "cannot read the outbox at start-up"),
    }
    loop {
        match relay_once(&store, &hub).await {
            // A full batch means there may be more: go again at once.
            Ok(sent) if sent == BATCH as usize => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "outbox relay pass failed; retrying"),
        }
        tokio::select! {
            () = ring.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = &mut shutdown => return,
        }
    }
}

/// Sends one batch of pending events; returns how many were sent.
pub async fn relay_once(
    store: &Store,
    hub: &HubHandle,
) -> Result<usize, dispatch_store::StoreError> {
    let events = store.pending_events(BATCH).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let mut sent = Vec::with_capacity(events.len());
    for event in &events {
        match Payload::from_serialize(&event.payload) {
            Ok(payload) => {
                for channel in &event.channels {
                    hub.send_to_group(channel, &event.target, vec![payload.clone()]);
                }
            }
            Err(error) => {
                tracing::error!(%error, sequence = event.sequence, "event payload cannot be sent; dropping it")
            }
        }
        sent.push(event.sequence);
    }
    metrics::counter!("dispatch_events_sent_total").increment(sent.len() as u64);
    store.mark_events_sent(&sent).await?;
    Ok(sent.len())
}
