//! Carries the outbox's events between Dispatch nodes.
//!
//! The outbox is relayed by shard: for each shard, one node at a time — the holder of its
//! lease — publishes its committed events in sequence order; every node subscribes and hands
//! what it hears to its own SignalR clients. Three transports,
//! chosen by `DISPATCH_BACKPLANE_URL`:
//!
//! * none: [`Backplane::in_process`], a channel inside the process (one node);
//! * `redis://…`: Redis pub/sub;
//! * `postgres://…`: PostgreSQL `LISTEN/NOTIFY` (no extra infrastructure). A NOTIFY payload
//!   must stay under 8,000 bytes, so a larger event is published as its sequence alone and
//!   subscribers read it from the store.
//!
//! Every deployment needs a channel of its own: Redis pub/sub channels are global to the server
//! (database numbers do not separate them), so two deployments sharing a Redis must not hear
//! each other's sequences. The caller names it ([`Backplane::connect`]).
//!
//! # Why subscribers also read the store
//!
//! Pub/sub is fire-and-forget: what is published while a subscriber is disconnected is lost for
//! it. So the channel is the fast path and the outbox the truth. Every [`Sequenced`] message
//! carries its shard and the sequence of the event of that shard published before it
//! ([`Sequenced::previous`]): a subscriber that has not delivered `previous` of that shard knows
//! it missed something and reads the gap from the store.
//! After every (re)subscription it hears [`Delivery::Connected`] and catches up the same way.
//! Messages published twice (a new leader re-sends what the old one published but had not yet
//! marked sent) are dropped by sequence. Together: every event reaches every node once, in
//! sequence order within its shard — which is commit order, and so per-channel order (see
//! dispatch-store's outbox).
//!
//! The channel also carries rings ([`Backplane::ring`]): a node that commits events of shards it
//! does not relay tells their relays to look now, instead of at their next poll. A ring names
//! its shards as a bit set; rings never reach the [`Subscription`]: the relay waits for them
//! with [`Backplane::rung`].
//!
//! # Health
//!
//! [`Backplane::health`] is up while the subscription is connected and the last publish, if
//! any, succeeded. A node whose backplane is down keeps serving writes; its events wait in the
//! outbox and go out when the backplane returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{Mutex, Notify, mpsc};

/// Largest NOTIFY payload we send whole (PostgreSQL refuses 8,000 bytes and more).
const PG_PAYLOAD_LIMIT: usize = 7_900;
/// How long one publish or connection attempt may take before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle subscription proves its connection is alive.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Deliveries waiting for the node to take them.
const SUBSCRIPTION_CAPACITY: usize = 4_096;

/// One event as it travels between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sequenced {
    /// The event's outbox shard (0 from a node that predates shards).
    #[serde(default)]
    pub shard: u16,
    /// The event's outbox sequence.
    pub sequence: i64,
    /// The sequence of the event of the same shard the publisher sent before this one (0 for
    /// none): a subscriber that has not delivered it has a gap to fill from the store.
    pub previous: i64,
    /// The event itself, as the publisher encoded it (carried without being parsed); absent
    /// when it was too large for the transport (read it from the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Box<RawValue>>,
}

// By hand: `RawValue` has no `PartialEq`; the same text is the same event.
impl PartialEq for Sequenced {
    fn eq(&self, other: &Self) -> bool {
        self.shard == other.shard
            && self.sequence == other.sequence
            && self.previous == other.previous
            && self.event.as_ref().map(|raw| raw.get()) == other.event.as_ref().map(|raw| raw.get())
    }
}

/// The wire form of [`Backplane::ring`], followed by `:` and the shards' bit set in decimal:
/// not JSON, so never mistaken for an event. Alone (from a node that predates shards) it rings
/// every shard.
const RING: &[u8] = b"ring";

/// What a subscription hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Subscribed (again): whatever was published meanwhile was missed; catch up from the store.
    Connected,
    /// An event.
    Message(Sequenced),
    /// The subscription's connection was lost; reconnection is under way.
    Disconnected,
}

/// Which transport a backplane uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackplaneKind {
    /// Inside this process only.
    InProcess,
    /// Redis pub/sub.
    Redis,
    /// PostgreSQL `LISTEN/NOTIFY`.
    Postgres,
}

/// Whether the backplane works right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BackplaneHealth {
    /// The transport.
    pub kind: BackplaneKind,
    /// Subscribed, and the last publish (if any) succeeded.
    pub up: bool,
}

