//! Subscriptions (and queries) over websocket at `/graphql`, in `graphql-transport-ws` or the
//! legacy `graphql-ws` subprotocol, served by async-graphql-axum's protocol implementation with
//! the gateway as its executor.
//!
//! Before handing the socket over, the gateway reads `connection_init` itself: it must arrive
//! within `limits.websocket_init_timeout_secs` (else close 4408) and its `Authorization` (or the upgrade request's)
//! must verify like on HTTP (else close 4403, nothing subscribed). Each subscription opens the
//! owning subgraph's subscription ([`crate::upstream`]) and runs the rest of the plan per event.
//! A slow client is never buffered for: the gateway reads the next subgraph event only when the
//! client's socket took the previous one, so backpressure reaches the subgraph, whose event
//! buffer drops the oldest events of a lagging subscriber.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, BoxStream};
use futures::{SinkExt, StreamExt};
use mosaic_planner::{FetchNode, PlanNode, QueryPlan};
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::http::Edge;
use crate::pipeline::{GraphQLRequest, RequestContext, RequestError};
use crate::upstream;

/// A client silent for this long (no message, no pong) is dropped.
const KEEPALIVE: Duration = Duration::from_secs(60);

/// Who the connection belongs to, fixed at `connection_init`.
struct Session {
    identity: Option<Identity>,
    /// The headers subgraphs get: the upgrade request's, with the init payload's
    /// `Authorization` in place.
    headers: HeaderMap,
}

pub async fn upgrade(
    edge: Edge,
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
) -> Response {
    let Ok(permit) = edge.ws_permits.clone().try_acquire_owned() else {
        let body = json!({ "errors": [{ "message": "too many websocket connections",
            "extensions": { "code": "SERVICE_OVERLOADED" } }] });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(edge.max_message_bytes)
        .on_upgrade(move |socket| async move {
            let connections = edge.metrics.websocket_connections.clone();
            connections.inc();
            serve(socket, edge, protocol, headers).await;
            connections.dec();
            drop(permit);
        })
}

async fn serve(socket: WebSocket, edge: Edge, protocol: GraphQLProtocol, headers: HeaderMap) {
    let (mut sink, stream) = socket.split();
    // Input ends when the gateway shuts down, which ends the protocol handler; `forward` then
    // closes the socket with 1001.
    let shutdown = edge.shutdown.clone();
    let mut stopping = shutdown.clone();
    let stop = async move { stopped(&mut stopping).await };
    let mut stream = stream.take_until(Box::pin(stop));
    let first = match tokio::time::timeout(edge.websocket_init_timeout, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => return close(&mut sink, 4400, "expected connection_init").await,
        Err(_) => return close(&mut sink, 4408, "Connection initialisation timeout").await,
    };
    let init: Value = serde_json::from_str(&first).unwrap_or_default();
    if init["type"] != "connection_init" {
        return close(&mut sink, 4400, "expected connection_init").await;
    }
    let Some(session) = session(&edge, &headers, &init["payload"]).await else {
        return close(&mut sink, 4403, "Forbidden").await;
    };
    let executor = WsExecutor {
        edge,
        session: Arc::new(session),
        active: Arc::default(),
    };
    // A frame the socket refuses (too big: 1009; unreadable: 1002) or that is not JSON (the
    // protocol's 4400) ends the input; the close code goes out once the protocol handler stops.
    let ending = Arc::new(AtomicU16::new(1000));
    let failed = ending.clone();
    let stream = stream.take_while(move |frame| {
        let code = match frame {
            Err(err) if err.to_string().to_ascii_lowercase().contains("too") => Some(1009),
            Err(_) => Some(1002),
            Ok(Message::Text(text)) if serde_json::from_str::<IgnoredAny>(text).is_err() => {
                Some(4400)
            }
            Ok(_) => None,
        };
        if let Some(code) = code {
            failed.store(code, Ordering::Relaxed);
        }
        std::future::ready(code.is_none())
    });
    let replayed = stream::once(async move { Ok(Message::Text(first)) }).chain(stream);
    let (to_client, outgoing) = futures::channel::mpsc::channel(OUTGOING_BUFFER);
    let protocol_side = GraphQLWebSocket::new_with_pair(to_client, replayed, executor, protocol)
        .keepalive_timeout(KEEPALIVE)
        .serve();
    tokio::join!(protocol_side, forward(outgoing, sink, shutdown, ending));
}

/// Resolves once the gateway starts shutting down.
pub async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Messages between the protocol handler and the socket: small, so a slow client pushes back.
const OUTGOING_BUFFER: usize = 8;

/// Writes the protocol handler's messages to the socket; on shutdown, closes it with 1001
/// ("going away") so clients know to reconnect elsewhere; when the handler stops, with `ending`.
async fn forward<S>(
    mut outgoing: futures::channel::mpsc::Receiver<Message>,
    mut sink: S,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    ending: Arc<AtomicU16>,
) where
    S: futures::Sink<Message> + Unpin,
{
    loop {
        // Shutdown first: it may also end the handler, and then the socket still says 1001.
        tokio::select! {
            biased;
            () = stopped(&mut shutdown) => break,
            message = outgoing.next() => match message {
                Some(Message::Close(_)) | None if *shutdown.borrow() => break,
                Some(message) => {
                    let closing = matches!(message, Message::Close(_));
                    if sink.send(message).await.is_err() || closing {
                        return;
                    }
                }
                None => return close(&mut sink, ending.load(Ordering::Relaxed), "").await,
            },
        }
    }
    close(&mut sink, 1001, "the gateway is shutting down").await;
}

async fn close<S: futures::Sink<Message> + Unpin>(sink: &mut S, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// The caller from the init payload's `Authorization` (any letter case), else the upgrade
/// request's; `None` when the credentials are refused.
async fn session(edge: &Edge, headers: &HeaderMap, payload: &Value) -> Option<Session> {
    let mut headers = headers.clone();
    let from_payload = payload.as_object().and_then(|fields| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
    });
    if let Some(value) = from_payload {
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).ok()?);
    }
    match edge.auth.authenticate(&headers).await {
        Ok(identity) => Some(Session { identity, headers }),
        Err(reason) => {
            tracing::info!(%reason, "refused websocket credentials");
            None
        }
    }
}

