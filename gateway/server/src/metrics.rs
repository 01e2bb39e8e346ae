//! Prometheus metrics at `/metrics`, in the OpenMetrics text format (prometheus-client). One
//! registry for the life of the process: a supergraph reload keeps the counts.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Distinct operation names kept as labels; later ones count as `other`, so clients cannot
/// grow the registry without bound.
const MAX_OPERATION_NAMES: usize = 512;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub operation: String,
    /// `ok`, `errors` (answered with errors) or `rejected` (refused before execution).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubgraphLabels {
    pub subgraph: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubgraphName {
    pub subgraph: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Histogram,
    subgraph_requests: Family<SubgraphLabels, Counter>,
    subgraph_seconds: Family<SubgraphName, Histogram>,
    pub plan_cache_hits: Counter,
    pub plan_cache_misses: Counter,
    planning_seconds: Histogram,
    pub websocket_connections: Gauge,
    pub subscriptions: Gauge,
    reloads: Family<Outcome, Counter>,
    operation_names: Mutex<HashSet<String>>,
}

fn latency() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mosaic");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Client requests by operation name and outcome",
            requests.clone(),
        );
        let request_seconds = latency();
        registry.register(
            "request_duration_seconds",
            "Client request latency",
            request_seconds.clone(),
        );
        let subgraph_requests = Family::<SubgraphLabels, Counter>::default();
        registry.register(
            "subgraph_requests",
            "Subgraph fetches by subgraph and outcome (`ok`, `errors`, `failed`)",
            subgraph_requests.clone(),
        );
        let subgraph_seconds = Family::<SubgraphName, Histogram>::new_with_constructor(latency);
        registry.register(
            "subgraph_request_duration_seconds",
            "Subgraph fetch latency",
            subgraph_seconds.clone(),
        );
        let plan_cache_hits = Counter::default();
        registry.register(
            "plan_cache_hits",
            "Operations served from the plan cache",
            plan_cache_hits.clone(),
        );
        let plan_cache_misses = Counter::default();
        registry.register(
            "plan_cache_misses",
            "Operations parsed, validated and planned",
            plan_cache_misses.clone(),
        );
        let planning_seconds = latency();
        registry.register(
            "planning_duration_seconds",
            "Parse + validate + plan time on a cache miss",
            planning_seconds.clone(),
        );
        let websocket_connections = Gauge::default();
        registry.register(
            "websocket_connections",
            "Open client websockets",
            websocket_connections.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions",
            "Active subscriptions",
            subscriptions.clone(),
        );
        let reloads = Family::<Outcome, Counter>::default();
        registry.register(
            "supergraph_reloads",
            "Supergraph file changes by outcome (`applied`, `refused`)",
            reloads.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            subgraph_requests,
            subgraph_seconds,
            plan_cache_hits,
            plan_cache_misses,
            planning_seconds,
            websocket_connections,
            subscriptions,
            reloads,
            operation_names: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn request(&self, operation: Option<&str>, outcome: &'static str, took: Duration) {
        let operation = self.operation_label(operation.unwrap_or("anonymous"));
        self.requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        self.request_seconds.observe(took.as_secs_f64());
    }

    pub fn subgraph(&self, subgraph: &str, outcome: &'static str, took: Duration) {
        let labels = SubgraphLabels {
            subgraph: subgraph.to_owned(),
            outcome,
        };
        self.subgraph_requests.get_or_create(&labels).inc();
        let name = SubgraphName {
            subgraph: subgraph.to_owned(),
        };
        self.subgraph_seconds
            .get_or_create(&name)
            .observe(took.as_secs_f64());
    }

    pub fn planned(&self, took: Duration) {
        self.plan_cache_misses.inc();
        self.planning_seconds.observe(took.as_secs_f64());
    }

    pub fn reload(&self, outcome: &'static str) {
        self.reloads.get_or_create(&Outcome { outcome }).inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    fn operation_label(&self, name: &str) -> String {
        let mut names = self
            .operation_names
            .lock()
            .expect("no panics under the names lock");
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < MAX_OPERATION_NAMES && name.len() <= 128 {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }
}
