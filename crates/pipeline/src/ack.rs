//! End-to-end acknowledgements.
//!
//! A source creates one [`AckRef`] per unit it must acknowledge upstream (an SQS
//! message) and gets an [`AckWaiter`]. Every batch sent to a sink carries a clone of
//! the `AckRef`; the sink calls [`AckRef::accept`] once the batch is durably handed
//! over. A clone dropped without `accept` (a sink that gave up, a channel dropped at
//! shutdown, a worker that failed) marks the unit failed. When the last clone is
//! gone the waiter resolves: `true` only if every clone was accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;

type OnDone = Box<dyn FnOnce(bool) + Send + Sync>;

struct Shared {
    failed: AtomicBool,
    done: std::sync::Mutex<Option<oneshot::Sender<bool>>>,
    /// For a unit nested in another: the claim it holds on the outer unit, and
    /// what to call when it settles (latency measurement).
    outer: std::sync::Mutex<Option<(AckRef, OnDone)>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let ok = !self.failed.load(Ordering::SeqCst);
        if let Some(tx) = self.done.lock().ok().and_then(|mut d| d.take()) {
            let _ = tx.send(ok);
        }
        if let Some((outer, on_done)) = self.outer.lock().ok().and_then(|mut o| o.take()) {
            on_done(ok);
            if ok { outer.accept() } else { outer.reject() }
        }
    }
}

/// One claim on an acknowledgement unit. Not accepting it counts as a failure.
pub struct AckRef {
    shared: Option<Arc<Shared>>,
    accepted: bool,
}

impl AckRef {
    /// A new unit, and the waiter that resolves once all its claims are settled.
    pub fn new() -> (AckRef, AckWaiter) {
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            failed: AtomicBool::new(false),
            done: std::sync::Mutex::new(Some(tx)),
            outer: std::sync::Mutex::new(None),
        });
        (
            AckRef {
                shared: Some(shared),
                accepted: false,
            },
            AckWaiter { rx },
        )
    }

    /// A unit nested in `outer`: it holds one claim on `outer`, settled (and
    /// `on_done` called with the outcome) once every claim of the new unit is.
    pub fn nested(outer: &AckRef, on_done: impl FnOnce(bool) + Send + Sync + 'static) -> AckRef {
        AckRef {
            shared: Some(Arc::new(Shared {
                failed: AtomicBool::new(false),
                done: std::sync::Mutex::new(None),
                outer: std::sync::Mutex::new(Some((outer.clone(), Box::new(on_done)))),
            })),
            accepted: false,
        }
    }

    /// A claim that tracks nothing (sources with nothing to acknowledge upstream).
    pub fn none() -> AckRef {
        AckRef {
            shared: None,
            accepted: false,
        }
    }

    /// The batch was delivered.
    pub fn accept(mut self) {
        self.accepted = true;
    }

    /// The batch was not delivered (same as dropping the claim, but explicit).
    pub fn reject(self) {
        if let Some(s) = &self.shared {
            s.failed.store(true, Ordering::SeqCst);
        }
    }

    /// Whether the unit has already failed (work on it can stop early).
    pub fn is_failed(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| s.failed.load(Ordering::SeqCst))
    }
}

impl Clone for AckRef {
    fn clone(&self) -> AckRef {
        AckRef {
            shared: self.shared.clone(),
            accepted: false,
        }
    }
}

impl Drop for AckRef {
    fn drop(&mut self) {
        if !self.accepted
            && let Some(s) = &self.shared
        {
            s.failed.store(true, Ordering::SeqCst);
        }
    }
}

/// Resolves once every claim of a unit is settled.
pub struct AckWaiter {
    rx: oneshot::Receiver<bool>,
}

impl AckWaiter {
    /// `true` when every claim was accepted.
    pub async fn wait(self) -> bool {
        self.rx.await.unwrap_or(false)
    }

    /// Non-async check: `Some(result)` once settled.
    pub fn try_result(&mut self) -> Option<bool> {
        match self.rx.try_recv() {
            Ok(v) => Some(v),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn all_accepted() {
        let (root, waiter) = AckRef::new();
        let a = root.clone();
        let b = root.clone();
        root.accept();
        a.accept();
        b.accept();
        assert!(waiter.wait().await);
    }

    #[tokio::test]
    async fn one_dropped_fails() {
        let (root, waiter) = AckRef::new();
        let a = root.clone();
        let b = root.clone();
        root.accept();
        a.accept();
        drop(b);
        assert!(!waiter.wait().await);
    }

    #[tokio::test]
    async fn rejected_fails_and_is_visible() {
        let (root, mut waiter) = AckRef::new();
        let a = root.clone();
        assert!(waiter.try_result().is_none());
        a.reject();
        assert!(root.is_failed());
        root.accept();
        assert_eq!(waiter.try_result(), Some(false));
    }

    #[tokio::test]
    async fn waits_for_the_last_claim() {
        let (root, mut waiter) = AckRef::new();
        let a = root.clone();
        root.accept();
        assert!(waiter.try_result().is_none());
        let t = tokio::spawn(async move {
            tokio::task::yield_now().await;
            a.accept();
        });
        t.await.unwrap();
        assert!(waiter.wait().await);
    }

    #[tokio::test]
    async fn nested_units_settle_their_outer_claim() {
        let (root, waiter) = AckRef::new();
        let seen = Arc::new(std::sync::Mutex::new(None));
        let s = seen.clone();
        let inner = AckRef::nested(&root, move |ok| *s.lock().unwrap() = Some(ok));
        let a = inner.clone();
        inner.accept();
        root.accept();
        assert_eq!(*seen.lock().unwrap(), None);
        a.accept();
        assert_eq!(*seen.lock().unwrap(), Some(true));
        assert!(waiter.wait().await);

        let (root, waiter) = AckRef::new();
        let inner = AckRef::nested(&root, |_| {});
        root.accept();
        inner.reject();
        assert!(!waiter.wait().await);
    }

    #[test]
    fn none_is_inert() {
        let r = AckRef::none();
        assert!(!r.is_failed());
        r.clone().reject();
    }
}
