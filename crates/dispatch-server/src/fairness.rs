//! Sharing expensive work fairly between callers (token `sub`s).
//!
//! * [`RateLimiter`] — a token bucket per subject: a caller may make `burst` calls at once and
//!   `per_minute` on average; beyond, the call is refused with `429` and `Retry-After` before
//!   any work is done (no database read, no queue place).
//! * [`Shares`] — the plans a node holds (running or waiting): at most `plan_share` of them
//!   per subject, so one caller cannot take every place.
//! * [`FairQueue`] — the recommendation queue: one FIFO per subject, served round-robin, each
//!   holding at most `share` requests. A caller flooding it fills only its own share (its
//!   next request is `429`), and a quiet caller's request is taken at the next turn, after at
//!   most one request of each other waiting subject, however long their queues are.
//!
//! Both hold one small entry per active subject, behind a `std` lock never held across an
//! `.await`; idle entries are dropped, so memory follows the number of active callers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use dispatch_store::RequestId;
use tokio::sync::Notify;

/// A rate: `per_minute` on average, `burst` at once; `per_minute == 0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls per minute, on average.
    pub per_minute: u32,
    /// Calls that may come together.
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const UNLIMITED: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };
}

/// Per-subject limits on expensive calls, and the recommendation queue's per-subject share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// `POST /api/v1/recommendations` per subject.
    pub recommendations: Rate,
    /// Plan requests per subject (`POST /api/v1/plans`).
    pub plans: Rate,
    /// Places one subject may hold in the recommendation queue.
    pub queue_share: usize,
    /// Plans one subject may have running or waiting on a node.
    pub plan_share: usize,
}

impl ApiLimits {
    /// No per-subject limits (the queue's share is the whole queue): for tests and benches
    /// that drive the service harder than any one person would.
    pub const UNLIMITED: ApiLimits = ApiLimits {
        recommendations: Rate::UNLIMITED,
        plans: Rate::UNLIMITED,
        queue_share: usize::MAX,
        plan_share: usize::MAX,
    };
}

impl Default for ApiLimits {
    /// The settings' defaults (README, `.env.sample`).
    fn default() -> Self {
        Self {
            recommendations: Rate {
                per_minute: 120,
                burst: 30,
            },
            plans: Rate {
                per_minute: 6,
                burst: 3,
            },
            queue_share: 64,
            plan_share: 4,
        }
    }
}

/// One subject's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Subjects tracked before full (idle) buckets are swept.
const SWEEP_ABOVE: usize = 4096;

/// A token bucket per subject.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing `rate` per subject.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call of `subject` at `now`, or says how long until one is allowed.
    pub fn check_at(&self, subject: &str, now: Instant) -> Result<(), Duration> {
        if self.rate.per_minute == 0 {
            return Ok(());
        }
        let per_second = f64::from(self.rate.per_minute) / 60.0;
        let burst = f64::from(self.rate.burst.max(1));
        let refill = |bucket: &Bucket| {
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            (bucket.tokens + elapsed * per_second).min(burst)
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= SWEEP_ABOVE && !buckets.contains_key(subject) {
            buckets.retain(|_, bucket| refill(bucket) < burst);
        }
        let bucket = buckets.entry(subject.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = refill(bucket);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }

    /// [`RateLimiter::check_at`] now.
    pub fn check(&self, subject: &str) -> Result<(), Duration> {
        self.check_at(subject, Instant::now())
    }
}

/// The per-subject rate limiters of the expensive calls.
#[derive(Debug)]
pub struct Limiters {
    /// `POST /api/v1/recommendations`.
    pub recommendations: RateLimiter,
    /// `POST /api/v1/plans`.
    pub plans: RateLimiter,
    /// The plans each subject holds on this node.
    pub plan_places: Arc<Shares>,
}

impl Limiters {
    /// Limiters for `limits`.
    pub fn new(limits: &ApiLimits) -> Self {
        Self {
            recommendations: RateLimiter::new(limits.recommendations),
            plans: RateLimiter::new(limits.plans),
            plan_places: Arc::new(Shares::new(limits.plan_share)),
        }
    }
}

/// How many places each subject holds, with a cap per subject.
#[derive(Debug)]
pub struct Shares {
    cap: usize,
    held: Mutex<HashMap<String, usize>>,
}

/// One place of a subject, held until dropped.
#[derive(Debug)]
pub struct Share {
    owner: Arc<Shares>,
    subject: String,
}

impl Shares {
    /// At most `cap` places per subject.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            held: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One more place for `subject`, or `None` when it holds its share.
    pub fn acquire(self: &Arc<Self>, subject: &str) -> Option<Share> {
        let mut held = self.held();
        let count = held.entry(subject.to_owned()).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Share {
            owner: Arc::clone(self),
            subject: subject.to_owned(),
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.owner.held();
        if let Some(count) = held.get_mut(&self.subject) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.subject);
            }
        }
    }
}

