//! One request through the gateway: parse → validate against the API schema → pick the operation
//! → plan (cached with the parsed document) → coerce variables → execute → shape the response.

use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::OperationType;
use apollo_compiler::parser::Parser;
use apollo_compiler::validation::Valid;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use lru::LruCache;
use mosaic_planner::{PlanNode, QueryPlan};
use mosaic_supergraph::Supergraph;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Identity;
use crate::authorization::{self, Caller, Rules};
use crate::config::{Config, LimitsConfig, PolicyRule};
use crate::execute::{Subgraphs, execute};
use crate::limits::{self, LimitExceeded};
use crate::response::Projection;

const PLAN_CACHE_SIZE: usize = 1024;
/// Plans of operations with fields cut for some callers, by cut.
const CUT_PLAN_CACHE_SIZE: usize = 256;

/// A GraphQL-over-HTTP request body (or GET parameters, decoded).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphQLRequest {
    pub query: Option<String>,
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
}

/// A request that fails before execution: no `data` in the response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("the request has no `query`")]
    MissingQuery,
    #[error("the operation could not be parsed")]
    Parse(Vec<Value>),
    #[error("the operation is not valid for this schema")]
    Validation(Vec<Value>),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Variables(String),
    #[error("only queries can be sent with GET")]
    MutationOverGet,
    #[error("the operation cannot be planned: {0}")]
    Plan(String),
    #[error(transparent)]
    Limit(LimitExceeded),
    #[error("the operation is too large to parse: {message}")]
    ParserLimit { code: &'static str, message: String },
    #[error("introspection is disabled")]
    IntrospectionDisabled,
    #[error("the caller may not see parts of this operation")]
    Unauthorized(Vec<Value>),
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingQuery => "BAD_REQUEST",
            Self::Parse(_) => "GRAPHQL_PARSE_FAILED",
            Self::Validation(_) => "GRAPHQL_VALIDATION_FAILED",
            Self::UnknownOperation(_) => "GRAPHQL_UNKNOWN_OPERATION_NAME",
            Self::Variables(_) => "BAD_USER_INPUT",
            Self::MutationOverGet => "METHOD_NOT_ALLOWED",
            Self::Plan(_) => "QUERY_PLANNING_FAILED",
            Self::Limit(limit) => limit.code(),
            Self::ParserLimit { code, .. } => code,
            Self::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            Self::Unauthorized(_) => "UNAUTHORIZED_FIELD_OR_TYPE",
        }
    }

    /// The response body's `errors`, each with `extensions.code`.
    pub fn errors(&self) -> Vec<Value> {
        let code = self.code();
        let with_code = |mut error: Value| {
            error["extensions"] = json!({ "code": code });
            error
        };
        match self {
            Self::Parse(errors) | Self::Validation(errors) => {
                errors.iter().cloned().map(with_code).collect()
            }
            Self::Unauthorized(errors) => errors.clone(),
            other => vec![with_code(json!({ "message": other.to_string() }))],
        }
    }
}

/// An operation text's preparation, under way or done; every request sending that text awaits the
/// same one.
type Preparation = Shared<BoxFuture<'static, Result<Arc<Prepared>, RequestError>>>;

/// A parsed, validated operation and its plan, shared by every request that sends it.
pub struct Prepared {
    pub document: Valid<ExecutableDocument>,
    pub operation_name: Option<String>,
    pub plan: Arc<QueryPlan>,
    /// The plan cache's key: the normalised operation's (see [`Gateway::prepare`]).
    key: u64,
    /// Some callers may not see all of it (`@authenticated`, `@requiresScopes`, `@policy`).
    protected: bool,
    /// The size of its last response body: the next one's buffer is sized by it, as the sum of
    /// the subgraph answers can be several times the response and the body is held until sent.
    last_size: AtomicUsize,
}

/// A response body, and what the metrics need to know of it.
pub struct Answer {
    pub body: Vec<u8>,
    pub has_errors: bool,
    /// The executed operation's name.
    pub operation: Option<String>,
}

