//! The normalize workers: a fixed pool of threads that normalize raw batches.
//!
//! A caller submits batches in order and gets a [`Pending`] for each; waiting on the
//! pendings in the order they were submitted gives the results in input order, so
//! no reordering buffer is needed and output order never depends on the threads.
//! The job queue is bounded: a source that reads faster than the workers normalize
//! waits (back-pressure), and memory stays a few batches deep.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::event::{Closed, RawBatch};
use crate::normalize::{Normalized, Normalizer};

struct Job {
    batch: RawBatch,
    normalizer: Arc<Normalizer>,
    reply: oneshot::Sender<Done>,
}

/// A normalized batch, with the raw batch it came from (its buffers can be reused).
pub struct Done {
    pub raw: RawBatch,
    pub normalized: Normalized,
}

/// A submitted batch's result, to be waited on.
pub struct Pending(oneshot::Receiver<Done>);

impl Pending {
    /// From a blocking thread. `None` if the pool stopped.
    pub fn wait(self) -> Option<Done> {
        self.0.blocking_recv().ok()
    }

    pub async fn recv(self) -> Option<Done> {
        self.0.await.ok()
    }
}

/// The pool; cheap to clone (every clone submits to the same threads).
#[derive(Clone)]
pub struct Pool {
    tx: mpsc::Sender<Job>,
    threads: usize,
}

impl Pool {
    /// Starts `threads` workers (at least one). They stop once every clone of the
    /// pool is dropped and the queue is drained.
    pub fn new(threads: usize) -> Pool {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>(threads * 2);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            // Workers end by themselves once every sender is gone.
            std::thread::Builder::new()
                .name(format!("intake-normalize-{i}"))
                .spawn(move || work(&rx))
                .expect("cannot start a normalize thread");
        }
        Pool { tx, threads }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// From a blocking thread: waits for room in the queue.
    pub fn submit_blocking(
        &self,
        batch: RawBatch,
        normalizer: &Arc<Normalizer>,
    ) -> Result<Pending, Closed> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Job {
                batch,
                normalizer: normalizer.clone(),
                reply,
            })
            .map_err(|_| Closed)?;
        Ok(Pending(rx))
    }

    /// Waits for room in the queue.
    pub async fn submit(
        &self,
        batch: RawBatch,
        normalizer: &Arc<Normalizer>,
    ) -> Result<Pending, Closed> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                batch,
                normalizer: normalizer.clone(),
                reply,
            })
            .await
            .map_err(|_| Closed)?;
        Ok(Pending(rx))
    }
}

fn work(rx: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // One worker waits on the queue at a time; the others wait on the lock.
        let job = match rx.lock() {
            Ok(mut guard) => guard.blocking_recv(),
            Err(_) => return,
        };
        let Some(job) = job else { return };
        let mut normalized = Normalized::default();
        normalized.events.ndjson = crate::buffers::take();
        job.normalizer.normalize(&job.batch, &mut normalized);
        // The waiter may be gone (shutdown): the result is simply dropped.
        let _ = job.reply.send(Done {
            raw: job.batch,
            normalized,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LineKind;
    use crate::normalize::{Formatter, Normalizer};

    #[test]
    fn results_come_back_in_submission_order() {
        let pool = Pool::new(3);
        let n = Arc::new(Normalizer::new(Formatter::Raw));
        let mut pendings = Vec::new();
        for i in 0..50u64 {
            let mut b = RawBatch::new("t".into());
            // Uneven sizes make the workers finish out of order.
            for j in 0..(i % 7) * 300 + 1 {
                b.push(format!("{i}-{j}").as_bytes(), j + 1, LineKind::Whole);
            }
            pendings.push(pool.submit_blocking(b, &n).unwrap());
        }
        for (i, p) in pendings.into_iter().enumerate() {
            let done = p.wait().unwrap();
            let first = done.normalized.events.lines().next().unwrap().to_vec();
            assert_eq!(first, format!("{{\"message\":\"{i}-0\"}}").into_bytes());
        }
    }
}
