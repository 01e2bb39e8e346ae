//! Test harness for subgraph integration tests: a fresh database (SQLite file, or PostgreSQL when
//! `MOSAIC_TEST_POSTGRES_URL` is set), the subgraph served on a free port over real HTTP and
//! websocket, and a count of the SQL statements it runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::cache::ResponseCache;
use crate::caller::{Auth, DEV_JWT_SECRET};
use crate::demo::Dataset;
use crate::{Context, EventBus, LocalBus, Subgraph, db, server};

/// Env var naming a PostgreSQL server (e.g. `postgres://postgres@127.0.0.1:5432`); when set, each
/// test gets a database of its own there instead of an SQLite file.
pub const POSTGRES_ENV: &str = "MOSAIC_TEST_POSTGRES_URL";

static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A URL to a new, empty database.
pub async fn fresh_database_url(name: &str) -> String {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    let unique = format!("{name}_{}_{}_{n}", std::process::id(), nanos());
    match std::env::var(POSTGRES_ENV) {
        Ok(server) => {
            let server = server.trim_end_matches('/');
            let admin = db::connect(&format!("{server}/postgres"))
                .await
                .expect("the test PostgreSQL server answers");
            let database = format!("mosaic_test_{unique}");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
                .await
                .expect("creating a test database");
            format!("{server}/{database}")
        }
        Err(_) => {
            let dir = std::env::temp_dir().join("mosaic-tests");
            std::fs::create_dir_all(&dir).expect("creating the test database folder");
            format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{unique}.db")).display()
            )
        }
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A subgraph serving a fresh, seeded database on a free loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub db: DatabaseConnection,
    pub auth: Arc<Auth>,
    /// The in-process bus, whose listeners `subscribe` can count; `None` on a shared broker.
    local_bus: Option<Arc<LocalBus>>,
    statements: Arc<AtomicUsize>,
    http: reqwest::Client,
}

impl TestServer {
    pub async fn start<S: Subgraph>() -> Self {
        Self::start_with_cache::<S>(None).await
    }

    /// [`start`](Self::start), keeping answers in a response cache for `ttl` when given.
    pub async fn start_with_cache<S: Subgraph>(ttl: Option<Duration>) -> Self {
        let url = fresh_database_url(S::NAME).await;
        let bus = Arc::new(LocalBus::default());
        let cache = ttl.map(|ttl| Arc::new(ResponseCache::new(ttl)));
        let mut server = Self::serve::<S>(&url, bus.clone(), true, cache).await;
        server.local_bus = Some(bus);
        server
    }

    /// One replica of a subgraph: `database_url` and `bus` shared with the others; only the
    /// first seeds.
    pub async fn start_replica<S: Subgraph>(
        database_url: &str,
        bus: Arc<dyn EventBus>,
        seed: bool,
    ) -> Self {
        Self::serve::<S>(database_url, bus, seed, None).await
    }

    async fn serve<S: Subgraph>(
        url: &str,
        bus: Arc<dyn EventBus>,
        seed: bool,
        cache: Option<Arc<ResponseCache>>,
    ) -> Self {
        let mut db = db::connect_and_migrate::<S::Migrator>(url)
            .await
            .expect("migrating the test database");
        if seed {
            S::seed(&db, Dataset::Demo)
                .await
                .expect("seeding the test database");
        }
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let auth = Arc::new(Auth::new(DEV_JWT_SECRET));
        let ctx = Context {
            db: db.clone(),
            auth: auth.clone(),
            bus,
            cache,
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a free port");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let app = server::router::<S>(ctx);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            db,
            auth,
            local_bus: None,
            statements,
            http: reqwest::Client::new(),
        }
    }

    /// A token for a user, as `login` would issue it.
    pub fn token(&self, user_id: i32, username: &str, scopes: &str) -> String {
        self.auth.issue(user_id, username, scopes)
    }