/// A request checked and planned, ready to execute (once, or per subscription event).
pub struct Ready {
    pub prepared: Arc<Prepared>,
    pub plan: Arc<QueryPlan>,
    denied: Option<authorization::Denied>,
    /// As the client sent them (forwarded to subgraphs).
    pub variables: Map<String, Value>,
    /// With defaults applied (for `@skip`/`@include` while shaping).
    coerced: Map<String, Value>,
    /// The answers to `__schema`/`__type` root fields, as a JSON object by response key.
    introspection: Option<bytes::Bytes>,
}

impl Prepared {
    pub fn operation(&self) -> &apollo_compiler::executable::Operation {
        self.document
            .operations
            .get(self.operation_name.as_deref())
            .expect("the prepared operation is in its document")
    }
}

/// Per-request facts from the transport.
pub struct RequestContext {
    /// Headers passed on to subgraphs, per graph.
    pub forwarded: Vec<reqwest::header::HeaderMap>,
    pub is_get: bool,
    /// The client asked for the plan (`x-mosaic-query-plan: true`).
    pub wants_plan: bool,
    /// The verified caller; `None` when anonymous.
    pub identity: Option<Identity>,
}

impl RequestContext {
    /// A POST-like request from `identity` carrying `headers`, without a plan asked for.
    pub fn new(
        gateway: &Gateway,
        headers: &axum::http::HeaderMap,
        identity: Option<Identity>,
    ) -> Self {
        Self {
            forwarded: gateway
                .subgraphs
                .propagation
                .apply(headers, identity.as_ref()),
            is_get: false,
            wants_plan: false,
            identity,
        }
    }
}

/// What the configuration decides about serving one supergraph.
pub struct Settings {
    pub limits: LimitsConfig,
    /// Whether plans may be returned in `extensions.queryPlan` (a development aid).
    pub expose_plans: bool,
    pub introspection: bool,
    /// Refuse operations with unauthorized parts instead of nulling them.
    pub reject_unauthorized: bool,
    pub policies: std::collections::BTreeMap<String, PolicyRule>,
    /// Bound on one whole request, all its fetches included.
    pub request_timeout: std::time::Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            limits: config.limits.clone(),
            expose_plans: config.expose_query_plans(),
            introspection: config.introspection(),
            reject_unauthorized: config.authorization.reject_unauthorized,
            policies: config.authorization.policies.clone(),
            request_timeout: std::time::Duration::from_secs(config.limits.request_timeout_secs),
        }
    }
}

/// Everything that serves one supergraph; swapped whole when the supergraph changes.
pub struct Gateway {
    pub supergraph: Arc<Supergraph>,
    pub subgraphs: Subgraphs,
    pub settings: Arc<Settings>,
    rules: Rules,
    /// By operation text: a repeated request is neither parsed nor validated again.
    cache: Mutex<LruCache<u64, Preparation>>,
    /// By normalised operation: the same operation sent with other spacing, comments or
    /// formatting is planned once.
    plans: Mutex<LruCache<u64, Arc<QueryPlan>>>,
    cut_plans: Mutex<LruCache<u64, Arc<QueryPlan>>>,
}

impl Gateway {
    pub fn new(supergraph: Arc<Supergraph>, subgraphs: Subgraphs, settings: Arc<Settings>) -> Self {
        let size = NonZeroUsize::new(PLAN_CACHE_SIZE).expect("a non-zero constant");
        let cut_size = NonZeroUsize::new(CUT_PLAN_CACHE_SIZE).expect("a non-zero constant");
        Self {
            rules: Rules::from_supergraph(&supergraph.schema),
            supergraph,
            subgraphs,
            settings,
            cache: Mutex::new(LruCache::new(size)),
            plans: Mutex::new(LruCache::new(size)),
            cut_plans: Mutex::new(LruCache::new(cut_size)),
        }
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        self.settings.request_timeout
    }