/// Why the backplane could not be set up or could not publish.
#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    /// The URL names no transport this build has.
    #[error(
        "unsupported backplane URL scheme `{0}`: use redis://… or postgres://… (or unset it for one node)"
    )]
    UnsupportedScheme(String),
    /// The URL cannot be parsed.
    #[error("invalid backplane URL: {0}")]
    InvalidUrl(String),
    /// The channel name is empty, too long, or has characters outside `[A-Za-z0-9_.:-]`.
    #[error("invalid backplane channel `{0}`: 1 to 63 of A-Z a-z 0-9 _ . : -")]
    InvalidChannel(String),
    /// Redis refused or failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// PostgreSQL refused or failed.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// The transport did not answer in time.
    #[error("the backplane did not answer within {0:?}")]
    Timeout(Duration),
    /// The in-process subscriber is gone (the node is shutting down).
    #[error("the subscriber has stopped")]
    Closed,
    /// A message could not be encoded.
    #[error("cannot encode the message: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The receiving end: everything published, by any node, reaches here.
pub struct Subscription {
    deliveries: mpsc::Receiver<Delivery>,
}

impl Subscription {
    /// The next delivery; `None` once the backplane is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }
}

/// The publishing end, cheap to clone. Dropping the [`Subscription`] stops the subscriber task.
#[derive(Clone)]
pub struct Backplane {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    channel: String,
    subscribed: Arc<AtomicBool>,
    publish_failing: AtomicBool,
    /// Notified when any node rings ([`Backplane::rung`]).
    rung: Arc<Rings>,
}

/// Rings heard and not yet taken: the union of their shard bit sets, and a wake-up.
#[derive(Debug, Default)]
struct Rings {
    shards: AtomicU64,
    notify: Notify,
}

impl Rings {
    /// Adds `shards` to what waits and wakes the waiter (or the next one).
    fn ring(&self, shards: u64) {
        if shards != 0 {
            self.shards.fetch_or(shards, Ordering::AcqRel);
            self.notify.notify_one();
        }
    }

    /// Waits until some shard was rung, and takes them all.
    async fn rung(&self) -> u64 {
        loop {
            let shards = self.shards.swap(0, Ordering::AcqRel);
            if shards != 0 {
                return shards;
            }
            self.notify.notified().await;
        }
    }
}

/// What a subscriber task hands on: events and connection changes to the [`Subscription`],
/// rings to [`Backplane::rung`].
struct Subscriber {
    sender: mpsc::Sender<Delivery>,
    subscribed: Arc<AtomicBool>,
    rung: Arc<Rings>,
}

/// The [`Subscription`] was dropped: the subscriber task ends.
struct Unsubscribed;

impl Subscriber {
    async fn deliver(&self, delivery: Delivery) -> Result<(), Unsubscribed> {
        self.sender.send(delivery).await.map_err(|_| Unsubscribed)
    }

    /// Hands on one message off the wire.
    async fn hear(&self, body: &[u8]) -> Result<(), Unsubscribed> {
        match decode(body) {
            Some(Wire::Ring(shards)) => {
                self.rung.ring(shards);
                Ok(())
            }
            Some(Wire::Message(message)) => self.deliver(Delivery::Message(message)).await,
            None => Ok(()),
        }
    }
}

enum Transport {
    InProcess(mpsc::Sender<Delivery>),
    Redis(Box<RedisPublisher>),
    Postgres(sqlx::PgPool),
}

