//! DataLoader plumbing: every entity and list lookup goes through a loader, so a batch of keys
//! costs one SQL statement instead of one per key.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::dataloader::{DataLoader, Loader};

/// A DataLoader whose batches start only once the requests feeding them have settled.
///
/// async-graphql starts a batch's window at its first key. A resolver tree polled by nested
/// `FuturesUnordered` yields to the scheduler every couple of entities, so on a busy machine the
/// window could close halfway through one `_entities` list and split it into several
/// statements. Here a batch first waits, turn by turn of the scheduler, until a turn adds no key
/// (at most [`SETTLE_TURNS`]); only then does its window start. Loaders keep no cache, so one
/// instance serves every request and batches keys across concurrent requests too.
pub struct BatchLoader<L: 'static> {
    loader: DataLoader<L>,
    /// Keys asked for so far: a batch has settled when a scheduler turn leaves this unchanged.
    asked: Arc<AtomicUsize>,
}

impl<L: 'static> BatchLoader<L> {
    /// A loader over `loader`, its batches run on the tokio runtime.
    pub fn new<K>(loader: L) -> Self
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        L: Loader<K>,
    {
        let asked = Arc::new(AtomicUsize::new(0));
        let seen = asked.clone();
        // A batch runs in its own task: carry the span of the request that started it, so its
        // SQL spans stay in that request's trace.
        let spawn = move |batch| {
            let seen = seen.clone();
            tokio::spawn(tracing::Instrument::in_current_span(async move {
                settle(&seen).await;
                batch.await;
            }))
        };
        BatchLoader {
            loader: DataLoader::new(loader, spawn).delay(BATCH_WINDOW),
            asked,
        }
    }

    /// The value for `key`, loaded in one batch with every other key asked for meanwhile.
    pub async fn load_one<K>(&self, key: K) -> Result<Option<L::Value>, L::Error>
    where
        K: Send + Sync + Hash + Eq + Clone + 'static,
        L: Loader<K>,
    {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.loader.load_one(key).await
    }
}

/// Yields to the scheduler until a whole turn adds no key. Bounded, so that a steady stream of
/// requests cannot hold a batch back.
async fn settle(asked: &AtomicUsize) {
    let mut seen = asked.load(Ordering::Relaxed);
    for _ in 0..SETTLE_TURNS {
        tokio::task::yield_now().await;
        let now = asked.load(Ordering::Relaxed);
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// How many scheduler turns a batch waits at most for its keys to settle.
const SETTLE_TURNS: usize = 16;

/// How long a settled batch still waits for more keys (from other requests, say).
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(3);

/// Rows keyed by `key`, for loaders that find at most one row per key.
pub fn index_by<K: Hash + Eq, V>(
    rows: impl IntoIterator<Item = V>,
    key: impl Fn(&V) -> K,
) -> HashMap<K, V> {
    rows.into_iter().map(|row| (key(&row), row)).collect()
}

/// Rows grouped by `key`, with an empty list for every requested key that has none, so that
/// "no rows" is an answer and not a missing value.
pub fn group_by<K: Hash + Eq + Clone, V>(
    keys: &[K],
    rows: impl IntoIterator<Item = V>,
    key: impl Fn(&V) -> K,
) -> HashMap<K, Vec<V>> {
    let mut groups: HashMap<K, Vec<V>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}
