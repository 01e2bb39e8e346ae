//! Subscriptions through a real `mosaic gateway` process whose reviews subgraph is a scripted
//! `graphql-transport-ws` server in this process: the legacy `graphql-ws` subprotocol, a subgraph
//! socket that dies mid-subscription, and a client that stops reading while the subgraph floods.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message as ServerMessage, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use common::{Dev, Process, free_ports, gateway_command, serve_in_background, spawn_gateway};

/// What the scripted subgraph does once a subscription starts.
#[derive(Clone, Copy)]
enum Script {
    /// One event, then the socket drops without a `complete`.
    DieAfterOne,
    /// Large events as fast as the connection takes them.
    Flood,
    /// One event, then the subscription stays open until the gateway hangs up.
    Hold,
}

#[derive(Default)]
struct Counters {
    sent: AtomicUsize,
    closed: AtomicBool,
}

const FLOOD_EVENTS: usize = 2_000;
const FLOOD_EVENT_BYTES: usize = 64 * 1024;

/// Starts the scripted subgraph; returns its port.
fn scripted_subgraph(script: Script, counters: Arc<Counters>) -> u16 {
    let upgrade = move |upgrade: WebSocketUpgrade| async move {
        upgrade
            .protocols(["graphql-transport-ws"])
            .on_upgrade(move |socket| run_script(socket, script, counters))
    };
    serve_in_background(Router::new().route("/graphql", get(upgrade)))
}

async fn run_script(mut socket: WebSocket, script: Script, counters: Arc<Counters>) {
    let mut id = String::new();
    while let Some(Ok(ServerMessage::Text(text))) = socket.recv().await {
        let message: Value = serde_json::from_str(&text).unwrap_or_default();
        match message["type"].as_str() {
            Some("connection_init") => {
                let ack = json!({ "type": "connection_ack" }).to_string();
                let _ = socket.send(ServerMessage::Text(ack.into())).await;
            }
            Some("subscribe") => {
                id = message["id"].as_str().unwrap_or_default().to_owned();
                break;
            }
            _ => {}
        }
    }
    let event = |body: String| {
        let next = json!({ "id": id, "type": "next",
            "payload": { "data": { "reviewAdded": { "body": body } } } });
        ServerMessage::Text(next.to_string().into())
    };
    match script {
        Script::DieAfterOne => {
            let _ = socket.send(event("last words".into())).await;
            counters.sent.fetch_add(1, Ordering::SeqCst);
            // Dropping the socket closes TCP without a close frame or `complete`.
        }
        Script::Hold => {
            let _ = socket.send(event("still here".into())).await;
            while socket.recv().await.is_some_and(|m| m.is_ok()) {}
            counters.closed.store(true, Ordering::SeqCst);
        }
        Script::Flood => {
            for _ in 0..FLOOD_EVENTS {
                if socket
                    .send(event("x".repeat(FLOOD_EVENT_BYTES)))
                    .await
                    .is_err()
                {
                    counters.closed.store(true, Ordering::SeqCst);
                    return;
                }
                counters.sent.fetch_add(1, Ordering::SeqCst);
            }
            // Wait for the gateway to hang up.
            while socket.recv().await.is_some_and(|m| m.is_ok()) {}
            counters.closed.store(true, Ordering::SeqCst);
        }
    }
}

/// A gateway whose reviews subgraph is the scripted one (the others are never asked).
async fn gateway(script: Script, counters: Arc<Counters>) -> (Process, u16) {
    gateway_with(script, counters, &[], None).await
}

/// As [`gateway`], with more subgraphs replaced and optionally a YAML config.
async fn gateway_with(
    script: Script,
    counters: Arc<Counters>,
    subgraphs: &[(&str, u16)],
    config: Option<&str>,
) -> (Process, u16) {
    let upstream = scripted_subgraph(script, counters);
    let port = free_ports();
    let urls: Vec<(&str, String)> = std::iter::once(("reviews", upstream))
        .chain(subgraphs.iter().copied())
        .map(|(name, port)| (name, format!("http://127.0.0.1:{port}/graphql")))
        .collect();
    (
        spawn_gateway(&gateway_command(port, config, &urls), port).await,
        port,
    )
}

