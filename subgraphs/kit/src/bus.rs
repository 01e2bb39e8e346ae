//! The event bus behind subscriptions: mutations publish after they commit, subscriptions listen.
//!
//! One trait so that the in-process default and a shared broker (NATS, for several replicas) are
//! interchangeable. Payloads are bytes (JSON) because a broker carries bytes.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::broadcast;

pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, subject: &str, payload: Vec<u8>);
    /// Events published on `subject` from now on.
    fn subscribe(&self, subject: &str) -> BoxStream<'static, Arc<[u8]>>;
}

/// Publishes `event` as JSON.
pub fn publish_json<T: Serialize>(bus: &dyn EventBus, subject: &str, event: &T) {
    let payload = serde_json::to_vec(event).expect("events are plain serialisable structs");
    bus.publish(subject, payload);
}

/// Events on `subject` decoded from JSON; undecodable ones are logged and skipped.
pub fn subscribe_json<T: DeserializeOwned + Send + 'static>(
    bus: &dyn EventBus,
    subject: &str,
) -> BoxStream<'static, T> {
    bus.subscribe(subject)
        .filter_map(|payload| async move {
            serde_json::from_slice(&payload)
                .inspect_err(|err| tracing::warn!(%err, "skipping undecodable event"))
                .ok()
        })
        .boxed()
}

type Event = Arc<(String, Arc<[u8]>)>;

/// In-process bus on a bounded broadcast channel. A subscriber that falls more than `capacity`
/// events behind loses the oldest ones (logged) instead of growing memory.
pub struct LocalBus {
    tx: broadcast::Sender<Event>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
        }
    }
}

impl LocalBus {
    /// How many subscriptions are listening right now.
    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus for LocalBus {
    fn publish(&self, subject: &str, payload: Vec<u8>) {
        // No receiver is fine: nobody is subscribed.
        let _ = self.tx.send(Arc::new((subject.to_owned(), payload.into())));
    }

    fn subscribe(&self, subject: &str) -> BoxStream<'static, Arc<[u8]>> {
        let subject = subject.to_owned();
        stream::unfold(self.tx.subscribe(), move |mut rx| {
            let subject = subject.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(event) if event.0 == subject => return Some((event.1.clone(), rx)),
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, %subject, "slow subscriber skipped events");
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        })
        .boxed()
    }
}

/// NATS core pub/sub (`--bus-url nats://...`): every replica of a subgraph publishes to and
/// listens on the same broker, so a mutation on one replica reaches subscribers on all. Subjects
/// are `<prefix>.<subject>`. Delivery is at most once, like the local bus: a subscriber that
/// falls too far behind loses events (the client library drops them and logs a slow consumer)
/// rather than growing memory.
pub struct NatsBus {
    client: async_nats::Client,
    prefix: String,
}

impl NatsBus {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .connect(url)
            .await?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
        })
    }

    fn subject(&self, subject: &str) -> String {
        format!("{}.{subject}", self.prefix)
    }
}

/// Events buffered per subscription before the oldest are dropped.
const SUBSCRIPTION_CAPACITY: usize = 1024;

impl EventBus for NatsBus {
    fn publish(&self, subject: &str, payload: Vec<u8>) {
        let (client, subject) = (self.client.clone(), self.subject(subject));
        // Queued in the client's bounded outbox; a full outbox or lost broker is logged.
        tokio::spawn(async move {
            if let Err(err) = client.publish(subject, payload.into()).await {
                tracing::warn!(%err, "publishing an event to NATS failed");
            }
        });
    }

    fn subscribe(&self, subject: &str) -> BoxStream<'static, Arc<[u8]>> {
        let (client, subject) = (self.client.clone(), self.subject(subject));
        stream::once(async move { client.subscribe(subject).await })
            .filter_map(|subscribed| async move {
                subscribed
                    .inspect_err(|err| tracing::warn!(%err, "subscribing on NATS failed"))
                    .ok()
            })
            .flat_map(|subscriber| subscriber.map(|message| Arc::from(&message.payload[..])))
            .boxed()
    }
}
