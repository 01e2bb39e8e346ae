//! Execution: walks a [`QueryPlan`], sends each fetch to its subgraph over the pooled HTTP client,
//! and merges every result into one response tree. Fetches under `Parallel` run concurrently;
//! entity representations are deduplicated per fetch.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, join_all};
use mosaic_planner::{FetchNode, PathSegment, PlanNode, Requires, Selection, Selections};
use serde_json::{Map, Value, json};

use tracing::Instrument as _;

use crate::dedup::InFlight;

/// A step of a concrete response path: an object key or a list index.
#[derive(Debug, Clone)]
enum Step<'p> {
    /// Borrowed from the plan's path: no allocation per object.
    Key(&'p str),
    Index(usize),
}

impl Step<'_> {
    fn to_json(&self) -> Value {
        match self {
            Self::Key(key) => Value::String((*key).to_owned()),
            Self::Index(i) => Value::from(*i),
        }
    }
}

/// The subgraphs' addresses and the HTTP client they share.
pub struct Subgraphs {
    pub client: reqwest::Client,
    /// URL per graph id, as the supergraph (or config) says.
    pub urls: Vec<String>,
    pub timeout: Duration,
    /// Pass subgraph error messages on; when off, clients read "Subgraph errors redacted".
    pub include_errors: bool,
    /// Which client headers each subgraph gets.
    pub propagation: crate::headers::Propagation,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Identical queries under way, shared rather than sent twice.
    pub in_flight: InFlight<Result<Value, String>>,
}

/// What one operation's execution accumulates.
struct Run<'a> {
    subgraphs: &'a Subgraphs,
    variables: &'a Map<String, Value>,
    /// Request headers forwarded, per graph (e.g. `authorization`).
    headers: &'a [reqwest::header::HeaderMap],
    data: Mutex<Value>,
    errors: Mutex<Vec<Value>>,
}