/// A products subgraph that answers every query after `delay`; `received` turns true when the
/// first query arrives.
fn slow_products(delay: Duration, received: Arc<AtomicBool>) -> u16 {
    let answer = move || {
        received.store(true, Ordering::SeqCst);
        async move {
            tokio::time::sleep(delay).await;
            axum::Json(json!({ "data": { "topProducts": [{ "name": "Slow" }] } }))
        }
    };
    serve_in_background(Router::new().route("/graphql", axum::routing::post(answer)))
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(port: u16, protocol: &str) -> Client {
    let mut request = format!("ws://127.0.0.1:{port}/graphql")
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        protocol.parse().expect("a header value"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the gateway accepts websockets");
    socket
}

async fn send(client: &mut Client, message: Value) {
    client
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sending");
}

/// The next JSON message, within 10 s.
async fn receive(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

const SUBSCRIPTION: &str = "subscription { reviewAdded { body } }";

/// A client past `connection_init`/`connection_ack` that has sent [`SUBSCRIPTION`] as `id`.
async fn subscribed(port: u16, protocol: &str, id: &str) -> Client {
    let mut client = connect(port, protocol).await;
    send(
        &mut client,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(receive(&mut client).await["type"], "connection_ack");
    let kind = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    let message = json!({ "id": id, "type": kind, "payload": { "query": SUBSCRIPTION } });
    send(&mut client, message).await;
    client
}

#[tokio::test]
async fn a_dying_subgraph_socket_gives_the_client_an_error_then_complete() {
    let counters = Arc::new(Counters::default());
    let (_gateway, port) = gateway(Script::DieAfterOne, counters).await;
    let mut client = subscribed(port, "graphql-transport-ws", "a").await;
    let first = receive(&mut client).await;
    assert_eq!(
        first["payload"]["data"]["reviewAdded"]["body"], "last words",
        "{first}"
    );
    let failure = receive(&mut client).await;
    assert_eq!(failure["type"], "next");
    assert_eq!(
        failure["payload"]["errors"][0]["extensions"]["code"],
        "SUBREQUEST_WEBSOCKET_ERROR"
    );
    assert_eq!(
        failure["payload"]["errors"][0]["extensions"]["serviceName"],
        "reviews"
    );
    assert_eq!(
        receive(&mut client).await,
        json!({ "id": "a", "type": "complete" })
    );
}

#[tokio::test]
async fn the_legacy_graphql_ws_subprotocol_is_served() {
    let counters = Arc::new(Counters::default());
    let (_gateway, port) = gateway(Script::DieAfterOne, counters).await;
    let mut client = subscribed(port, "graphql-ws", "1").await;
    let data = receive(&mut client).await;
    assert_eq!(data["type"], "data");
    assert_eq!(data["payload"]["data"]["reviewAdded"]["body"], "last words");
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_back_the_subgraph_not_gateway_memory() {
    let counters = Arc::new(Counters::default());
    let (gateway, port) = gateway(Script::Flood, counters.clone()).await;
    let mut client = subscribed(port, "graphql-transport-ws", "f").await;
    // The client reads nothing: wait until the subgraph can send no more.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = (usize::MAX, Instant::now());
    loop {
        let sent = counters.sent.load(Ordering::SeqCst);
        if sent != last.0 {
            last = (sent, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(500) {
            break;
        }
        assert!(Instant::now() < deadline, "the subgraph never stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stalled_at = counters.sent.load(Ordering::SeqCst);
    assert!(
        stalled_at < FLOOD_EVENTS,
        "nothing held the subgraph back ({stalled_at} sent)"
    );
    let rss_kb = rss_kb(gateway.0.id());
    let held_mb = stalled_at * FLOOD_EVENT_BYTES / (1 << 20);
    eprintln!("subgraph stalled after {stalled_at} events ({held_mb} MB); gateway RSS {rss_kb} kB");
    assert!(
        rss_kb < 150_000,
        "gateway RSS {rss_kb} kB with {held_mb} MB in flight"
    );
    // Reading again resumes the flow; hanging up closes the subgraph's socket.
    assert_eq!(receive(&mut client).await["type"], "next");
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !counters.closed.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the subgraph socket stayed open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rss_kb(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_closes_websockets_with_1001() {
    let counters = Arc::new(Counters::default());
    let received = Arc::new(AtomicBool::new(false));
    let products = slow_products(Duration::from_millis(800), received.clone());
    let (mut gateway, port) = gateway_with(
        Script::Hold,
        counters.clone(),
        &[("products", products)],
        None,
    )
    .await;
    let mut client = subscribed(port, "graphql-transport-ws", "h").await;
    assert_eq!(receive(&mut client).await["type"], "next");

    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({ "query": "{ topProducts { name } }" }))
            .send()
            .await
            .expect("answered before the gateway stops")
            .json::<Value>()
            .await
            .expect("JSON")
    });
    // Once the slow subgraph holds the request, ask the gateway to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !received.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the request never reached the subgraph"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = gateway.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.expect("kill runs").success());

    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), client.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| u16::from(f.code)), Some(1001));
    let answer = in_flight.await.expect("the request task");
    assert_eq!(answer["data"]["topProducts"][0]["name"], "Slow", "{answer}");
    let status = tokio::task::spawn_blocking(move || gateway.0.wait())
        .await
        .expect("waiting")
        .expect("an exit status");
    assert!(status.success(), "{status:?}");
}

/// The close code of the next close frame (other messages skipped), within 10 s.
async fn close_code(client: &mut Client) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), client.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(_) => return None,
            Err(_) => panic!("the socket stayed open"),
        }
    }
}

#[tokio::test]
async fn websocket_bounds_are_enforced_with_protocol_codes() {
    let counters = Arc::new(Counters::default());
    let config = "limits:\n  max_websocket_connections: 3\n  max_subscriptions_per_connection: 1\n  \
                  websocket_init_timeout_secs: 1\n  max_body_bytes: 4096\n";
    let (_gateway, port) = gateway_with(Script::Hold, counters, &[], Some(config)).await;

    // No `connection_init` in time: 4408.
    let mut silent = connect(port, "graphql-transport-ws").await;
    assert_eq!(close_code(&mut silent).await, Some(4408));

    // A second subscription on one connection is refused; the first keeps running.
    let mut client = subscribed(port, "graphql-transport-ws", "1").await;
    assert_eq!(
        receive(&mut client).await["payload"]["data"]["reviewAdded"]["body"],
        "still here"
    );
    send(
        &mut client,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }),
    )
    .await;
    let refused = receive(&mut client).await;
    assert_eq!(refused["id"], "2");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    // A message that is not JSON closes the socket with the protocol's 4400.
    let mut garbled = connect(port, "graphql-transport-ws").await;
    send(
        &mut garbled,
        json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(receive(&mut garbled).await["type"], "connection_ack");
    garbled
        .send(Message::Text("this is not json".into()))
        .await
        .expect("sending");
    assert_eq!(close_code(&mut garbled).await, Some(4400));

    // Connections beyond the limit are refused at the upgrade.
    let _second = connect(port, "graphql-transport-ws").await;
    let _third = connect(port, "graphql-transport-ws").await;
    let request = format!("ws://127.0.0.1:{port}/graphql")
        .into_client_request()
        .expect("a request");
    let mut request = request;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("a header value"),
    );
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 503),
        "{refused:?}"
    );

    // An oversized message closes the socket with 1009 (message too big).
    client
        .send(Message::Text("x".repeat(10_000).into()))
        .await
        .expect("sending");
    assert_eq!(close_code(&mut client).await, Some(1009));
}

