//! Deduplication of identical in-flight subgraph requests: while one is under way, the same
//! request (same subgraph, body and forwarded headers) waits for its answer instead of being sent
//! again. Only queries are deduplicated; a mutation always goes out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

type Pending<T> = Shared<BoxFuture<'static, Arc<T>>>;

/// Requests under way, by a hash of what makes them identical.
pub struct InFlight<T> {
    pending: Mutex<HashMap<u64, Pending<T>>>,
}

impl<T: Send + Sync + 'static> Default for InFlight<T> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Send + Sync + 'static> InFlight<T> {
    /// Runs `make()` unless a request with `key` is already under way, then shares its answer.
    pub async fn run<F>(&self, key: u64, make: impl FnOnce() -> F) -> Arc<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let future = {
            let mut pending = self
                .pending
                .lock()
                .expect("no panics under the in-flight lock");
            match pending.get(&key) {
                Some(shared) => shared.clone(),
                None => {
                    let shared = make().map(Arc::new).boxed().shared();
                    pending.insert(key, shared.clone());
                    shared
                }
            }
        };
        let answer = future.clone().await;
        let mut pending = self
            .pending
            .lock()
            .expect("no panics under the in-flight lock");
        // A later identical request may already have started a fresh one: leave that in place.
        if pending
            .get(&key)
            .is_some_and(|current| current.ptr_eq(&future))
        {
            pending.remove(&key);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_identical_requests_share_one_run() {
        let in_flight = InFlight::<u32>::default();
        let runs = AtomicUsize::new(0);
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let gate = gate.shared();
        let request = || {
            let gate = gate.clone();
            in_flight.run(7, || {
                runs.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _ = gate.await;
                    42
                }
            })
        };
        // `join!` polls in order: the first request starts and waits at the gate, the second
        // finds it under way, then the gate opens.
        let (first, second, ()) = futures::join!(request(), request(), async {
            release.send(()).expect("the gate is open");
        });
        assert_eq!((*first, *second), (42, 42));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one run for both");
        assert!(
            in_flight.pending.lock().expect("lock").is_empty(),
            "nothing left behind"
        );
        // Once finished, the same request runs again.
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let _ = release.send(());
        let again = in_flight.run(7, || async move {
            let _ = gate.await;
            43
        });
        assert_eq!(*again.await, 43);
    }
}
