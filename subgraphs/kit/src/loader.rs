//! DataLoader plumbing: every entity and list lookup goes through a loader, so a batch of keys
//! costs one SQL statement instead of one per key.

use std::collections::HashMap;
use std::hash::Hash;

use async_graphql::dataloader::{DataLoader, Loader};

/// A loader whose batches run on the tokio runtime. Loaders here keep no cache, so one instance
/// can serve every request (and batches keys across concurrent requests too).
pub fn dataloader<K, L>(loader: L) -> DataLoader<L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    // A batch runs in its own task: carry the span of the request that started it, so its SQL
    // spans stay in that request's trace.
    let spawn = |batch| tokio::spawn(tracing::Instrument::in_current_span(batch));
    DataLoader::new(loader, spawn).delay(BATCH_WINDOW)
}

/// How long a batch waits for more keys. async-graphql's 1 ms default split one `_entities`
/// request of 50 keys into two statements on a busy 2-core machine; 3 ms keeps it one.
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