/// Two whole stacks (gateway and subgraphs, each with its own databases) sharing a NATS bus, like
/// two replicas behind a load balancer: a review added through stack A reaches a client
/// subscribed through stack B, enriched there from all four subgraphs. Runs when
/// `MOSAIC_TEST_NATS_URL` names a NATS server (CI sets it).
#[tokio::test]
async fn a_review_added_through_one_replica_reaches_a_subscriber_on_another() {
    let Ok(nats) = std::env::var("MOSAIC_TEST_NATS_URL") else {
        eprintln!("SKIPPED: set MOSAIC_TEST_NATS_URL (e.g. nats://127.0.0.1:4222) to run");
        return;
    };
    let a = Dev::start_with("replica-a", &["--bus-url", &nats], &[]);
    let b = Dev::start_with("replica-b", &["--bus-url", &nats], &[]);
    let http = reqwest::Client::new();
    let gql = |port: u16, query: &str, token: Option<&str>| {
        let mut request = http
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({ "query": query }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            request
                .send()
                .await
                .expect("an answer")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    let login = gql(
        a.gateway,
        r#"mutation { login(username: "ada", password: "mosaic-demo") { token } }"#,
        None,
    )
    .await;
    let token = login["data"]["login"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let mut client = connect(b.gateway, "graphql-transport-ws").await;
    send(&mut client, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })).await;
    assert_eq!(receive(&mut client).await["type"], "connection_ack");
    let enriched = "subscription { reviewAdded { body author { name } product { name inStock shippingEstimate } } }";
    send(
        &mut client,
        json!({ "id": "r", "type": "subscribe", "payload": { "query": enriched } }),
    )
    .await;
    // No signal tells when B's subscription reaches the broker: add reviews on A until one
    // arrives on B (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        assert!(Instant::now() < deadline, "no event crossed the replicas");
        let added = gql(
            a.gateway,
            r#"mutation { addReview(upc: "2", body: "Across stacks", rating: 4) { id } }"#,
            Some(&token),
        )
        .await;
        assert!(added.get("errors").is_none(), "{added}");
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(300), client.next()).await
        {
            break serde_json::from_str::<Value>(&text).expect("JSON");
        }
    };
    let review = &event["payload"]["data"]["reviewAdded"];
    assert_eq!(review["body"], "Across stacks", "{event}");
    assert_eq!(review["author"]["name"], "Ada Lovelace");
    assert_eq!(review["product"]["name"], "Couch");
    assert!(review["product"]["inStock"].is_boolean());
}

/// Not a subscription test, but it needs the slow subgraph: past `max_concurrent_requests`, the
/// gateway sheds load with 503 instead of queueing.
#[tokio::test]
async fn requests_beyond_the_concurrency_limit_are_shed() {
    let received = Arc::new(AtomicBool::new(false));
    let products = slow_products(Duration::from_millis(800), received.clone());
    let config = "limits:\n  max_concurrent_requests: 1\n";
    let counters = Arc::new(Counters::default());
    let (_gateway, port) = gateway_with(
        Script::Hold,
        counters,
        &[("products", products)],
        Some(config),
    )
    .await;
    let ask = move || async move {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({ "query": "{ topProducts { name } }" }))
            .send()
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.expect("JSON"))
    };
    let first = tokio::spawn(ask());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !received.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the first request never reached the subgraph"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = ask().await;
    assert_eq!(status, 503);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SERVICE_OVERLOADED"
    );
    let (status, body) = first.await.expect("the first request");
    assert_eq!(status, 200, "{body}");
}
