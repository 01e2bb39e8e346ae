//! GraphQL over HTTP at `/graphql`: POST with JSON, GET for queries, responses as
//! `application/graphql-response+json` or `application/json` by `Accept`, with the status codes
//! the GraphQL-over-HTTP spec gives for each.

use std::sync::{Arc, RwLock};

use async_graphql_axum::GraphQLProtocol;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequest, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use futures::future::join_all;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument as _;

use crate::auth::{Authenticator, Identity};
use crate::config::{Config, CsrfConfig};
use crate::metrics::Metrics;
use crate::pipeline::{Gateway, GraphQLRequest, RequestContext, RequestError};
use crate::ws;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Asks for the query plan in `extensions.queryPlan` (honoured when plans are exposed).
const QUERY_PLAN_HEADER: &str = "x-mosaic-query-plan";
/// Content types a browser sends cross-site without a CORS preflight.
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// The gateway now serving; replaced whole on supergraph reload.
pub type Current = Arc<RwLock<Arc<Gateway>>>;

/// What the HTTP edge needs besides the gateway: identity, CSRF rules, batch and load bounds.
#[derive(Clone)]
pub struct Edge {
    pub current: Current,
    pub auth: Arc<Authenticator>,
    pub csrf: Arc<CsrfConfig>,
    pub max_batch_size: usize,
    /// One permit per request being served; none left means the gateway sheds load.
    pub permits: Arc<Semaphore>,
    /// One permit per open websocket.
    pub ws_permits: Arc<Semaphore>,
    pub max_subscriptions_per_connection: usize,
    pub max_message_bytes: usize,
    pub websocket_init_timeout: std::time::Duration,
    pub metrics: Arc<Metrics>,
    /// Becomes `true` when the gateway is shutting down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Edge {
    /// The gateway serving now (a reload swaps it; a request keeps the one it started with).
    pub fn gateway(&self) -> Arc<Gateway> {
        self.current
            .read()
            .expect("no panics while swapping")
            .clone()
    }
}

pub fn router(edge: Edge, config: &Config) -> Router {
    let mut router = Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route(
            "/health",
            get(|| async { axum::Json(json!({ "status": "ok" })) }),
        )
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn(with_request_id))
        .layer(DefaultBodyLimit::max(config.limits.max_body_bytes))
        .with_state(edge);
    if config.playground() {
        router = router.merge(crate::playground::router());
    }
    let origins = config.cors_origins();
    if !origins.is_empty() {
        let allow = match origins.iter().any(|o| o == "*") {
            true => AllowOrigin::any(),
            false => {
                AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::try_from(o).ok()))
            }
        };
        let allow_headers = [
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static(QUERY_PLAN_HEADER),
            header::HeaderName::from_static("x-mosaic-csrf"),
            header::HeaderName::from_static("apollo-require-preflight"),
        ];
        router = router.layer(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(allow_headers)
                .allow_credentials(config.cors.allow_credentials),
        );
    }
    router
}

/// POST: the cheap checks (CSRF, load, identity) run on the headers before the body is read, so
/// refused requests never hold a body buffer.
async fn post_graphql(State(edge): State<Edge>, request: axum::extract::Request) -> Response {
    let headers = request.headers().clone();
    let json_response = wants_legacy_json(&headers);
    let (identity, _permit) = match admit(&edge, &headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let body: Result<Bytes, BytesRejection> = Bytes::from_request(request, &()).await;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = "the request body is larger than the gateway accepts";
            return error_response(
                rejection.status(),
                "PAYLOAD_TOO_LARGE",
                message,
                json_response,
            );
        }
        Err(rejection) => {
            let message = rejection.body_text();
            return error_response(rejection.status(), "BAD_REQUEST", &message, json_response);
        }
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return serve_batch(&edge, &body, &headers, identity, json_response).await;
    }
    match serde_json::from_slice::<GraphQLRequest>(&body) {
        Ok(request) if wants_event_stream(&headers) => sse(&edge, identity, &headers, request),
        Ok(request) => {
            let (status, body) =
                serve(&edge, request, &headers, identity, false, json_response).await;
            respond_bytes(status, body, json_response)
        }
        Err(err) => {
            let message = format!("the body is not a GraphQL request: {err}");
            error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &message,
                json_response,
            )
        }
    }
}