#[derive(Clone)]
struct WsExecutor {
    edge: Edge,
    session: Arc<Session>,
    /// Subscriptions open on this connection.
    active: Arc<AtomicUsize>,
}

/// Releases a subscription slot (and the metrics' count) when the subscription's stream is
/// dropped.
struct Slot(Arc<AtomicUsize>, prometheus_client::metrics::gauge::Gauge);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        self.1.dec();
    }
}

impl Executor for WsExecutor {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        let mut responses = self.clone().open(from_protocol(request)).await;
        responses.next().await.unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        _: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        stream::once(self.clone().open(from_protocol(request)))
            .flatten()
            .boxed()
    }
}

fn from_protocol(request: async_graphql::Request) -> GraphQLRequest {
    GraphQLRequest {
        query: Some(request.query),
        operation_name: request.operation_name,
        variables: serde_json::to_value(&request.variables)
            .ok()
            .and_then(|v| v.as_object().cloned()),
    }
}

/// The responses of one operation for a transport other than websocket (Server-Sent Events):
/// one for a query or mutation, one per event for a subscription.
pub fn responses(
    edge: Edge,
    identity: Option<Identity>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> BoxStream<'static, async_graphql::Response> {
    let executor = WsExecutor {
        edge,
        session: Arc::new(Session { identity, headers }),
        active: Arc::default(),
    };
    stream::once(executor.open(request)).flatten().boxed()
}

