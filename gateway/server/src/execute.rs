//! Execution: walks a [`QueryPlan`], sends each fetch to its subgraph over the pooled HTTP client,
//! and merges every answer into one [`Tree`]. Fetches under `Parallel` run concurrently; entity
//! representations are written straight from the tree as JSON and deduplicated per fetch.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, join_all};
use mosaic_planner::{FetchNode, PathSegment, PlanNode, Rename, Requires};
use serde_json::{Map, Value, json};

use tracing::Instrument as _;

use crate::dedup::InFlight;
use crate::entities;
use crate::transport::{Address, Bounds, Transport};
use crate::tree::{ObjId, Step, Tree, Val};

/// The subgraphs' addresses and the HTTP client they share.
pub struct Subgraphs {
    pub transport: Arc<Transport>,
    /// Address per graph id, as the supergraph (or config) says, parsed once.
    pub addresses: Vec<Address>,
    /// Time and response size each fetch may take.
    pub bounds: Bounds,
    /// Pass subgraph error messages on; when off, clients read "Subgraph errors redacted".
    pub include_errors: bool,
    /// Which client headers each subgraph gets.
    pub propagation: crate::headers::Propagation,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Identical queries under way, shared rather than sent twice.
    pub in_flight: InFlight<Result<Bytes, String>>,
    /// Operations executing at once: each holds its answers and tree until its response is
    /// written, so this bounds the gateway's memory under load; the rest queue.
    pub executions: Arc<tokio::sync::Semaphore>,
}

/// What one operation's execution accumulates.
struct Run<'a> {
    subgraphs: &'a Subgraphs,
    variables: &'a Map<String, Value>,
    /// The variables with their defaults applied: what `Condition` nodes read.
    coerced: &'a Map<String, Value>,
    /// Request headers forwarded, per graph (e.g. `authorization`).
    headers: &'a [reqwest::header::HeaderMap],
    tree: Mutex<Tree>,
    errors: Mutex<Vec<Value>>,
}

/// A subgraph's answer, parsed into the run's tree.
struct Answer {
    /// Its `data` object.
    data: Option<ObjId>,
    errors: Vec<Value>,
}

/// Executes `node` on top of `data` (nothing, or a subscription event's `data` as JSON); returns
/// the merged data (before projection) and subgraph errors.
pub async fn execute(
    subgraphs: &Subgraphs,
    node: Option<&PlanNode>,
    data: Option<Bytes>,
    variables: &Map<String, Value>,
    coerced: &Map<String, Value>,
    headers: &[reqwest::header::HeaderMap],
) -> (Tree, Vec<Value>) {
    let mut tree = Tree::default();
    if let Some(Ok(Val::Obj(data))) = data.map(|d| tree.parse(d)) {
        tree.merge(tree.root, data);
    }
    let run = Run {
        subgraphs,
        variables,
        coerced,
        headers,
        tree: Mutex::new(tree),
        errors: Mutex::new(Vec::new()),
    };
    if let Some(node) = node {
        run.node(node).await;
    }
    let tree = run.tree.into_inner().unwrap_or_else(|p| p.into_inner());
    let errors = run.errors.into_inner().unwrap_or_else(|p| p.into_inner());
    (tree, errors)
}

