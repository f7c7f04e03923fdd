//! Graceful shutdown: the signals that start it and the count of requests it waits for.
//!
//! The order in which a node stops is [`crate::Service::run`]'s; what it needs from here is a
//! future that resolves on SIGTERM (how systemd, Kubernetes and Docker stop a process) or
//! Ctrl-C, and a way to know when the API requests already accepted have been answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Notify;

/// Resolves on the first SIGTERM or Ctrl-C (SIGINT).
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// How many requests are being answered right now.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// Resolves once no request is in flight.
    pub async fn idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Registered before the count is read, so a request ending in between is not missed.
            idle.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// How many requests are in flight.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

/// Counts one request while it is in flight (a guard, so a cancelled request counts too).
struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        metrics::gauge!(IN_FLIGHT_GAUGE).decrement(1.0);
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The Prometheus gauge of [`InFlight::count`].
const IN_FLIGHT_GAUGE: &str = crate::telemetry::HTTP_REQUESTS_IN_FLIGHT;

/// Middleware: counts the requests it wraps in `in_flight` (and in `/metrics`).
pub async fn track(
    State(in_flight): State<Arc<InFlight>>,
    request: Request,
    next: Next,
) -> Response {
    in_flight.count.fetch_add(1, Ordering::AcqRel);
    metrics::gauge!(IN_FLIGHT_GAUGE).increment(1.0);
    let _guard = InFlightGuard(in_flight);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_the_last_request() {
        let in_flight = Arc::new(InFlight::default());
        in_flight.idle().await;
        in_flight.count.fetch_add(2, Ordering::AcqRel);
        let first = InFlightGuard(Arc::clone(&in_flight));
        let second = InFlightGuard(Arc::clone(&in_flight));
        let waiter = tokio::spawn({
            let in_flight = Arc::clone(&in_flight);
            async move { in_flight.idle().await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(second);
        waiter.await.expect("idle once both are done");
        assert_eq!(in_flight.count(), 0);
    }
}