    /// How many SQL statements ran since the last call.
    pub fn take_statement_count(&self) -> usize {
        self.statements.swap(0, Ordering::Relaxed)
    }

    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    /// POSTs an operation anonymously and returns the response body; asserts HTTP 200.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.request(None, query, variables).await;
        assert_eq!(status, 200, "unexpected status, body: {body}");
        body
    }

    /// POSTs an operation as the holder of `token` and returns the response body; asserts HTTP 200.
    pub async fn query_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.request(Some(token), query, variables).await;
        assert_eq!(status, 200, "unexpected status, body: {body}");
        body
    }

    /// POSTs an operation with an optional bearer token; returns the status and body.
    pub async fn request(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url())
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the test server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Opens a `graphql-transport-ws` subscription; `authorization` goes in `connection_init`.
    pub async fn subscribe(
        &self,
        authorization: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Subscription {
        let mut subscription = self.subscribe_raw(authorization).await;
        let ack = subscription.message().await;
        assert_eq!(ack["type"], "connection_ack", "expected an ack, got {ack}");
        let listening = self.local_bus.as_ref().map(|b| b.subscriber_count());
        send(
            &mut subscription.socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
        )
        .await;
        // The protocol does not acknowledge `subscribe`: wait until the local bus sees the
        // listener, so that events published next are certain to reach it. (On a shared
        // broker there is no such signal; callers retry instead.)
        if let (Some(bus), Some(listening)) = (&self.local_bus, listening) {
            tokio::time::timeout(Duration::from_secs(10), async {
                while bus.subscriber_count() <= listening {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
            .await
            .expect("the subscription reaches the bus within 10 s");
        }
        subscription
    }

    /// Opens a `graphql-transport-ws` socket and sends `connection_init`, nothing more.
    pub async fn subscribe_raw(&self, authorization: Option<&str>) -> Subscription {
        let mut request = format!("ws://{}/graphql", self.addr)
            .into_client_request()
            .expect("a valid websocket URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws"
                .parse()
                .expect("a valid header value"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the websocket upgrade succeeds");
        let payload = authorization.map_or(json!({}), |auth| json!({ "Authorization": auth }));
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        Subscription { socket }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("sending on the websocket");
}

/// One open subscription.
pub struct Subscription {
    socket: Socket,
}

impl Subscription {
    /// The next protocol message (pings are answered and skipped); fails after 10 s.
    pub async fn message(&mut self) -> Value {
        self.message_within(Duration::from_secs(10))
            .await
            .expect("a websocket message within 10 s")
    }

    /// The next protocol message, or `None` when none comes within `wait`.
    pub async fn message_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next())
                .await
                .ok()?
                .expect("the websocket stays open")
                .expect("a readable websocket frame");
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON messages");
                    if message["type"] == "ping" {
                        send(&mut self.socket, json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(message);
                }
                Message::Close(frame) => {
                    let code = frame.map(|f| u16::from(f.code));
                    return Some(json!({ "type": "close", "code": code }));
                }
                _ => continue,
            }
        }
    }

    /// The payload of the next `next` message.
    pub async fn next_payload(&mut self) -> Value {
        let message = self.message().await;
        assert_eq!(message["type"], "next", "expected an event, got {message}");
        message["payload"].clone()
    }
}

/// Fails when the subgraph's SDL differs from its checked-in `schema/NAME.graphql`; with
/// `UPDATE_SCHEMA=1` it rewrites the file instead.
pub fn assert_sdl_matches_schema_file<S: Subgraph>() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schema")
        .join(format!("{}.graphql", S::NAME));
    let served = server::sdl::<S>();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &served).expect("writing the schema file");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == served,
        "{} differs from what the {} subgraph serves; refresh it with \
         `UPDATE_SCHEMA=1 cargo test -p {} sdl` and review the diff",
        path.display(),
        S::NAME,
        S::NAME,
    );
}

/// The `extensions.code` of a response's first error, or `""`.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}