async fn get_graphql(
    State(edge): State<Edge>,
    headers: HeaderMap,
    websocket: Result<(WebSocketUpgrade, GraphQLProtocol), Response>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    if let Ok((upgrade, protocol)) = websocket {
        return ws::upgrade(edge, upgrade, protocol, headers).await;
    }
    let json_response = wants_legacy_json(&headers);
    let (identity, _permit) = match admit(&edge, &headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let request = params
        .map_err(|e| e.body_text())
        .and_then(|Query(params)| parse_get(params));
    match request {
        Ok(request) if wants_event_stream(&headers) => sse(&edge, identity, &headers, request),
        Ok(request) => {
            let (status, body) =
                serve(&edge, request, &headers, identity, true, json_response).await;
            respond_bytes(status, body, json_response)
        }
        Err(message) => error_response(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &message,
            json_response,
        ),
    }
}

/// Names one request in logs, responses and subgraph calls.
pub const REQUEST_ID: &str = "x-request-id";

/// Gives every request an id: the client's `x-request-id` when it is short and plain, else a
/// new one. The id goes back in the response, onto every log line of the request (a span) and
/// to the subgraphs.
async fn with_request_id(mut request: axum::extract::Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .filter(|v| {
            v.len() <= 128
                && v.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        })
        .cloned()
        .unwrap_or_else(new_request_id);
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let span = tracing::info_span!("request", id = %id.to_str().unwrap_or_default());
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

fn new_request_id() -> HeaderValue {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    HeaderValue::try_from(format!("{started:x}-{n:x}")).expect("hex digits are a valid header")
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// GraphQL over Server-Sent Events (the "distinct connections" mode of the GraphQL-over-SSE
/// protocol): one `next` event per response (one for a query, one per event for a subscription),
/// then `complete`. For clients that cannot open a websocket; it counts against the websocket
/// connection limit, as it is as long-lived.
fn sse(
    edge: &Edge,
    identity: Option<Identity>,
    headers: &HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let Ok(permit) = edge.ws_permits.clone().try_acquire_owned() else {
        let message = "too many long-lived connections";
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_OVERLOADED",
            message,
            false,
        );
    };
    let next = ws::responses(edge.clone(), identity, headers.clone(), request).map(|response| {
        let data = serde_json::to_string(&response).expect("responses serialise");
        Event::default().event("next").data(data)
    });
    let complete = futures::stream::once(async { Event::default().event("complete").data("") });
    let events = next.chain(complete).map(move |event| {
        let _held = &permit;
        Ok::<_, std::convert::Infallible>(event)
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `/metrics`: Prometheus text exposition.
async fn metrics(State(edge): State<Edge>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        edge.metrics.render(),
    )
        .into_response()
}

/// How long `/ready` waits for each subgraph.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `/ready`: a supergraph is loaded and every subgraph answers `{ __typename }`; 503 naming the
/// ones that do not.
async fn ready(State(edge): State<Edge>) -> Response {
    let gateway = edge.gateway();
    let subgraphs = &gateway.subgraphs;
    let probes = gateway
        .supergraph
        .graphs
        .iter()
        .zip(&subgraphs.addresses)
        .map(|(graph, address)| {
            let body = br#"{"query":"{ __typename }"}"#.to_vec();
            let bounds = crate::transport::Bounds {
                timeout: READY_TIMEOUT,
                ..subgraphs.bounds
            };
            let probe = subgraphs
                .transport
                .post(address, HeaderMap::new(), body, bounds);
            async move { probe.await.is_err().then(|| graph.name.clone()) }
        });
    let down: Vec<String> = join_all(probes).await.into_iter().flatten().collect();
    match down.is_empty() {
        true => axum::Json(json!({ "status": "ready" })).into_response(),
        false => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "subgraphs_down": down })),
        )
            .into_response(),
    }
}

/// The checks before any work: CSRF, load, identity. A refusal is the response to send.
async fn admit(
    edge: &Edge,
    headers: &HeaderMap,
) -> Result<(Option<Identity>, tokio::sync::OwnedSemaphorePermit), Response> {
    let json_response = wants_legacy_json(headers);
    if edge.csrf.enabled && !preflighted(headers, &edge.csrf) {
        let message = "this request could come from a cross-site form: send `content-type: \
                       application/json` or an `x-mosaic-csrf` header";
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "CSRF_PREVENTION",
            message,
            json_response,
        ));
    }
    let Ok(permit) = edge.permits.clone().try_acquire_owned() else {
        let message = "the gateway is serving as many requests as it may; retry shortly";
        return Err(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_OVERLOADED",
            message,
            json_response,
        ));
    };
    match edge.auth.authenticate(headers).await {
        Ok(identity) => Ok((identity, permit)),
        Err(reason) => {
            tracing::info!(%reason, "refused credentials");
            let mut response = error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "the request's credentials are not valid",
                json_response,
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Err(response)
        }
    }
}

/// A browser preflights requests with a non-simple content type or a custom header.
fn preflighted(headers: &HeaderMap, csrf: &CsrfConfig) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let non_simple = content_type.is_some_and(|t| !SIMPLE_CONTENT_TYPES.contains(&t.as_str()));
    non_simple
        || csrf
            .required_headers
            .iter()
            .any(|h| headers.contains_key(h.as_str()))
}