struct RedisPublisher {
    client: redis::Client,
    /// The open connection, if any: one publisher at a time keeps the order.
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl Backplane {
    /// A backplane inside this process: what is published is delivered here only.
    pub fn in_process() -> (Backplane, Subscription) {
        let (sender, deliveries) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        let subscribed = Arc::new(AtomicBool::new(true));
        let backplane = Backplane::new(
            Transport::InProcess(sender.clone()),
            "",
            subscribed,
            Arc::default(),
        );
        // Nothing can be missed before this: the same channel carries everything.
        let _ = sender.try_send(Delivery::Connected);
        (backplane, Subscription { deliveries })
    }

    /// The backplane named by `url`, carrying events on `channel`, its subscriber running in
    /// the background.
    ///
    /// Only the URL and channel are checked here: an unreachable server is not an error, the
    /// node starts with the backplane down and connects when it can.
    pub fn connect(url: &str, channel: &str) -> Result<(Backplane, Subscription), BackplaneError> {
        let valid = (1..=63).contains(&channel.len())
            && channel
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
        if !valid {
            return Err(BackplaneError::InvalidChannel(channel.to_owned()));
        }
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .ok_or_else(|| BackplaneError::InvalidUrl("expected scheme://…".into()))?;
        let (sender, deliveries) = mpsc::channel(SUBSCRIPTION_CAPACITY);
        let subscribed = Arc::new(AtomicBool::new(false));
        let rung = Arc::new(Rings::default());
        let subscriber = Subscriber {
            sender,
            subscribed: Arc::clone(&subscribed),
            rung: Arc::clone(&rung),
        };
        let transport = match scheme.as_str() {
            "redis" => {
                let client = redis::Client::open(url)
                    .map_err(|error| BackplaneError::InvalidUrl(error.to_string()))?;
                tokio::spawn(keep_subscribed(
                    Source::Redis(client.clone()),
                    channel.to_owned(),
                    subscriber,
                ));
                Transport::Redis(Box::new(RedisPublisher {
                    client,
                    connection: Mutex::new(None),
                }))
            }
            "postgres" | "postgresql" => {
                let options: sqlx::postgres::PgConnectOptions = url
                    .parse()
                    .map_err(|error: sqlx::Error| BackplaneError::InvalidUrl(error.to_string()))?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(IO_TIMEOUT)
                    .connect_lazy_with(options);
                tokio::spawn(keep_subscribed(
                    Source::Postgres(pool.clone()),
                    channel.to_owned(),
                    subscriber,
                ));
                Transport::Postgres(pool)
            }
            other => return Err(BackplaneError::UnsupportedScheme(other.to_owned())),
        };
        Ok((
            Backplane::new(transport, channel, subscribed, rung),
            Subscription { deliveries },
        ))
    }

    fn new(
        transport: Transport,
        channel: &str,
        subscribed: Arc<AtomicBool>,
        rung: Arc<Rings>,
    ) -> Backplane {
        Backplane {
            inner: Arc::new(Inner {
                transport,
                channel: channel.to_owned(),
                subscribed,
                publish_failing: AtomicBool::new(false),
                rung,
            }),
        }
    }

    /// The transport and whether it works right now.
    pub fn health(&self) -> BackplaneHealth {
        let kind = match self.inner.transport {
            Transport::InProcess(_) => BackplaneKind::InProcess,
            Transport::Redis(_) => BackplaneKind::Redis,
            Transport::Postgres(_) => BackplaneKind::Postgres,
        };
        BackplaneHealth {
            kind,
            up: self.inner.subscribed.load(Ordering::Relaxed)
                && !self.inner.publish_failing.load(Ordering::Relaxed),
        }
    }

    /// Sends `message` to every node's subscription (this one's included).
    ///
    /// `Ok` means the transport accepted it; an error means it may not have gone out, and the
    /// caller keeps the event to publish it again later.
    pub async fn publish(&self, message: &Sequenced) -> Result<(), BackplaneError> {
        let mut body = serde_json::to_string(message)?;
        if matches!(self.inner.transport, Transport::Postgres(_)) && body.len() > PG_PAYLOAD_LIMIT {
            body = serde_json::to_string(&Sequenced {
                event: None,
                ..message.clone()
            })?;
        }
        let outcome = self.send(Some(message.clone()), body).await;
        self.inner
            .publish_failing
            .store(outcome.is_err(), Ordering::Relaxed);
        outcome
    }

    /// Tells every node that events of `shards` (a bit set: bit `n` is shard `n`) were
    /// committed ([`Backplane::rung`] resolves on each), so their relays hear of a commit made
    /// on another node at once rather than at their next poll. Best effort: a failed ring does
    /// not count against [`Backplane::health`] (the relay's poll covers it, and nothing would
    /// clear the mark on a node that never publishes).
    pub async fn ring(&self, shards: u64) -> Result<(), BackplaneError> {
        if let Transport::InProcess(_) = self.inner.transport {
            self.inner.rung.ring(shards);
            return Ok(());
        }
        let body = format!("{}:{shards}", String::from_utf8_lossy(RING));
        self.send(None, body).await
    }

    /// Resolves when some node (this one included) has rung since the last call resolved, with
    /// the shards rung meanwhile (a bit set; rings in between coalesce into one).
    pub async fn rung(&self) -> u64 {
        self.inner.rung.rung().await
    }

    /// Sends `message` (in process) or its wire form `body`.
    async fn send(&self, message: Option<Sequenced>, body: String) -> Result<(), BackplaneError> {
        match &self.inner.transport {
            Transport::InProcess(sender) => match message {
                Some(message) => sender
                    .send(Delivery::Message(message))
                    .await
                    .map_err(|_| BackplaneError::Closed),
                None => Ok(()),
            },
            Transport::Redis(publisher) => publisher.publish(&self.inner.channel, &body).await,
            Transport::Postgres(pool) => with_timeout(
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(&self.inner.channel)
                    .bind(body)
                    .execute(pool),
            )
            .await
            .map(drop),
        }
    }
}

async fn with_timeout<T, E>(future: impl Future<Output = Result<T, E>>) -> Result<T, BackplaneError>
where
    BackplaneError: From<E>,
{
    match tokio::time::timeout(IO_TIMEOUT, future).await {
        Ok(outcome) => outcome.map_err(BackplaneError::from),
        Err(_) => Err(BackplaneError::Timeout(IO_TIMEOUT)),
    }
}

impl RedisPublisher {
    async fn publish(&self, channel: &str, body: &str) -> Result<(), BackplaneError> {
        // The lock is held across the round trip, so messages leave in the order published.
        let mut slot = self.connection.lock().await;
        let mut open = match slot.take() {
            Some(open) => open,
            None => with_timeout(self.client.get_multiplexed_async_connection()).await?,
        };
        with_timeout(
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(body)
                .query_async::<i64>(&mut open),
        )
        .await?;
        // Kept only after a success: a failed connection is dropped, the next publish reconnects.
        *slot = Some(open);
        Ok(())
    }
}

/// Doubles the wait between reconnection attempts up to [`MAX_BACKOFF`].
fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(MAX_BACKOFF)
}

