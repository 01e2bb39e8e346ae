//! HTTP and websocket serving of a subgraph's schema at `/graphql`, with the caller resolved from
//! the `Authorization` header (HTTP, websocket upgrade) or the `connection_init` payload.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument as _;

use async_graphql::{Data, Executor, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, Request, State, WebSocketUpgrade,
};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::cache::{CallerRead, InvalidateOnWrite, ResponseCache};
use crate::caller::{Auth, AuthError, Caller};
use crate::{Context, Subgraph};

/// How long a websocket client may stay silent before the server drops it.
const WS_KEEPALIVE: Duration = Duration::from_secs(60);
/// Largest request body or websocket message: far above any real operation, far below harm.
const MAX_BODY_BYTES: usize = 1024 * 1024;

struct Endpoint<E> {
    executor: E,
    auth: Arc<Auth>,
    cache: Option<Arc<ResponseCache>>,
}

/// `/graphql` for `executor`: POST and GET queries, websocket subscriptions on the same path.
/// With a `cache`, POSTed read-only operations are answered from it (see [`crate::cache`]).
pub fn graphql_router<E: Executor>(
    executor: E,
    auth: Arc<Auth>,
    cache: Option<Arc<ResponseCache>>,
) -> Router {
    let endpoint = Endpoint {
        executor,
        auth,
        cache,
    };
    Router::new()
        .route("/graphql", get(get_graphql::<E>).post(post_graphql::<E>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(endpoint))
}

/// POST with a JSON body. The body is read whole under [`MAX_BODY_BYTES`] before parsing.
async fn post_graphql<E: Executor>(
    State(endpoint): State<Arc<Endpoint<E>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            return graphql_error(status, "BAD_REQUEST", &rejection.body_text());
        }
    };
    if let Some(cache) = &endpoint.cache {
        return execute_cached(&endpoint, cache, &headers, body).await;
    }
    match serde_json::from_slice(&body) {
        Ok(request) => execute(&endpoint, &headers, request).await,
        Err(err) => not_a_request(&err),
    }
}

/// HTTP 400 for a body that is not a GraphQL request.
fn not_a_request(err: &serde_json::Error) -> Response {
    let message = format!("the body is not a GraphQL request: {err}");
    graphql_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message)
}

/// [`execute`] through the response cache: a live answer is sent as it was stored; otherwise
/// the operation runs and its answer is stored when it has no errors.
async fn execute_cached<E: Executor>(
    endpoint: &Endpoint<E>,
    cache: &ResponseCache,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match endpoint.auth.caller_from_headers(headers) {
        Ok(caller) => caller,
        Err(err) => return unauthenticated(&err),
    };
    if let Some(answer) = cache.get(&body, &caller) {
        return graphql_body(answer);
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return not_a_request(&err),
    };
    let generation = cache.generation();
    let read = Arc::new(CallerRead::default());
    let request = request.data(read.clone());
    let response = run(endpoint, headers, caller.clone(), request).await;
    // Only plain answers are kept: errors may pass, and headers would need keeping too.
    let plain = response.is_ok()
        && response.http_headers.is_empty()
        && response.cache_control.value().is_none();
    if !plain {
        return GraphQLResponse::from(response).into_response();
    }
    let answer = Bytes::from(serde_json::to_vec(&response).expect("a GraphQL response serializes"));
    let caller = read.was_read().then_some(caller);
    cache.put(generation, body, caller, answer.clone());
    graphql_body(answer)
}

/// An answer already serialized, with the one header [`GraphQLResponse`] gives a plain one.
fn graphql_body(answer: Bytes) -> Response {
    let content_type = header::HeaderValue::from_static("application/graphql-response+json");
    ([(header::CONTENT_TYPE, content_type)], answer).into_response()
}

async fn get_graphql<E: Executor>(
    State(endpoint): State<Arc<Endpoint<E>>>,
    request: Request,
) -> Response {
    let is_upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if is_upgrade {
        return websocket(endpoint, request).await;
    }
    let headers = request.headers().clone();
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request,
        &(),
    )
    .await
    {
        Ok(query) => execute(&endpoint, &headers, query.into_inner()).await,
        Err(rejection) => rejection.into_response(),
    }
}

async fn execute<E: Executor>(
    endpoint: &Endpoint<E>,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    match endpoint.auth.caller_from_headers(headers) {
        Ok(caller) => {
            GraphQLResponse::from(run(endpoint, headers, caller, request).await).into_response()
        }
        Err(err) => unauthenticated(&err),
    }
}