    /// The prepared operation for `query` and `operation_name`: the outcome cached for the same
    /// text, failures included (they are as certain as successes), or a new one. Concurrent
    /// first requests for one text share a single preparation. It runs on the blocking pool, so
    /// planning a large operation does not stall the runtime's workers, a request timing out
    /// while it waits does not cancel it (it completes and is cached), and a planner panic
    /// becomes a `QUERY_PLANNING_FAILED` error instead of a dropped connection.
    pub async fn prepare(
        self: &Arc<Self>,
        query: &str,
        operation_name: Option<&str>,
    ) -> Result<Arc<Prepared>, RequestError> {
        let key = self.key_of(query, operation_name);
        let preparation = {
            let mut cache = self.cache.lock().expect("no panics under the cache lock");
            if let Some(done) = cache.get(&key).and_then(|p| p.peek().cloned()) {
                self.subgraphs.metrics.plan_cache_hits.inc();
                return done;
            }
            cache
                .get_or_insert(key, || self.preparation(query, operation_name))
                .clone()
        };
        preparation.await
    }

    /// A preparation of `query`, started when first awaited (not under the cache's lock). It
    /// holds the gateway weakly: kept in the gateway's own cache, it must not keep it alive.
    fn preparation(self: &Arc<Self>, query: &str, operation_name: Option<&str>) -> Preparation {
        let gateway = Arc::downgrade(self);
        let (query, name) = (query.to_owned(), operation_name.map(str::to_owned));
        async move {
            let gateway = gateway
                .upgrade()
                .ok_or(RequestError::Plan("the gateway is gone".into()))?;
            // The `plan` span stays in the trace of the request that started it.
            let request = tracing::Span::current();
            let compile = move || request.in_scope(|| gateway.compile(&query, name.as_deref()));
            let outcome = tokio::task::spawn_blocking(compile).await;
            outcome.unwrap_or_else(|_| Err(RequestError::Plan("the planner panicked".into())))
        }
        .boxed()
        .shared()
    }

    /// Parses, validates and plans `query` (no cache by text; see [`Gateway::prepare`]). Plans
    /// are cached by the normalised operation (the document printed back without comments or
    /// formatting), its name and the supergraph.
    pub fn compile(
        &self,
        query: &str,
        operation_name: Option<&str>,
    ) -> Result<Arc<Prepared>, RequestError> {
        let started = std::time::Instant::now();
        let _plan = tracing::info_span!("plan").entered();
        let schema = &self.supergraph.api_schema;
        let limits = &self.settings.limits;
        let ast = Parser::new()
            .recursion_limit(limits.max_recursion)
            .token_limit(limits.max_tokens)
            .parse_ast(query, "operation.graphql")
            .map_err(parse_error)?;
        limits::check(&ast, limits).map_err(RequestError::Limit)?;
        let document = ast.to_executable_validate(schema).map_err(|e| {
            RequestError::Validation(e.errors.iter().map(|d| json_error(d.to_json())).collect())
        })?;
        let operation = document
            .operations
            .get(operation_name)
            .map_err(|e| RequestError::UnknownOperation(e.message().to_string()))?;
        let normalised = document.serialize().no_indent().to_string();
        let key = self.key_of(&normalised, operation.name.as_deref());
        let plan = self.plan(key, &document, operation)?;
        let protected = !self
            .rules
            .check(&document, &operation.selection_set, &Caller::ANONYMOUS)
            .is_empty();
        let prepared = Arc::new(Prepared {
            operation_name: operation.name.as_ref().map(|n| n.to_string()),
            document,
            plan,
            key,
            protected,
            last_size: AtomicUsize::new(0),
        });
        self.subgraphs.metrics.planned(started.elapsed());
        Ok(prepared)
    }