/// Where a subscription listens.
enum Source {
    Redis(redis::Client),
    Postgres(sqlx::PgPool),
}

impl Source {
    fn name(&self) -> &'static str {
        match self {
            Source::Redis(_) => "redis",
            Source::Postgres(_) => "postgres",
        }
    }
}

/// Keeps a subscription open, reconnecting with backoff, until the [`Subscription`] is dropped.
async fn keep_subscribed(source: Source, channel: String, subscriber: Subscriber) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let session = match &source {
            Source::Redis(client) => redis_session(client, &channel, &subscriber).await,
            Source::Postgres(pool) => postgres_session(pool, &channel, &subscriber).await,
        };
        let Err(error) = session else { return };
        let transport = source.name();
        if subscriber.subscribed.swap(false, Ordering::Relaxed) {
            tracing::warn!(%error, transport, "backplane subscription lost; reconnecting");
            if subscriber.deliver(Delivery::Disconnected).await.is_err() {
                return;
            }
            backoff = Duration::from_millis(100);
        } else {
            tracing::debug!(%error, transport, "backplane not reachable yet");
        }
        tokio::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

/// One subscription's life: `Ok` when the node is done with it, `Err` when the connection failed.
async fn redis_session(
    client: &redis::Client,
    channel: &str,
    subscriber: &Subscriber,
) -> Result<(), BackplaneError> {
    let pubsub = with_timeout(client.get_async_pubsub()).await?;
    let (mut sink, mut stream) = pubsub.split();
    with_timeout(sink.subscribe(channel)).await?;
    subscriber.subscribed.store(true, Ordering::Relaxed);
    tracing::info!("redis backplane subscribed");
    if subscriber.deliver(Delivery::Connected).await.is_err() {
        return Ok(());
    }
    let mut probe = tokio::time::interval(PROBE_INTERVAL);
    probe.reset();
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err(BackplaneError::Redis(redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "subscription closed",
                    ))));
                };
                if subscriber.hear(message.get_payload_bytes()).await.is_err() {
                    return Ok(());
                }
            }
            _ = probe.tick() => {
                // In subscribed mode RESP2 answers PING with an array: any answer will do.
                with_timeout(sink.ping::<redis::Value>()).await?;
            }
        }
    }
}