/// Why the queue took no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueRefusal {
    /// The subject holds its whole share already (its own doing: 429).
    #[error("this caller has as many recommendations waiting as it may")]
    Share,
    /// The whole queue is full (503).
    #[error("too many recommendations are being computed; retry shortly")]
    Full,
    /// The worker has stopped (shutting down).
    #[error("the service is shutting down")]
    Closed,
}

#[derive(Debug, Default)]
struct Lane {
    waiting: VecDeque<RequestId>,
    reserved: usize,
}

#[derive(Debug, Default)]
struct Lanes {
    by_subject: HashMap<Arc<str>, Lane>,
    /// Subjects with waiting requests, in turn order (each at most once).
    turns: VecDeque<Arc<str>>,
    /// Waiting and reserved places, all subjects together.
    used: usize,
    closed: bool,
}

/// The recommendation queue, shared round-robin between subjects (see the module docs).
#[derive(Debug)]
pub struct FairQueue {
    lanes: Mutex<Lanes>,
    ready: Notify,
    capacity: usize,
    share: usize,
}

/// A reserved place in the queue: [`Place::send`] fills it; dropping it gives it back.
#[derive(Debug)]
pub struct Place<'a> {
    queue: &'a FairQueue,
    subject: Arc<str>,
    sent: bool,
}

impl FairQueue {
    /// A queue of `capacity` places, at most `share` of them for one subject.
    pub fn new(capacity: usize, share: usize) -> Self {
        Self {
            lanes: Mutex::default(),
            ready: Notify::new(),
            capacity: capacity.max(1),
            share: share.max(1),
        }
    }

    // Every mutation keeps the counts consistent step by step: a poisoned lock is still usable.
    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves a place for `subject` (before the request is stored, so a refusal leaves
    /// nothing behind).
    pub fn try_reserve(&self, subject: &str) -> Result<Place<'_>, QueueRefusal> {
        self.reserve(subject, self.share)
    }

    /// Queues a request an earlier run accepted but never computed (under `subject`, beyond
    /// any share: it was admitted already); `false` when the queue is full or closed.
    pub fn resume(&self, subject: &str, request_id: RequestId) -> bool {
        match self.reserve(subject, usize::MAX) {
            Ok(place) => {
                place.send(request_id);
                true
            }
            Err(_) => false,
        }
    }