impl WsExecutor {
    async fn open(self, request: GraphQLRequest) -> BoxStream<'static, async_graphql::Response> {
        let gateway = self.edge.gateway();
        let context = RequestContext::new(
            &gateway,
            &self.session.headers,
            self.session.identity.clone(),
        );
        let ready = match gateway.ready(request, &context).await {
            Ok(ready) => ready,
            Err(err) => return once(request_error(&err)),
        };
        let is_subscription = ready.prepared.operation().operation_type
            == apollo_compiler::executable::OperationType::Subscription;
        if !is_subscription {
            let node = ready.plan.node.as_ref();
            let body = gateway
                .respond(&ready, node, None, Vec::new(), &context)
                .await;
            return once(to_response(&body.0));
        }
        let limit = self.edge.max_subscriptions_per_connection;
        if self.active.fetch_add(1, Ordering::Relaxed) >= limit {
            self.active.fetch_sub(1, Ordering::Relaxed);
            let message = format!("a connection may hold at most {limit} subscriptions");
            return once(error("TOO_MANY_SUBSCRIPTIONS", &message));
        }
        let gauge = self.edge.metrics.subscriptions.clone();
        gauge.inc();
        let slot = Slot(self.active.clone(), gauge);
        let Some((root, rest)) = split(&ready.plan) else {
            return once(error(
                "QUERY_PLANNING_FAILED",
                "the subscription has no root fetch",
            ));
        };
        let variables = root
            .variable_usages
            .iter()
            .filter_map(|name| ready.variables.get(name).map(|v| (name.clone(), v.clone())))
            .collect();
        let authorization = context.forwarded[root.graph]
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let url = match &gateway.subgraphs.addresses[root.graph] {
            Ok(uri) => uri.to_string(),
            Err(failure) => return once(upstream_error(&root, failure)),
        };
        let events =
            match upstream::subscribe(&url, &root.operation, variables, authorization).await {
                Ok(events) => events,
                Err(failure) => return once(upstream_error(&root, &failure)),
            };
        let shared = Arc::new((gateway, ready, rest, context, root, slot));
        events
            .then(move |event| {
                let shared = shared.clone();
                async move {
                    let (gateway, ready, rest, context, root, _) = &*shared;
                    let mut payload = match event {
                        Ok(payload) => payload,
                        Err(failure) => return upstream_error(root, &failure),
                    };
                    let errors = subgraph_errors(&mut payload, &root.service_name);
                    let data = payload
                        .get("data")
                        .and_then(|data| serde_json::to_vec(data).ok())
                        .map(Into::into);
                    let (body, _) = gateway
                        .respond(ready, rest.as_ref(), data, errors, context)
                        .await;
                    to_response(&body)
                }
            })
            .boxed()
    }
}

/// The subscription's root fetch, and the plan that follows it on each event.
fn split(plan: &QueryPlan) -> Option<(FetchNode, Option<PlanNode>)> {
    match plan.node.as_ref()? {
        PlanNode::Fetch(root) => Some((root.clone(), None)),
        PlanNode::Sequence { nodes } => match nodes.split_first()? {
            (PlanNode::Fetch(root), rest) => Some((
                root.clone(),
                Some(PlanNode::Sequence {
                    nodes: rest.to_vec(),
                }),
            )),
            _ => None,
        },
        _ => None,
    }
}

/// An event's errors, marked with the subgraph they came from.
fn subgraph_errors(payload: &mut Value, service: &str) -> Vec<Value> {
    let Some(Value::Array(errors)) = payload.get_mut("errors").map(Value::take) else {
        return Vec::new();
    };
    errors
        .into_iter()
        .map(|mut error| {
            if let Some(object) = error.as_object_mut() {
                let extensions = object.entry("extensions").or_insert_with(|| json!({}));
                extensions["serviceName"] = json!(service);
            }
            error
        })
        .collect()
}

fn once(response: async_graphql::Response) -> BoxStream<'static, async_graphql::Response> {
    stream::once(async move { response }).boxed()
}

fn to_response(body: &[u8]) -> async_graphql::Response {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| async_graphql::Response::from_errors(Vec::new()))
}

fn error(code: &str, message: &str) -> async_graphql::Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    to_response(body.to_string().as_bytes())
}

fn request_error(err: &RequestError) -> async_graphql::Response {
    to_response(json!({ "errors": err.errors() }).to_string().as_bytes())
}

fn upstream_error(root: &FetchNode, failure: &str) -> async_graphql::Response {
    let body = json!({ "errors": [{
        "message": format!("subscription to '{}' failed: {failure}", root.service_name),
        "extensions": { "code": "SUBREQUEST_WEBSOCKET_ERROR", "serviceName": root.service_name },
    }] });
    to_response(body.to_string().as_bytes())
}