/// Executes `node` on top of `data` (empty, or a subscription event); returns the merged data
/// (before projection) and subgraph errors.
pub async fn execute(
    subgraphs: &Subgraphs,
    node: Option<&PlanNode>,
    data: Value,
    variables: &Map<String, Value>,
    headers: &[reqwest::header::HeaderMap],
) -> (Value, Vec<Value>) {
    let run = Run {
        subgraphs,
        variables,
        headers,
        data: Mutex::new(data),
        errors: Mutex::new(Vec::new()),
    };
    if let Some(node) = node {
        run.node(node).await;
    }
    let data = run.data.into_inner().unwrap_or_else(|p| p.into_inner());
    let errors = run.errors.into_inner().unwrap_or_else(|p| p.into_inner());
    (data, errors)
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

    async fn root_fetch(&self, fetch: &FetchNode) {
        let variables = self.used_variables(fetch);
        let Some(mut response) = self.send(fetch, variables, &[]).await else {
            return;
        };
        if let Some(data) = response.get_mut("data").filter(|d| d.is_object()) {
            merge(
                &mut self.data.lock().expect("no panics while merging"),
                data.take(),
            );
        }
        self.add_errors(fetch, &response, |path| path.to_vec());
    }

    /// One `_entities` request for the objects at every input's path.
    async fn entity_fetch(&self, inputs: &[(&Vec<PathSegment>, &Requires)], fetch: &FetchNode) {
        // Representations, deduplicated; each object remembers which one is its, and by which
        // input's rules it merges.
        let mut representations: Vec<Value> = Vec::new();
        let mut targets: Vec<(Vec<Step<'_>>, usize, &Requires)> = Vec::new();
        {
            let data = self.data.lock().expect("no panics while merging");
            // By hash of the representation's JSON; equal hashes are compared in full.
            let mut seen: HashMap<u64, Vec<usize>> = HashMap::new();
            let mut objects = Vec::new();
            for &(path, requires) in inputs {
                objects.clear();
                collect(&data, path, &mut Vec::new(), &mut objects);
                for (steps, object) in objects.drain(..) {
                    let typename = object
                        .get("__typename")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    if typename != requires.type_name
                        && !requires.accepts.iter().any(|t| t == typename)
                    {
                        continue;
                    }
                    let Some(mut representation) = represent(object, &requires.selections) else {
                        continue;
                    };
                    // An `@interfaceObject` subgraph knows the object by its interface's name.
                    representation["__typename"] = Value::String(requires.type_name.clone());
                    let same = seen.entry(json_hash(&representation)).or_default();
                    let index = match same.iter().find(|&&i| representations[i] == representation) {
                        Some(&index) => index,
                        None => {
                            representations.push(representation);
                            same.push(representations.len() - 1);
                            representations.len() - 1
                        }
                    };
                    targets.push((steps, index, requires));
                }
            }
        }
        if representations.is_empty() {
            return;
        }
        let count = representations.len();
        let mut variables = self.used_variables(fetch);
        variables.insert("representations".into(), Value::Array(representations));
        let first_path: Vec<Step<'_>> = targets.first().map(|t| t.0.clone()).unwrap_or_default();
        let Some(mut response) = self.send(fetch, variables, &first_path).await else {
            return;
        };
        match response.pointer_mut("/data/_entities").map(Value::take) {
            Some(Value::Array(entities)) if entities.len() == count => {
                self.merge_entities(entities, &targets)
            }
            Some(Value::Array(_)) => self.push_error(
                fetch,
                "the subgraph answered `_entities` with a list of the wrong length",
                &first_path,
            ),
            _ => {}
        }
        // `_entities.N.rest` becomes the path of the (first) object that representation N came from.
        self.add_errors(fetch, &response, |error_path| {
            let index = error_path
                .get(1)
                .and_then(Value::as_u64)
                .map(|i| i as usize);
            match (error_path.first().and_then(Value::as_str), index) {
                (Some("_entities"), Some(index)) => match targets.iter().find(|t| t.1 == index) {
                    Some((steps, ..)) => steps
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

    /// Merges each answer into the objects it represents.
    fn merge_entities(&self, entities: Vec<Value>, targets: &[(Vec<Step<'_>>, usize, &Requires)]) {
        // Objects sharing a representation get copies; the last one takes the original.
        let mut uses = vec![0usize; entities.len()];
        targets.iter().for_each(|(_, i, _)| uses[*i] += 1);
        let mut entities: Vec<Option<Value>> = entities.into_iter().map(Some).collect();
        let mut data = self.data.lock().expect("no panics while merging");
        for (steps, index, requires) in targets {
            uses[*index] -= 1;
            let entity = match uses[*index] {
                0 => entities[*index].take(),
                _ => entities[*index].clone(),
            };
            if let (Some(entity @ Value::Object(_)), Some(object)) =
                (entity, find_mut(&mut data, steps))
            {
                let known = object.get("__typename").cloned();
                merge(object, entity);
                // An `@interfaceObject` subgraph answers with the interface's name: the
                // concrete type known before stays. The other way round, an object known
                // only by its interface's name takes the concrete type just fetched.
                let keep_known = !requires.accepts.is_empty()
                    || known.as_ref().and_then(Value::as_str) != Some(requires.type_name.as_str());
                if let (true, Some(known)) = (keep_known, known) {
                    object["__typename"] = known;
                }
            }
        }
    }

    fn used_variables(&self, fetch: &FetchNode) -> Map<String, Value> {
        fetch
            .variable_usages
            .iter()
            .filter_map(|name| self.variables.get(name).map(|v| (name.clone(), v.clone())))
            .collect()
    }

    /// POSTs the fetch; a transport, status or body failure becomes a coded error and `None`.
    async fn send(
        &self,
        fetch: &FetchNode,
        variables: Map<String, Value>,
        at: &[Step<'_>],
    ) -> Option<Value> {
        let subgraphs = self.subgraphs;
        let span = tracing::info_span!(
            "fetch",
            subgraph = %fetch.service_name,
            outcome = tracing::field::Empty
        );
        let headers = &self.headers[fetch.graph];
        let body = serde_json::to_vec(&json!({ "query": fetch.operation, "variables": variables }))
            .expect("JSON values serialise");
        let mut traced = headers.clone();
        subgraph_kit::telemetry::inject(&span, &mut traced);
        let request = subgraphs
            .client
            .post(&subgraphs.urls[fetch.graph])
            .headers(traced)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(subgraphs.timeout);
        let started = std::time::Instant::now();
        let answer = if fetch.operation.starts_with("mutation") {
            Arc::new(post(request.body(body)).instrument(span.clone()).await)
        } else {
            // Identical queries with identical headers share one request. The trace context
            // differs per request, so it is not part of that identity.
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (fetch.graph, &body).hash(&mut hasher);
            for (name, value) in headers {
                (name.as_str(), value.as_bytes()).hash(&mut hasher);
            }
            subgraphs
                .in_flight
                .run(hasher.finish(), || {
                    post(request.body(body)).instrument(span.clone())
                })
                .await
        };
        let outcome = match answer.as_ref() {
            Ok(value) if value.get("errors").is_some() => "errors",
            Ok(_) => "ok",
            Err(_) => "failed",
        };
        let took = started.elapsed();
        span.record("outcome", outcome);
        subgraphs
            .metrics
            .subgraph(&fetch.service_name, outcome, took);
        let failure = match Arc::try_unwrap(answer) {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(failure)) => failure,
            Err(shared) => match shared.as_ref() {
                Ok(value) => return Some(value.clone()),
                Err(failure) => failure.clone(),
            },
        };
        self.push_error(fetch, &failure, at);
        None
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
        response: &Value,
        repath: impl Fn(&[Value]) -> Vec<Value>,
    ) {
        let Some(errors) = response.get("errors").and_then(Value::as_array) else {
            return;
        };
        let mut out = self.errors.lock().expect("no panics while merging");
        for error in errors {
            let mut error = match self.subgraphs.include_errors {
                true => error.clone(),
                false => redacted(error),
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

/// Sends one subgraph request; the parsed GraphQL response, or why there is none.
async fn post(request: reqwest::RequestBuilder) -> Result<Value, String> {
    Err(match request.send().await {
        Ok(response) if response.status().is_success() => match response.bytes().await {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(value) if value.is_object() => return Ok(value),
                _ => "the response is not a GraphQL JSON object".to_owned(),
            },
            Err(err) => format!("reading the response failed: {err}"),
        },
        Ok(response) => format!("HTTP status {}", response.status()),
        Err(err) if err.is_timeout() => "the request timed out".to_owned(),
        Err(err) => format!("the request failed: {}", root_cause(&err)),
    })
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// A hash of `value`'s JSON text, computed without building the text.
fn json_hash(value: &Value) -> u64 {
    struct HashWriter(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for HashWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = HashWriter(Default::default());
    serde_json::to_writer(&mut writer, value).expect("hashing cannot fail");
    writer.0.finish()
}

/// Every object at `path` below `value`, with its concrete path.
fn collect<'v, 'p>(
    value: &'v Value,
    path: &'p [PathSegment],
    steps: &mut Vec<Step<'p>>,
    out: &mut Vec<(Vec<Step<'p>>, &'v Value)>,
) {
    match path.split_first() {
        None => {
            if value.is_object() {
                out.push((steps.clone(), value));
            }
        }
        Some((PathSegment::Key(key), rest)) => {
            if let Some(child) = value.get(key) {
                steps.push(Step::Key(key));
                collect(child, rest, steps, out);
                steps.pop();
            }
        }
        Some((PathSegment::List, rest)) => {
            if let Some(items) = value.as_array() {
                for (i, item) in items.iter().enumerate() {
                    steps.push(Step::Index(i));
                    collect(item, rest, steps, out);
                    steps.pop();
                }
            }
        }
    }
}

fn find_mut<'v>(value: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    steps.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(*key),
        Step::Index(i) => value.get_mut(*i),
    })
}

/// The representation of `object`: the fields `selections` name, `None` if one is missing.
fn represent(object: &Value, selections: &Selections) -> Option<Value> {
    let mut out = Map::new();
    for selection in &selections.0 {
        match selection {
            Selection::Field {
                name, selections, ..
            } => {
                let value = object.get(name.as_str())?;
                let value = match (selections, value) {
                    (Some(inner), Value::Object(_)) => represent(value, inner)?,
                    (Some(inner), Value::Array(items)) => Value::Array(
                        items
                            .iter()
                            .map(|i| represent(i, inner))
                            .collect::<Option<_>>()?,
                    ),
                    _ => value.clone(),
                };
                out.insert(name.to_string(), value);
            }
            Selection::InlineFragment {
                type_condition,
                selections,
                ..
            } => {
                let applies = type_condition.as_ref().is_none_or(|t| {
                    object.get("__typename").and_then(Value::as_str) == Some(t.as_str())
                });
                if applies && let Value::Object(inner) = represent(object, selections)? {
                    out.extend(inner);
                }
            }
        }
    }
    Some(Value::Object(out))
}

/// Deep-merges `from` into `into`: objects field by field, equal-length lists item by item.
fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) if into.len() == from.len() => {
            for (existing, value) in into.iter_mut().zip(from) {
                merge(existing, value);
            }
        }
        (into, from) => {
            if !from.is_null() || !into.is_object() {
                *into = from;
            }
        }
    }
}