    fn reserve(&self, subject: &str, share: usize) -> Result<Place<'_>, QueueRefusal> {
        let mut lanes = self.lanes();
        if lanes.closed {
            return Err(QueueRefusal::Closed);
        }
        if lanes.used >= self.capacity {
            return Err(QueueRefusal::Full);
        }
        let subject: Arc<str> = match lanes.by_subject.get_key_value(subject) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(subject),
        };
        let lane = lanes.by_subject.entry(Arc::clone(&subject)).or_default();
        if lane.waiting.len() + lane.reserved >= share {
            if lane.waiting.is_empty() && lane.reserved == 0 {
                lanes.by_subject.remove(&subject);
            }
            return Err(QueueRefusal::Share);
        }
        lane.reserved += 1;
        lanes.used += 1;
        Ok(Place {
            queue: self,
            subject,
            sent: false,
        })
    }

    /// The next request, in turn; `None` once closed.
    pub async fn recv(&self) -> Option<RequestId> {
        loop {
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            {
                let mut lanes = self.lanes();
                if let Some(request_id) = lanes.pop() {
                    return Some(request_id);
                }
                if lanes.closed {
                    return None;
                }
            }
            ready.await;
        }
    }

    /// Refuses new requests from now on (what waits stays in the store as pending).
    pub fn close(&self) {
        self.lanes().closed = true;
        self.ready.notify_waiters();
    }

    /// Requests waiting now.
    pub fn len(&self) -> usize {
        self.lanes()
            .by_subject
            .values()
            .map(|lane| lane.waiting.len())
            .sum()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Lanes {
    fn pop(&mut self) -> Option<RequestId> {
        let subject = self.turns.pop_front()?;
        let lane = self.by_subject.get_mut(&subject)?;
        let request_id = lane.waiting.pop_front()?;
        self.used = self.used.saturating_sub(1);
        if !lane.waiting.is_empty() {
            self.turns.push_back(subject);
        } else if lane.reserved == 0 {
            self.by_subject.remove(&subject);
        }
        Some(request_id)
    }

    /// Gives back (or fills) a reserved place of `subject`.
    fn unreserve(&mut self, subject: &Arc<str>, fill: Option<RequestId>) {
        let Some(lane) = self.by_subject.get_mut(subject) else {
            return;
        };
        lane.reserved = lane.reserved.saturating_sub(1);
        match fill {
            Some(request_id) => {
                lane.waiting.push_back(request_id);
                if lane.waiting.len() == 1 {
                    self.turns.push_back(Arc::clone(subject));
                }
            }
            None => {
                self.used = self.used.saturating_sub(1);
                if lane.waiting.is_empty() && lane.reserved == 0 {
                    self.by_subject.remove(subject);
                }
            }
        }
    }
}

impl Place<'_> {
    /// Queues `request_id` in the reserved place.
    pub fn send(mut self, request_id: RequestId) {
        self.sent = true;
        self.queue
            .lanes()
            .unreserve(&self.subject, Some(request_id));
        self.queue.ready.notify_one();
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.sent {
            self.queue.lanes().unreserve(&self.subject, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn id(n: u128) -> RequestId {
        RequestId::from(Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn subjects_take_turns_and_a_noisy_one_fills_only_its_share() {
        let queue = FairQueue::new(10, 4);
        for n in 0..4 {
            queue
                .try_reserve("noisy")
                .expect("within the share")
                .send(id(n));
        }
        assert_eq!(
            queue.try_reserve("noisy").map(|_| ()),
            Err(QueueRefusal::Share)
        );
        queue.try_reserve("quiet").expect("own share").send(id(100));
        // The quiet subject's one request comes second, not fifth.
        assert_eq!(queue.recv().await, Some(id(0)));
        assert_eq!(queue.recv().await, Some(id(100)));
        assert_eq!(queue.recv().await, Some(id(1)));
        // Taken requests free their places.
        queue.try_reserve("noisy").expect("room again").send(id(4));
        assert_eq!(queue.len(), 3);
    }

    #[tokio::test]
    async fn a_dropped_place_is_given_back_and_the_whole_queue_is_capped() {
        let queue = FairQueue::new(2, 2);
        let place = queue.try_reserve("a").expect("1st");
        queue.try_reserve("b").expect("2nd").send(id(1));
        assert_eq!(queue.try_reserve("c").map(|_| ()), Err(QueueRefusal::Full));
        drop(place);
        queue.try_reserve("c").expect("freed").send(id(2));
        assert_eq!(queue.recv().await, Some(id(1)));
        assert_eq!(queue.recv().await, Some(id(2)));
        queue.close();
        assert_eq!(queue.recv().await, None);
        assert_eq!(
            queue.try_reserve("a").map(|_| ()),
            Err(QueueRefusal::Closed)
        );
    }

    #[test]
    fn a_subject_holds_at_most_its_share_of_places() {
        let shares = Arc::new(Shares::new(2));
        let first = shares.acquire("ana").expect("1st");
        let _second = shares.acquire("ana").expect("2nd");
        assert!(shares.acquire("ana").is_none());
        assert!(shares.acquire("bo").is_some());
        drop(first);
        assert!(shares.acquire("ana").is_some());
    }

    #[test]
    fn the_rate_limiter_allows_a_burst_then_the_rate() {
        let limiter = RateLimiter::new(Rate {
            per_minute: 60,
            burst: 2,
        });
        let start = Instant::now();
        assert!(limiter.check_at("ana", start).is_ok());
        assert!(limiter.check_at("ana", start).is_ok());
        let wait = limiter.check_at("ana", start).expect_err("over the burst");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(limiter.check_at("bo", start).is_ok(), "per subject");
        assert!(
            limiter
                .check_at("ana", start + Duration::from_secs(1))
                .is_ok(),
            "one more a second later"
        );
        let unlimited = RateLimiter::new(Rate::UNLIMITED);
        for _ in 0..1000 {
            assert!(unlimited.check_at("ana", start).is_ok());
        }
    }
}