impl Run<'_> {
    fn node<'n>(&'n self, node: &'n PlanNode) -> BoxFuture<'n, ()> {
        async move {
            match node {
                PlanNode::Sequence { nodes } => {
                    for node in nodes {
                        self.node(node).await;
                    }
                }
                PlanNode::Parallel { nodes } => {
                    join_all(nodes.iter().map(|n| self.node(n))).await;
                }
                PlanNode::Fetch(fetch) => self.root_fetch(fetch).await,
                PlanNode::Condition {
                    condition,
                    if_clause,
                    else_clause,
                } => {
                    // Validation makes it a Boolean; a missing one reads as false, as when shaping.
                    let value = self.coerced.get(condition).and_then(Value::as_bool);
                    let clause = match value.unwrap_or(false) {
                        true => if_clause,
                        false => else_clause,
                    };
                    if let Some(clause) = clause {
                        self.node(clause).await;
                    }
                }
                PlanNode::Flatten { path, node } => {
                    if let PlanNode::Fetch(fetch) = node.as_ref()
                        && let Some(requires) = &fetch.requires
                    {
                        self.entity_fetch(&[(path, requires)], fetch).await;
                    }
                }
                PlanNode::Batch { inputs, node } => {
                    if let PlanNode::Fetch(fetch) = node.as_ref() {
                        let inputs: Vec<(&Vec<PathSegment>, &Requires)> =
                            inputs.iter().map(|i| (&i.path, &i.requires)).collect();
                        self.entity_fetch(&inputs, fetch).await;
                    }
                }
            }
        }
        .boxed()
    }

    fn tree(&self) -> std::sync::MutexGuard<'_, Tree> {
        self.tree.lock().expect("no panics while merging")
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        let body = self.body(fetch, None);
        let Some(answer) = self.send(fetch, body, &[]).await else {
            return;
        };
        if let Some(data) = answer.data {
            let mut tree = self.tree();
            let root = tree.root;
            tree.merge(root, data);
        }
        self.add_errors(fetch, answer.errors, |path| path.to_vec());
    }

    /// One `_entities` request for the objects at every input's path.
    async fn entity_fetch(&self, inputs: &[(&Vec<PathSegment>, &Requires)], fetch: &FetchNode) {
        let (representations, targets) = entities::represent_all(&self.tree(), inputs);
        if targets.paths.is_empty() {
            return;
        }
        let count = targets.paths.len();
        let body = self.body(fetch, Some(&representations));
        let first_path = &targets.paths[0];
        let Some(answer) = self.send(fetch, body, first_path).await else {
            return;
        };
        let entities = {
            let tree = self.tree();
            match answer.data.and_then(|data| tree.get(data, "_entities")) {
                Some(Val::List(list)) => Some((list, tree.items(list).len())),
                _ => None,
            }
        };
        match entities {
            Some((list, len)) if len == count => {
                entities::merge_entities(&mut self.tree(), list, &targets.objects, inputs)
            }
            Some(_) => self.push_error(
                fetch,
                "the subgraph answered `_entities` with a list of the wrong length",
                first_path,
            ),
            None => {}
        }
        // `_entities.N.rest` becomes the path of the (first) object that representation N came from.
        self.add_errors(fetch, answer.errors, |error_path| {
            let index = error_path.get(1).and_then(Value::as_u64);
            match (error_path.first().and_then(Value::as_str), index) {
                (Some("_entities"), Some(index)) => match targets.paths.get(index as usize) {
                    Some(steps) => steps
                        .iter()
                        .map(Step::to_json)
                        .chain(error_path[2..].iter().cloned())
                        .collect(),
                    None => Vec::new(),
                },
                _ => Vec::new(),
            }
        });
    }

    /// The request body: the fetch's operation and the variables it uses, plus the
    /// representations (already JSON) of an entity fetch.
    fn body(&self, fetch: &FetchNode, representations: Option<&[u8]>) -> Vec<u8> {
        let mut body =
            Vec::with_capacity(fetch.operation.len() + 64 + representations.map_or(0, <[u8]>::len));
        body.extend_from_slice(b"{\"query\":");
        serde_json::to_writer(&mut body, &fetch.operation)
            .expect("writing JSON to memory cannot fail");
        body.extend_from_slice(b",\"variables\":{");
        let used = fetch
            .variable_usages
            .iter()
            .filter_map(|name| Some(name).zip(self.variables.get(name)));
        for (i, (name, value)) in used.enumerate() {
            if i > 0 {
                body.push(b',');
            }
            serde_json::to_writer(&mut body, name).expect("writing JSON to memory cannot fail");
            body.push(b':');
            serde_json::to_writer(&mut body, value).expect("writing JSON to memory cannot fail");
        }
        if let Some(representations) = representations {
            if body.last() != Some(&b'{') {
                body.push(b',');
            }
            body.extend_from_slice(b"\"representations\":[");
            body.extend_from_slice(representations);
            body.push(b']');
        }
        body.extend_from_slice(b"}}");
        body
    }

    /// POSTs the fetch and parses its answer into the tree; a transport, status or body failure
    /// becomes a coded error and `None`.
    async fn send(&self, fetch: &FetchNode, body: Vec<u8>, at: &[Step<'_>]) -> Option<Answer> {
        let subgraphs = self.subgraphs;
        let span = tracing::info_span!(
            "fetch",
            subgraph = %fetch.service_name,
            outcome = tracing::field::Empty
        );
        let headers = &self.headers[fetch.graph];
        let mut traced = headers.clone();
        subgraph_kit::telemetry::inject(&span, &mut traced);
        let address = &subgraphs.addresses[fetch.graph];
        let post = |body| {
            subgraphs
                .transport
                .post(address, traced, body, subgraphs.bounds)
                .instrument(span.clone())
        };
        let started = std::time::Instant::now();
        let bytes = if fetch.operation.starts_with("mutation") {
            post(body).await
        } else {
            // Identical queries with identical headers share one request. The trace context
            // differs per request, so it is not part of that identity.
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (fetch.graph, &body).hash(&mut hasher);
            for (name, value) in headers {
                (name.as_str(), value.as_bytes()).hash(&mut hasher);
            }
            let shared = subgraphs
                .in_flight
                .run(hasher.finish(), || post(body))
                .await;
            shared.as_ref().clone()
        };
        let answer = bytes.and_then(|bytes| self.parse(bytes, &fetch.renames));
        let outcome = match &answer {
            Ok(answer) if !answer.errors.is_empty() => "errors",
            Ok(_) => "ok",
            Err(_) => "failed",
        };
        span.record("outcome", outcome);
        subgraphs
            .metrics
            .subgraph(&fetch.service_name, outcome, started.elapsed());
        match answer {
            Ok(answer) => Some(answer),
            Err(failure) => {
                self.push_error(fetch, &failure, at);
                None
            }
        }
    }

    /// A GraphQL response into the tree: its `data` object, with the keys its fetch aliased
    /// named back; its `errors`, when there are any, read again as plain JSON.
    fn parse(&self, bytes: Bytes, renames: &[Rename]) -> Result<Answer, String> {
        let not_graphql = || "the response is not a GraphQL JSON object".to_owned();
        let (data, has_errors) = {
            let mut tree = self.tree();
            let Ok(Val::Obj(response)) = tree.parse(bytes.clone()) else {
                return Err(not_graphql());
            };
            let data = match tree.get(response, "data") {
                Some(Val::Obj(data)) => Some(data),
                _ => None,
            };
            if let Some(data) = data {
                rename_keys(&mut tree, data, renames);
            }
            let errors = tree.get(response, "errors");
            (data, errors.is_some_and(|e| !matches!(e, Val::Null)))
        };
        let errors = match has_errors {
            true => {
                #[derive(serde::Deserialize)]
                struct Errors {
                    errors: Option<Vec<Value>>,
                }
                serde_json::from_slice::<Errors>(&bytes)
                    .map_err(|_| not_graphql())?
                    .errors
                    .unwrap_or_default()
            }
            false => Vec::new(),
        };
        Ok(Answer { data, errors })
    }

    /// Records a failed fetch as a `SUBREQUEST_HTTP_ERROR` at `at` (the first object it served).
    fn push_error(&self, fetch: &FetchNode, failure: &str, at: &[Step]) {
        tracing::warn!(subgraph = %fetch.service_name, %failure, "subgraph fetch failed");
        let mut error = json!({
            "message": format!("HTTP fetch failed from '{}': {failure}", fetch.service_name),
            "extensions": { "code": "SUBREQUEST_HTTP_ERROR", "serviceName": fetch.service_name },
        });
        if !at.is_empty() {
            error["path"] = Value::Array(at.iter().map(Step::to_json).collect());
        }
        self.errors
            .lock()
            .expect("no panics while merging")
            .push(error);
    }

    fn add_errors(
        &self,
        fetch: &FetchNode,
        errors: Vec<Value>,
        repath: impl Fn(&[Value]) -> Vec<Value>,
    ) {
        if errors.is_empty() {
            return;
        }
        let mut out = self.errors.lock().expect("no panics while merging");
        for error in errors {
            let mut error = match self.subgraphs.include_errors {
                true => error,
                false => redacted(&error),
            };
            if let Some(path) = error
                .get("path")
                .and_then(Value::as_array)
                .map(|p| repath(p))
            {
                match path.is_empty() {
                    true => error.as_object_mut().map(|e| e.remove("path")),
                    false => error
                        .as_object_mut()
                        .map(|e| e.insert("path".into(), Value::Array(path))),
                };
            }
            let extensions = error
                .as_object_mut()
                .map(|e| e.entry("extensions").or_insert_with(|| json!({})));
            if let Some(Value::Object(extensions)) = extensions {
                extensions.insert(
                    "serviceName".into(),
                    Value::String(fetch.service_name.clone()),
                );
            }
            out.push(error);
        }
    }
}

/// A subgraph error with only its path and code kept.
/// Names back, in an answer's `data`, the keys its fetch aliased to stay valid.
fn rename_keys(tree: &mut Tree, data: ObjId, renames: &[Rename]) {
    for rename in renames {
        let Some(from) = tree.key_id(&rename.from) else {
            continue;
        };
        for object in entities::objects_at(tree, Val::Obj(data), &rename.path) {
            let applies = rename
                .type_condition
                .as_ref()
                .is_none_or(|t| tree.get_str(object, "__typename") == Some(t.as_bytes()));
            if applies {
                tree.rename(object, from, &rename.to);
            }
        }
    }
}

fn redacted(error: &Value) -> Value {
    let mut out = json!({ "message": "Subgraph errors redacted" });
    if let Some(path) = error.get("path") {
        out["path"] = path.clone();
    }
    if let Some(code) = error.pointer("/extensions/code") {
        out["extensions"] = json!({ "code": code });
    }
    out
}