/// One `LISTEN`'s life: `Ok` when the node is done with it, `Err` when the connection failed.
async fn postgres_session(
    pool: &sqlx::PgPool,
    channel: &str,
    subscriber: &Subscriber,
) -> Result<(), BackplaneError> {
    let mut listener = with_timeout(sqlx::postgres::PgListener::connect_with(pool)).await?;
    with_timeout(listener.listen(channel)).await?;
    subscriber.subscribed.store(true, Ordering::Relaxed);
    tracing::info!("postgres backplane listening");
    if subscriber.deliver(Delivery::Connected).await.is_err() {
        return Ok(());
    }
    loop {
        match tokio::time::timeout(PROBE_INTERVAL, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                if subscriber
                    .hear(notification.payload().as_bytes())
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            // The listener lost its connection (notifications in between are gone): start a new
            // session so the node hears `Connected` and catches up.
            Ok(Ok(None)) => {
                return Err(BackplaneError::Postgres(sqlx::Error::Io(
                    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "listener lost"),
                )));
            }
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => {
                with_timeout(sqlx::query("SELECT 1").execute(&mut listener)).await?;
            }
        }
    }
}

/// What the channel carries.
#[derive(Debug, PartialEq)]
enum Wire {
    /// A ring of these shards (a bit set).
    Ring(u64),
    Message(Sequenced),
}

/// A message off the wire; one that is not ours is logged and skipped.
fn decode(body: &[u8]) -> Option<Wire> {
    if body == RING {
        return Some(Wire::Ring(u64::MAX));
    }
    if let Some(shards) = body
        .strip_prefix(RING)
        .and_then(|rest| rest.strip_prefix(b":"))
    {
        return match std::str::from_utf8(shards).ok()?.parse() {
            Ok(shards) => Some(Wire::Ring(shards)),
            Err(_) => {
                tracing::warn!("ignoring a backplane ring without its shards");
                None
            }
        };
    }
    match serde_json::from_slice::<Sequenced>(body) {
        Ok(message) => Some(Wire::Message(message)),
        Err(error) => {
            tracing::warn!(%error, "ignoring a backplane message that is not an event");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_the_event_is_optional() {
        let whole = Sequenced {
            shard: 3,
            sequence: 7,
            previous: 5,
            event: Some(
                RawValue::from_string(r#"{"target":"JobAssigned"}"#.to_owned()).expect("json"),
            ),
        };
        let text = serde_json::to_string(&whole).expect("encode");
        assert_eq!(
            text,
            r#"{"shard":3,"sequence":7,"previous":5,"event":{"target":"JobAssigned"}}"#
        );
        assert_eq!(decode(text.as_bytes()), Some(Wire::Message(whole)));
        assert_eq!(
            decode(br#"{"sequence":8,"previous":7}"#),
            Some(Wire::Message(Sequenced {
                shard: 0,
                sequence: 8,
                previous: 7,
                event: None
            }))
        );
    }

    #[test]
    fn a_ring_is_not_an_event() {
        assert_eq!(decode(RING), Some(Wire::Ring(u64::MAX)));
        assert_eq!(decode(b"ring:5"), Some(Wire::Ring(5)));
        assert_eq!(decode(b"ring:x"), None);
        assert_eq!(decode(b"\"ring\""), None);
    }

    #[test]
    fn foreign_messages_are_skipped() {
        assert_eq!(decode(b"hello"), None);
        assert_eq!(decode(br#"{"sequence":"x"}"#), None);
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_choices() {
        let error = Backplane::connect("kafka://broker:9092", "events")
            .err()
            .expect("refused");
        assert!(error.to_string().contains("redis://"), "{error}");
        assert!(matches!(
            Backplane::connect("no-scheme", "events"),
            Err(BackplaneError::InvalidUrl(_))
        ));
        for channel in ["", "has space", "quote\"", &"x".repeat(64)] {
            assert!(matches!(
                Backplane::connect("redis://127.0.0.1", channel),
                Err(BackplaneError::InvalidChannel(_))
            ));
        }
    }

    #[tokio::test]
    async fn in_process_delivers_in_order_after_connected() {
        let (backplane, mut subscription) = Backplane::in_process();
        for sequence in 1..=3 {
            backplane
                .publish(&Sequenced {
                    shard: 0,
                    sequence,
                    previous: sequence - 1,
                    event: None,
                })
                .await
                .expect("publish");
        }
        assert_eq!(subscription.recv().await, Some(Delivery::Connected));
        for sequence in 1..=3 {
            match subscription.recv().await {
                Some(Delivery::Message(message)) => assert_eq!(message.sequence, sequence),
                other => panic!("expected message {sequence}, got {other:?}"),
            }
        }
        assert!(backplane.health().up);
    }
}