/// Executes `request` as `caller`, in a span continuing the caller's trace (`traceparent`).
async fn run<E: Executor>(
    endpoint: &Endpoint<E>,
    headers: &HeaderMap,
    caller: Caller,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let span = tracing::info_span!("graphql");
    crate::telemetry::extract(headers, &span);
    let response = endpoint.executor.execute(request.data(caller));
    response.instrument(span).await
}

/// HTTP 401 with a GraphQL error: a bad credential is refused, never treated as anonymous.
fn unauthenticated(err: &AuthError) -> Response {
    tracing::info!(%err, "refused credentials");
    graphql_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "invalid credentials",
    )
}

/// A request-level failure as a GraphQL response: no `data`, one coded error.
fn graphql_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}

async fn websocket<E: Executor>(endpoint: Arc<Endpoint<E>>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let from_headers = match endpoint.auth.caller_from_headers(&parts.headers) {
        Ok(caller) => caller,
        Err(err) => return unauthenticated(&err),
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| {
            let auth = endpoint.auth.clone();
            GraphQLWebSocket::new(socket, endpoint.executor.clone(), protocol)
                .keepalive_timeout(WS_KEEPALIVE)
                .on_connection_init(move |payload| async move {
                    let caller = caller_from_init(&auth, &payload, from_headers)?;
                    let mut data = Data::default();
                    data.insert(caller);
                    Ok(data)
                })
                .serve()
        })
}

/// `connection_init` may carry `{"Authorization": "Bearer ..."}` (any letter case); it wins over
/// the upgrade request's header. A bad token fails the connection.
fn caller_from_init(
    auth: &Auth,
    payload: &serde_json::Value,
    from_headers: Caller,
) -> async_graphql::Result<Caller> {
    let value = payload.as_object().and_then(|fields| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
    });
    match value {
        None => Ok(from_headers),
        Some(value) => auth.caller_from_authorization(Some(value)).map_err(|err| {
            tracing::info!(%err, "refused websocket credentials");
            async_graphql::Error::new("Forbidden")
        }),
    }
}

/// `/health`: the process is up and serving.
pub fn health_router() -> Router {
    Router::new().route(
        "/health",
        get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
    )
}

/// `/ready`: the database answers (503 otherwise), so traffic waits for a working replica.
pub fn ready_router(db: sea_orm::DatabaseConnection) -> Router {
    Router::new().route(
        "/ready",
        get(move || {
            let db = db.clone();
            async move {
                match db.ping().await {
                    Ok(()) => (
                        StatusCode::OK,
                        axum::Json(serde_json::json!({"status": "ready"})),
                    ),
                    Err(err) => {
                        tracing::warn!(%err, "not ready: the database does not answer");
                        let body = serde_json::json!({"status": "unavailable"});
                        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body))
                    }
                }
            }
        }),
    )
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("installing a Ctrl-C handler only fails without a runtime");
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler only fails without a runtime")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
}

/// The subgraph's schema with its loaders and the shared data (pool, auth, bus) attached.
pub fn schema<S: Subgraph>(ctx: Context) -> Schema<S::Query, S::Mutation, S::Subscription> {
    let builder = crate::graphql::federated(S::schema_builder());
    let mut builder = S::with_loaders(builder, &ctx.db)
        .data(ctx.db)
        .data(ctx.auth)
        .data(ctx.bus);
    if let Some(cache) = ctx.cache {
        builder = builder.extension(InvalidateOnWrite(cache));
    }
    builder.finish()
}

/// The subgraph's `/graphql` endpoint.
pub fn router<S: Subgraph>(ctx: Context) -> Router {
    let (auth, cache) = (ctx.auth.clone(), ctx.cache.clone());
    graphql_router(schema::<S>(ctx), auth, cache)
}

/// The Federation v2 SDL checked in under `schema/`. async-graphql's export stops at v2.5 without
/// `@authenticated` and `@policy` in its import list, so they are added here (and the type
/// directive's own definition dropped: the federation spec defines it). The live
/// `_service { sdl }` lacks this step: compose from the checked-in files.
pub fn sdl<S: Subgraph>() -> String {
    let exported = crate::graphql::federated(S::schema_builder())
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().federation());
    exported
        .lines()
        .filter(|line| !line.starts_with("directive @authenticated "))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("federation/v2.5", "federation/v2.6")
        .replace(
            "\"@requiresScopes\"]",
            "\"@requiresScopes\", \"@authenticated\", \"@policy\"]",
        )
        + "\n"
}
