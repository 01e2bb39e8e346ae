//! A short-lived cache of answers to read-only operations, so that a subgraph under repeated
//! queries (a gateway sending the same entity fetch for every client) stops re-executing them.
//!
//! Off unless a TTL is set (`--response-cache-seconds`). What makes it safe:
//! - **Per caller where it matters.** An answer is shared between callers only when no resolver
//!   read the caller while producing it ([`CallerRead`]); otherwise it is kept for that caller
//!   alone. Execution up to the first read of the caller is the same for every caller, so an
//!   answer that never read it is every caller's answer.
//! - **Writes clear it.** Any operation holding a mutation, over HTTP or websocket, empties the
//!   cache when it ends ([`InvalidateOnWrite`]); a read that began before the write ended is not
//!   stored (the generation check), so it cannot put pre-write data back.
//! - **Bounded.** Entries live at most the TTL, and the cache holds at most [`MAX_ENTRIES`]
//!   answers and [`MAX_BYTES`] bytes, least recently used first out.
//! - **Replicas.** Each replica keeps its own; a write through another replica (or straight to
//!   the database) shows after at most the TTL, which is why the TTL is meant to be seconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ServerResult, Variables};
use axum::body::Bytes;
use lru::LruCache;

use crate::Caller;

/// Most answers kept at once.
pub const MAX_ENTRIES: usize = 4096;
/// Most bytes of answers kept at once.
pub const MAX_BYTES: usize = 32 << 20;

/// Answers by request body and, for answers that depend on it, caller.
pub struct ResponseCache {
    ttl: Duration,
    state: Mutex<State>,
}

struct State {
    entries: LruCache<Key, Entry>,
    bytes: usize,
    /// Bumped by every write, so a read that overlapped one is not stored.
    generation: u64,
}

/// The whole body (query, variables, operation name), never just its hash: a collision must not
/// hand one caller's answer to another.
#[derive(Hash, PartialEq, Eq)]
struct Key {
    body: Bytes,
    caller: Option<Caller>,
}

struct Entry {
    response: Bytes,
    expires: Instant,
}

impl ResponseCache {
    pub fn new(ttl: Duration) -> Self {
        let capacity = std::num::NonZeroUsize::new(MAX_ENTRIES).expect("a non-zero constant");
        Self {
            ttl,
            state: Mutex::new(State {
                entries: LruCache::new(capacity),
                bytes: 0,
                generation: 0,
            }),
        }
    }

    /// The live answer to `body`: the one shared by all callers, else `caller`'s own.
    pub fn get(&self, body: &Bytes, caller: &Caller) -> Option<Bytes> {
        let mut state = self.lock();
        let key = |caller: Option<Caller>| Key {
            body: body.clone(),
            caller,
        };
        // The caller is cloned only when no shared answer is there.
        state
            .live(&key(None))
            .or_else(|| state.live(&key(Some(caller.clone()))))
    }

    /// To read before executing, and hand back to [`put`](Self::put).
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps `response` for `body` (for `caller` alone when given), unless a write ended since
    /// `generation` was read.
    pub fn put(&self, generation: u64, body: Bytes, caller: Option<Caller>, response: Bytes) {
        if response.len() > MAX_BYTES {
            return;
        }
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        let entry = Entry {
            expires: Instant::now() + self.ttl,
            response,
        };
        state.bytes += entry.response.len();
        if let Some((_, old)) = state.entries.push(Key { body, caller }, entry) {
            state.bytes -= old.response.len();
        }
        while state.bytes > MAX_BYTES {
            match state.entries.pop_lru() {
                Some((_, old)) => state.bytes -= old.response.len(),
                None => break,
            }
        }
    }

    /// Forgets every answer: a write ended.
    pub fn invalidate(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
        state.bytes = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is consistent between statements, so a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn live(&mut self, key: &Key) -> Option<Bytes> {
        let entry = self.entries.get(key)?;
        if entry.expires > Instant::now() {
            return Some(entry.response.clone());
        }
        if let Some(old) = self.entries.pop(key) {
            self.bytes -= old.response.len();
        }
        None
    }
}

/// Request data set when a resolver reads the caller ([`crate::graphql::caller`] does it): an
/// answer produced without it is the same for every caller.
#[derive(Default)]
pub struct CallerRead(AtomicBool);

impl CallerRead {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn was_read(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Schema extension: an operation document holding a mutation empties the cache when it ends.
pub struct InvalidateOnWrite(pub Arc<ResponseCache>);

impl ExtensionFactory for InvalidateOnWrite {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Invalidation {
            cache: self.0.clone(),
            writes: AtomicBool::new(false),
        })
    }
}

/// One operation's view of [`InvalidateOnWrite`].
struct Invalidation {
    cache: Arc<ResponseCache>,
    writes: AtomicBool,
}

#[async_trait::async_trait]
impl Extension for Invalidation {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let writes = document
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Mutation);
        self.writes.store(writes, Ordering::Relaxed);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let response = next.run(ctx, operation_name).await;
        if self.writes.load(Ordering::Relaxed) {
            self.cache.invalidate();
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32) -> Caller {
        Caller::User {
            id,
            username: format!("u{id}"),
            scopes: Default::default(),
        }
    }

    const BODY: &str = r#"{"query":"{ users { id } }"}"#;

    #[test]
    fn shares_caller_free_answers_and_keeps_the_others_per_caller() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        let body = Bytes::from_static(BODY.as_bytes());
        let generation = cache.generation();
        cache.put(
            generation,
            body.clone(),
            Some(user(1)),
            Bytes::from_static(b"one"),
        );
        assert_eq!(cache.get(&body, &user(1)).as_deref(), Some(&b"one"[..]));
        assert_eq!(cache.get(&body, &user(2)), None);
        assert_eq!(cache.get(&body, &Caller::Anonymous), None);

        cache.put(generation, body.clone(), None, Bytes::from_static(b"all"));
        assert_eq!(cache.get(&body, &user(2)).as_deref(), Some(&b"all"[..]));
    }

    #[test]
    fn drops_expired_answers_and_reads_that_overlapped_a_write() {
        let cache = ResponseCache::new(Duration::ZERO);
        let body = Bytes::from_static(BODY.as_bytes());
        cache.put(
            cache.generation(),
            body.clone(),
            None,
            Bytes::from_static(b"x"),
        );
        assert_eq!(cache.get(&body, &Caller::Anonymous), None);
        assert_eq!(cache.lock().bytes, 0);

        let cache = ResponseCache::new(Duration::from_secs(60));
        let before_write = cache.generation();
        cache.invalidate();
        cache.put(
            before_write,
            body.clone(),
            None,
            Bytes::from_static(b"stale"),
        );
        assert_eq!(cache.get(&body, &Caller::Anonymous), None);
    }

    #[test]
    fn holds_at_most_its_byte_budget() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        let big = Bytes::from(vec![b'x'; MAX_BYTES / 2 + 1]);
        for n in 0..3 {
            let body = Bytes::from(format!("{{\"query\":\"{{ n{n} }}\"}}"));
            cache.put(cache.generation(), body, None, big.clone());
        }
        let state = cache.lock();
        assert_eq!(state.entries.len(), 1);
        assert_eq!(state.bytes, big.len());
    }
}