    fn key_of(&self, operation: &str, name: Option<&str>) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (operation, name, self.supergraph.hash).hash(&mut hasher);
        hasher.finish()
    }

    /// The plan cached for the normalised operation `key`, or a new one.
    fn plan(
        &self,
        key: u64,
        document: &Valid<ExecutableDocument>,
        operation: &apollo_compiler::executable::Operation,
    ) -> Result<Arc<QueryPlan>, RequestError> {
        let lock = || self.plans.lock().expect("no panics under the cache lock");
        if let Some(plan) = lock().get(&key) {
            return Ok(plan.clone());
        }
        let plan = mosaic_planner::plan(&self.supergraph, document, operation)
            .map_err(|e| RequestError::Plan(e.to_string()))?;
        let plan = Arc::new(plan);
        lock().put(key, plan.clone());
        Ok(plan)
    }

    /// Runs one request to a response body.
    pub async fn run(
        self: &Arc<Self>,
        request: GraphQLRequest,
        context: &RequestContext,
    ) -> Result<Answer, RequestError> {
        let ready = self.ready(request, context).await?;
        let node = ready.plan.node.as_ref();
        let (body, has_errors) = self.respond(&ready, node, None, Vec::new(), context).await;
        Ok(Answer {
            body,
            has_errors,
            operation: ready.prepared.operation_name.clone(),
        })
    }

    /// Everything before execution: the prepared operation, the plan this caller may run,
    /// coerced variables and introspection answers.
    pub async fn ready(
        self: &Arc<Self>,
        request: GraphQLRequest,
        context: &RequestContext,
    ) -> Result<Ready, RequestError> {
        let query = request.query.as_deref().ok_or(RequestError::MissingQuery)?;
        let prepared = self
            .prepare(query, request.operation_name.as_deref())
            .await?;
        let operation = prepared.operation();
        if context.is_get && operation.operation_type != OperationType::Query {
            return Err(RequestError::MutationOverGet);
        }
        let (plan, denied) = self.authorize(&prepared, operation, context)?;
        let variables = request.variables.unwrap_or_default();
        let coerced = apollo_compiler::request::coerce_variable_values(
            &self.supergraph.api_schema,
            operation,
            &to_bytes_map(&variables),
        )
        .map_err(|e| RequestError::Variables(e.message().to_string()))?;
        let introspection = self.introspect(&prepared, operation, &coerced)?;
        let coerced = serde_json::to_value(coerced.into_inner())
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        Ok(Ready {
            prepared,
            plan,
            denied,
            variables,
            coerced,
            introspection,
        })
    }

    /// Executes `node` (the plan, or what follows a subscription event) on top of `data` and
    /// shapes the response body; also tells whether it holds errors.
    pub async fn respond(
        &self,
        ready: &Ready,
        node: Option<&PlanNode>,
        data: Option<bytes::Bytes>,
        mut errors: Vec<Value>,
        context: &RequestContext,
    ) -> (Vec<u8>, bool) {
        if let Some(denied) = &ready.denied {
            errors.extend(denied.errors.iter().cloned());
        }
        // Held until the response is written: the answers and tree live that long.
        let _turn = self.subgraphs.executions.acquire().await;
        let (mut tree, mut subgraph_errors) = execute(
            &self.subgraphs,
            node,
            data,
            &ready.variables,
            &ready.coerced,
            &context.forwarded,
        )
        .await;
        errors.append(&mut subgraph_errors);
        if let Some(introspection) = &ready.introspection
            && let Ok(crate::tree::Val::Obj(answers)) = tree.parse(introspection.clone())
        {
            let root = tree.root;
            tree.merge(root, answers);
        }
        let schema = &self.supergraph.api_schema;
        let mut projection = Projection::new(schema, &ready.prepared.document, &ready.coerced);
        projection.known_errors = &errors;
        projection.denied = ready.denied.as_ref();
        let last_size = ready.prepared.last_size.load(Ordering::Relaxed);
        let capacity = match last_size {
            0 => 4096 + tree.size_hint(),
            size => size + size / 8,
        };
        let mut body = Vec::with_capacity(capacity);
        body.extend_from_slice(b"{\"data\":");
        projection.write_data(ready.prepared.operation(), &tree, &mut body);
        errors.append(&mut projection.new_errors);
        if !errors.is_empty() {
            body.extend_from_slice(b",\"errors\":");
            serde_json::to_writer(&mut body, &errors).expect("writing JSON to memory cannot fail");
        }
        if context.wants_plan && self.settings.expose_plans {
            let plan = json!({ "queryPlan": {
                "text": ready.plan.to_string(),
                "node": serde_json::to_value(&ready.plan.node).unwrap_or_default(),
            } });
            body.extend_from_slice(b",\"extensions\":");
            serde_json::to_writer(&mut body, &plan).expect("writing JSON to memory cannot fail");
        }
        body.push(b'}');
        ready
            .prepared
            .last_size
            .store(body.len(), Ordering::Relaxed);
        (body, !errors.is_empty())
    }

    /// Answers `__schema` and `__type` from the API schema, when the operation asks.
    fn introspect(
        &self,
        prepared: &Prepared,
        operation: &apollo_compiler::executable::Operation,
        variables: &Valid<apollo_compiler::response::JsonMap>,
    ) -> Result<Option<bytes::Bytes>, RequestError> {
        let asks = operation
            .root_fields(&prepared.document)
            .any(|f| f.name == "__schema" || f.name == "__type");
        if !asks {
            return Ok(None);
        }
        if !self.settings.introspection {
            return Err(RequestError::IntrospectionDisabled);
        }
        let schema = &self.supergraph.api_schema;
        apollo_compiler::introspection::check_max_depth(&prepared.document, operation).map_err(
            |e| RequestError::Validation(vec![json!({ "message": e.message().to_string() })]),
        )?;
        let response = apollo_compiler::introspection::partial_execute(
            schema,
            &self.supergraph.api_implementers,
            &prepared.document,
            operation,
            variables,
        )
        .map_err(|e| {
            RequestError::Validation(vec![json!({ "message": e.message().to_string() })])
        })?;
        Ok(serde_json::to_vec(&response.data).ok().map(Into::into))
    }
}