/// A JSON array of requests: run together, answered as an array in the same order.
async fn serve_batch(
    edge: &Edge,
    body: &[u8],
    headers: &HeaderMap,
    identity: Option<Identity>,
    json_response: bool,
) -> Response {
    let requests = match serde_json::from_slice::<Vec<GraphQLRequest>>(body) {
        Ok(requests) => requests,
        Err(err) => {
            let message = format!("the body is not a batch of GraphQL requests: {err}");
            return error_response(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &message,
                json_response,
            );
        }
    };
    if requests.len() > edge.max_batch_size {
        let message = format!(
            "a batch may hold at most {} operations",
            edge.max_batch_size
        );
        return error_response(
            StatusCode::BAD_REQUEST,
            "BATCH_LIMIT_EXCEEDED",
            &message,
            json_response,
        );
    }
    let answers = join_all(requests.into_iter().map(|request| {
        serve(
            edge,
            request,
            headers,
            identity.clone(),
            false,
            json_response,
        )
    }))
    .await;
    let mut out = vec![b'['];
    for (i, (_, body)) in answers.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&body);
    }
    out.push(b']');
    respond_bytes(StatusCode::OK, out, json_response)
}

/// Serves one operation and counts it in the metrics.
async fn serve(
    edge: &Edge,
    request: GraphQLRequest,
    headers: &HeaderMap,
    identity: Option<Identity>,
    is_get: bool,
    json_response: bool,
) -> (StatusCode, Vec<u8>) {
    let started = std::time::Instant::now();
    let named = request.operation_name.clone();
    let (status, body, outcome, operation) =
        answer(edge, request, headers, identity, is_get, json_response).await;
    let operation = operation.or(named);
    edge.metrics
        .request(operation.as_deref(), outcome, started.elapsed());
    (status, body)
}

/// Status, body, outcome for the metrics, and the executed operation's name when known.
type Served = (StatusCode, Vec<u8>, &'static str, Option<String>);

async fn answer(
    edge: &Edge,
    request: GraphQLRequest,
    headers: &HeaderMap,
    identity: Option<Identity>,
    is_get: bool,
    json_response: bool,
) -> Served {
    let gateway = edge.gateway();
    let context = RequestContext {
        is_get,
        wants_plan: headers
            .get(QUERY_PLAN_HEADER)
            .is_some_and(|v| v.as_bytes() == b"true"),
        ..RequestContext::new(&gateway, headers, identity)
    };
    let timeout = gateway.request_timeout();
    let Ok(result) = tokio::time::timeout(timeout, gateway.run(request, &context)).await else {
        let message = format!("the request took longer than {} s", timeout.as_secs());
        let (status, body) = error_body(StatusCode::GATEWAY_TIMEOUT, "GATEWAY_TIMEOUT", &message);
        return (status, body, "errors", None);
    };
    match result {
        Ok(answer) => {
            let outcome = if answer.has_errors { "errors" } else { "ok" };
            (StatusCode::OK, answer.body, outcome, answer.operation)
        }
        Err(err) => {
            let status = match (&err, json_response) {
                (RequestError::MutationOverGet, _) => StatusCode::METHOD_NOT_ALLOWED,
                (RequestError::MissingQuery, _) => StatusCode::BAD_REQUEST,
                (RequestError::Plan(_), _) => StatusCode::INTERNAL_SERVER_ERROR,
                (RequestError::Unauthorized(_), _) => StatusCode::FORBIDDEN,
                // With `application/json`, errors in the document keep HTTP 200 (legacy clients).
                (_, true) => StatusCode::OK,
                _ => StatusCode::BAD_REQUEST,
            };
            let body = json!({ "errors": err.errors() });
            let body = serde_json::to_vec(&body).expect("JSON values serialise");
            (status, body, "rejected", None)
        }
    }
}

fn error_body(status: StatusCode, code: &str, message: &str) -> (StatusCode, Vec<u8>) {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        serde_json::to_vec(&body).expect("JSON values serialise"),
    )
}

/// `application/json` unless the client accepts the spec's `application/graphql-response+json`
/// (no `Accept`, or `*/*`, means a legacy client).
fn wants_legacy_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !accept.contains(GRAPHQL_RESPONSE_JSON)
}

fn respond_bytes(status: StatusCode, body: Vec<u8>, json_response: bool) -> Response {
    let content_type = if json_response {
        "application/json"
    } else {
        GRAPHQL_RESPONSE_JSON
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

fn error_response(status: StatusCode, code: &str, message: &str, json_response: bool) -> Response {
    let (status, body) = error_body(status, code, message);
    respond_bytes(status, body, json_response)
}

/// GET parameters: `variables` arrives as JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

fn parse_get(params: GetParams) -> Result<GraphQLRequest, String> {
    let variables = params
        .variables
        .map(|v| {
            serde_json::from_str(&v).map_err(|e| format!("`variables` is not a JSON object: {e}"))
        })
        .transpose()?;
    Ok(GraphQLRequest {
        query: params.query,
        operation_name: params.operation_name,
        variables,
    })
}
