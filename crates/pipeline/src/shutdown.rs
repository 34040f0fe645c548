//! Shutdown in two steps: `stop` (sources stop taking new work) and `abort`
//! (in-flight work is abandoned without acknowledging it; sinks stop retrying).

use tokio::sync::watch;

/// A cloneable flag that can be awaited.
#[derive(Clone)]
pub struct Signal {
    rx: watch::Receiver<bool>,
}

pub struct Trigger {
    tx: watch::Sender<bool>,
}

pub fn signal() -> (Trigger, Signal) {
    let (tx, rx) = watch::channel(false);
    (Trigger { tx }, Signal { rx })
}

impl Trigger {
    pub fn fire(&self) {
        let _ = self.tx.send(true);
    }

    pub fn signal(&self) -> Signal {
        Signal {
            rx: self.tx.subscribe(),
        }
    }
}

impl Signal {
    /// A signal that never fires.
    pub fn never() -> Signal {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Signal { rx }
    }

    pub fn is_fired(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once fired (or once the trigger is gone).
    pub async fn fired(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// Resolves on SIGINT or SIGTERM, naming it.
pub async fn os_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires() {
        let (t, s) = signal();
        assert!(!s.is_fired());
        let s2 = s.clone();
        let h = tokio::spawn(async move { s2.fired().await });
        t.fire();
        h.await.unwrap();
        assert!(s.is_fired());
        assert!(!Signal::never().is_fired());
    }
}