impl Gateway {
    /// The plan this caller may run, and the errors for what it may not see: the prepared plan
    /// when nothing is cut, else the plan of the operation without the cut fields (cached per cut).
    fn authorize(
        &self,
        prepared: &Prepared,
        operation: &apollo_compiler::executable::Operation,
        context: &RequestContext,
    ) -> Result<(Arc<QueryPlan>, Option<authorization::Denied>), RequestError> {
        if !prepared.protected {
            return Ok((prepared.plan.clone(), None));
        }
        let caller = Caller {
            identity: context.identity.as_ref(),
            policies: &self.settings.policies,
        };
        let schema = &self.supergraph.api_schema;
        let denied = self
            .rules
            .check(&prepared.document, &operation.selection_set, &caller);
        if denied.is_empty() {
            return Ok((prepared.plan.clone(), None));
        }
        if self.settings.reject_unauthorized {
            return Err(RequestError::Unauthorized(denied.errors));
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (prepared.key, denied.signature()).hash(&mut hasher);
        let key = hasher.finish();
        let cached = self
            .cut_plans
            .lock()
            .expect("no panics under the cache lock")
            .get(&key)
            .cloned();
        let plan = match cached {
            Some(plan) => plan,
            None => {
                let cut = authorization::cut(&prepared.document, schema, &denied);
                let cut = Valid::assume_valid(cut);
                let operation = cut
                    .operations
                    .get(prepared.operation_name.as_deref())
                    .expect("cutting keeps the operations");
                let plan = mosaic_planner::plan(&self.supergraph, &cut, operation)
                    .map_err(|e| RequestError::Plan(e.to_string()))?;
                let plan = Arc::new(plan);
                self.cut_plans
                    .lock()
                    .expect("no panics under the cache lock")
                    .put(key, plan.clone());
                plan
            }
        };
        Ok((plan, Some(denied)))
    }
}

/// A parse failure: a parser limit gets its own code, anything else is a syntax error.
fn parse_error(
    e: apollo_compiler::validation::WithErrors<apollo_compiler::ast::Document>,
) -> RequestError {
    let limit = e.errors.iter().find_map(|d| {
        let message = d.error.to_string();
        let code = match () {
            _ if message.contains("token limit") => "MAX_TOKENS_LIMIT",
            _ if message.contains("recursion limit") => "MAX_RECURSION_LIMIT",
            _ => return None,
        };
        Some(RequestError::ParserLimit { code, message })
    });
    match limit {
        Some(error) => error,
        None => RequestError::Parse(e.errors.iter().map(|d| json_error(d.to_json())).collect()),
    }
}

fn json_error(error: apollo_compiler::response::GraphQLError) -> Value {
    serde_json::to_value(error).unwrap_or_else(|_| json!({ "message": "invalid operation" }))
}

fn to_bytes_map(variables: &Map<String, Value>) -> apollo_compiler::response::JsonMap {
    variables
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().into(),
                apollo_compiler::response::JsonValue::from(v.clone()),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::{GatewayOptions, build};
    use crate::transport::Transport;

    const SUPERGRAPH: &str = include_str!("../../../schema/supergraph.graphql");

    fn gateway() -> Arc<Gateway> {
        let options = GatewayOptions::default();
        let gateway = build(SUPERGRAPH, &options, Transport::new(false));
        Arc::new(gateway.expect("the demo supergraph loads"))
    }

    #[test]
    fn one_operation_formatted_differently_is_planned_once() {
        let gateway = gateway();
        let compact = r#"query Top{topProducts(first:2){name reviews{body}}}"#;
        let spaced = "# the same operation\nquery Top {\n  topProducts(first: 2) {\n    name\n    reviews { body }\n  }\n}\n";
        let other = r#"query Top{topProducts(first:3){name reviews{body}}}"#;
        let first = gateway.compile(compact, None).expect("valid");
        let again = gateway.compile(spaced, Some("Top")).expect("valid");
        assert!(!Arc::ptr_eq(&first, &again), "another text is parsed again");
        assert!(
            Arc::ptr_eq(&first.plan, &again.plan),
            "but not planned again"
        );
        let different = gateway.compile(other, None).expect("valid");
        assert!(!Arc::ptr_eq(&first.plan, &different.plan));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_requests_for_one_operation_share_one_preparation() {
        let gateway = gateway();
        let query = "{ topProducts(first: 2) { name reviews { body author { username } } } }";
        let start = Arc::new(tokio::sync::Barrier::new(32));
        let requests = (0..32).map(|_| {
            let (gateway, start) = (gateway.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                gateway.prepare(query, None).await
            })
        });
        let prepared: Vec<_> = futures::future::join_all(requests).await;
        let first = prepared[0]
            .as_ref()
            .expect("joined")
            .as_ref()
            .expect("valid");
        for other in &prepared {
            let other = other.as_ref().expect("joined").as_ref().expect("valid");
            assert!(Arc::ptr_eq(first, other), "one preparation, shared");
        }
        assert_eq!(gateway.subgraphs.metrics.plan_cache_misses.get(), 1);
        let hits = gateway.subgraphs.metrics.plan_cache_hits.get();
        gateway.prepare(query, None).await.expect("cached");
        assert_eq!(gateway.subgraphs.metrics.plan_cache_hits.get(), hits + 1);
    }

    #[tokio::test]
    async fn a_failed_preparation_is_cached_like_a_successful_one() {
        let gateway = gateway();
        for _ in 0..2 {
            let err = gateway.prepare("{ nope }", None).await.err();
            assert!(matches!(err, Some(RequestError::Validation(_))), "{err:?}");
        }
        assert_eq!(gateway.subgraphs.metrics.plan_cache_hits.get(), 1);
    }
}
