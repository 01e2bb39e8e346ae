//! Hostile input against a real `mosaic gateway` process: forged and broken tokens, oversized and
//! pathological operations, huge bodies and batches. Each gets its status and error code in
//! bounded time, the gateway keeps serving, and no subgraph hears of what was refused.
//!
//! The gateway's "subgraphs" are one recording stub in this process, so the test can assert what
//! reached them (nothing, for a refused request; no unauthorized field, for a cut one).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::post as route_post;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use common::{Process, code, free_ports, gateway_command, serve_in_background, spawn_gateway};

const HMAC_SECRET: &str = "adversarial-test-secret-of-at-least-32-bytes";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/auth");

/// One subgraph request: its query text and the `x-*` and `authorization` headers.
#[derive(Clone, Debug)]
struct Received {
    query: String,
    headers: Vec<(String, String)>,
}

struct Stack {
    _gateway: Process,
    port: u16,
    /// Every query text the subgraphs received, with the headers of interest.
    received: Arc<Mutex<Vec<Received>>>,
}

/// One gateway for the whole file, with strict auth and small limits, in front of the stub.
async fn stack() -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    if let Some(stack) = STACK.get() {
        return stack;
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let stub_port = start_stub(received.clone());
    let port = free_ports();
    let config = format!(
        "auth:\n  hmac_secret: {HMAC_SECRET}\n  jwks_file: {FIXTURES}/jwks.json\n  \
             issuer: mosaic\n  audience: [mosaic-gateway]\n  leeway_secs: 5\n\
             limits:\n  max_depth: 12\n  max_aliases: 30\n  max_height: 200\n  max_batch_size: 8\n  \
             max_body_bytes: 1048576\n\
             headers:\n  all:\n    - propagate: {{ named: x-client-version, rename: x-version }}\n  \
             subgraphs:\n    accounts:\n      - insert: {{ name: x-tenant, value: demo }}\n"
    );
    let stub = format!("http://127.0.0.1:{stub_port}/graphql");
    let urls = ["accounts", "products", "inventory", "reviews"].map(|name| (name, stub.clone()));
    let gateway = spawn_gateway(&gateway_command(port, Some(&config), &urls), port).await;
    let _ = STACK.set(Stack {
        _gateway: gateway,
        port,
        received,
    });
    STACK.get().expect("just set")
}

/// A subgraph stand-in: records each query and answers with enough data for the probe queries.
/// It runs on its own thread and runtime so that it outlives each test's runtime.
fn start_stub(received: Arc<Mutex<Vec<Received>>>) -> u16 {
    let record = move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
        let query = body["query"].as_str().unwrap_or_default().to_owned();
        let headers = headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("x-") || *name == "authorization")
            .map(|(name, value)| {
                (
                    name.to_string(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        received
            .lock()
            .expect("not poisoned")
            .push(Received { query, headers });
        async {
            axum::Json(json!({ "data": {
                "topProducts": [{ "name": "Table" }],
                "me": { "id": "1", "username": "ada", "email": "ada@example.com" },
            } }))
        }
    };
    serve_in_background(Router::new().route("/graphql", route_post(record)))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client")
}

/// POSTs `body` as-is over a raw connection and returns status and JSON body. The body is
/// written alongside reading the answer, with write errors ignored: the gateway may answer (413) and hang up before
/// reading all of it, which is the point, and an HTTP client library would report only the
/// broken pipe.
async fn send(body: Vec<u8>, headers: &[(&str, String)]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = stack().await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", stack.port))
        .await
        .expect("the gateway accepts connections");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!(
        "POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\
         content-type: application/json\r\naccept: application/graphql-response+json\r\n\
         content-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // The write half stays open until the answer is read: a half-closed connection would
    // make the server hang up without answering.
    let write = async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
        writer
    };
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut response));
    let (_writer, read) = tokio::join!(write, read);
    read.expect("the gateway answers in time")
        .expect("reading the answer");
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("{status}: not JSON: {body}"));
    (status, body)
}

async fn query(text: &str, headers: &[(&str, String)]) -> (u16, Value) {
    send(json!({ "query": text }).to_string().into_bytes(), headers).await
}

/// Requests run one at a time, so counting what reached the subgraphs is exact.
static EXCLUSIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A hostile request gets `status` and `expected`, reaches no subgraph, and the gateway then
/// still answers an ordinary query.
async fn refused(body: Vec<u8>, headers: &[(&str, String)], status: u16, expected: &str) {
    let stack = stack().await;
    let _turn = EXCLUSIVE.lock().await;
    let before = stack.received.lock().expect("not poisoned").len();
    let (got, answer) = send(body, headers).await;
    assert_eq!((got, code(&answer)), (status, expected), "{answer}");
    let after = stack.received.lock().expect("not poisoned").len();
    assert_eq!(before, after, "a refused request reached a subgraph");
    let (status, answer) = query("{ topProducts { name } }", &[]).await;
    assert_eq!(status, 200, "the gateway stopped serving: {answer}");
    assert_eq!(answer["data"]["topProducts"][0]["name"], "Table");
}

/// The answer to one accepted request and the query texts the subgraphs received for it.
async fn accepted(text: &str, headers: &[(&str, String)]) -> (Value, Vec<String>) {
    let stack = stack().await;
    let _turn = EXCLUSIVE.lock().await;
    let before = stack.received.lock().expect("not poisoned").len();
    let (status, answer) = query(text, headers).await;
    assert_eq!(status, 200, "{answer}");
    let sent = stack.received.lock().expect("not poisoned")[before..].to_vec();
    (answer, sent.into_iter().map(|r| r.query).collect())
}

/// The requests the subgraphs received for one accepted request.
async fn received_for(text: &str, headers: &[(&str, String)]) -> Vec<Received> {
    let stack = stack().await;
    let _turn = EXCLUSIVE.lock().await;
    let before = stack.received.lock().expect("not poisoned").len();
    let (status, answer) = query(text, headers).await;
    assert_eq!(status, 200, "{answer}");
    stack.received.lock().expect("not poisoned")[before..].to_vec()
}

fn body(text: &str) -> Vec<u8> {
    json!({ "query": text }).to_string().into_bytes()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims(changes: Value) -> Value {
    let mut claims = json!({
        "sub": "1", "username": "ada", "scope": "read:email",
        "iss": "mosaic", "aud": "mosaic-gateway", "iat": now(), "exp": now() + 600,
    });
    for (key, value) in changes.as_object().expect("an object") {
        claims[key] = value.clone();
    }
    claims
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("signing")
}

fn rs256(claims: &Value, kid: &str) -> String {
    let der = std::fs::read(format!("{FIXTURES}/rsa-private.der")).expect("the test key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    encode(&header, claims, &EncodingKey::from_rsa_der(&der)).expect("signing")
}

fn bearer(token: &str) -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {token}"))]
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_never_treated_as_anonymous() {
    let b64 = |v: &Value| {
        use std::fmt::Write;
        let text = v.to_string();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in text.as_bytes().chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                let _ = write!(
                    out,
                    "{}",
                    alphabet[(n >> (18 - 6 * i) & 63) as usize] as char
                );
            }
        }
        out
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims(json!({})))
    );
    let public_pem = std::fs::read(format!("{FIXTURES}/rsa-public.pem")).expect("the test key");
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = Some("test-rsa".into());
    let confused = encode(
        &confused,
        &claims(json!({})),
        &EncodingKey::from_secret(&public_pem),
    )
    .expect("signing");
    let cases: Vec<(&str, [(&str, String); 1])> = vec![
        ("malformed", bearer("not-a-jwt")),
        ("wrong scheme", [("authorization", "Basic YWRhOng=".into())]),
        (
            "wrong key",
            bearer(&hs256(&claims(json!({})), b"someone-elses-secret")),
        ),
        (
            "expired",
            bearer(&hs256(
                &claims(json!({ "exp": now() - 3600 })),
                HMAC_SECRET.as_bytes(),
            )),
        ),
        (
            "not yet valid",
            bearer(&hs256(
                &claims(json!({ "nbf": now() + 3600 })),
                HMAC_SECRET.as_bytes(),
            )),
        ),
        (
            "wrong issuer",
            bearer(&hs256(
                &claims(json!({ "iss": "evil" })),
                HMAC_SECRET.as_bytes(),
            )),
        ),
        (
            "wrong audience",
            bearer(&hs256(
                &claims(json!({ "aud": "other" })),
                HMAC_SECRET.as_bytes(),
            )),
        ),
        (
            "unknown kid",
            bearer(&rs256(&claims(json!({})), "rotated-away")),
        ),
        ("alg none", bearer(&alg_none)),
        ("algorithm confusion", bearer(&confused)),
    ];
    for (name, headers) in cases {
        println!("case: {name}");
        refused(
            body("{ topProducts { name } }"),
            &headers,
            401,
            "UNAUTHENTICATED",
        )
        .await;
    }
}

#[tokio::test]
async fn valid_tokens_from_hmac_and_jwks_authorize_fields() {
    // Anonymous: `User.email` (@authenticated) is cut before planning and reads as null.
    let (answer, sent) = accepted("{ me { username email } }", &[]).await;
    assert_eq!(
        answer["data"]["me"],
        json!({ "username": "ada", "email": null })
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );
    assert_eq!(answer["errors"][0]["path"], json!(["me", "email"]));
    assert!(sent.iter().all(|q| !q.contains("email")), "{sent:?}");
    for token in [
        hs256(&claims(json!({})), HMAC_SECRET.as_bytes()),
        rs256(&claims(json!({})), "test-rsa"),
    ] {
        let (answer, sent) = accepted("{ me { username email } }", &bearer(&token)).await;
        assert_eq!(answer["data"]["me"]["email"], "ada@example.com", "{answer}");
        assert!(sent.iter().any(|q| q.contains("email")));
    }
    // `@requiresScopes`: a signed-in caller without `products:write` is refused the mutation.
    let token = hs256(&claims(json!({})), HMAC_SECRET.as_bytes());
    let mutation = r#"mutation { updateProductPrice(upc: "1", price: 1) { name } }"#;
    let (answer, sent) = accepted(mutation, &bearer(&token)).await;
    assert_eq!(answer["data"]["updateProductPrice"], Value::Null);
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );
    assert!(sent.is_empty(), "{sent:?}");
}

#[tokio::test]
async fn pathological_operations_hit_their_limits() {
    let deep = format!(
        "{{ me {} }}",
        "{ reviews { product ".repeat(8) + "{ name }" + &" }".repeat(16)
    );
    let aliases: String = (0..2000).map(|i| format!("a{i}: name ")).collect();
    let duplicated = format!("{{ topProducts {{ {} }} }}", "name ".repeat(5000));
    let directives = format!(
        "{{ topProducts {{ name {} }} }}",
        "@skip(if: false) ".repeat(500)
    );
    let cycle = "{ me { ...A } } fragment A on User { reviews { author { ...B } } } fragment B on User { ...A }";
    let chain: String = (0..200)
        .map(|i| format!("fragment F{i} on User {{ username ...F{} }} ", i + 1))
        .collect::<String>()
        + "fragment F200 on User { username }";
    let chain = format!("{{ me {{ ...F0 }} }} {chain}");
    let nested = format!("{}{}", "{ a ".repeat(600), "}".repeat(600));
    let tokens = format!("{{ {} }}", "__typename ".repeat(20_000));
    let cases = [
        ("deep nesting", deep, "MAX_DEPTH_LIMIT"),
        (
            "thousands of aliases",
            format!("{{ topProducts {{ {aliases} }} }}"),
            "MAX_ALIASES_LIMIT",
        ),
        ("field duplication", duplicated, "MAX_HEIGHT_LIMIT"),
        (
            "directive overloading",
            directives,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("circular fragments", cycle.to_owned(), "MAX_DEPTH_LIMIT"),
        ("long fragment chain", chain, "MAX_DEPTH_LIMIT"),
        ("parser recursion", nested, "MAX_RECURSION_LIMIT"),
        ("token flood", tokens, "MAX_TOKENS_LIMIT"),
    ];
    for (name, text, expected) in cases {
        println!("case: {name}");
        refused(body(&text), &[], 400, expected).await;
    }
}

#[tokio::test]
async fn bodies_variables_and_batches_are_bounded() {
    let ten_mb = format!(
        r#"{{"query":"{{ topProducts {{ name }} }}","pad":"{}"}}"#,
        "x".repeat(10 << 20)
    );
    refused(ten_mb.into_bytes(), &[], 413, "PAYLOAD_TOO_LARGE").await;
    let mut invalid_utf8 = br#"{"query":"{ topProducts { name "#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe]);
    invalid_utf8.extend_from_slice(br#" } }"}"#);
    refused(invalid_utf8, &[], 400, "BAD_REQUEST").await;
    let huge_variables = format!(
        r#"{{"query":"query($u: String!) {{ product(upc: $u) {{ name }} }}","variables":{{"u":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    refused(huge_variables.into_bytes(), &[], 413, "PAYLOAD_TOO_LARGE").await;
    let nested_variables = format!(
        r#"{{"query":"{{ topProducts {{ name }} }}","variables":{{"v":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    refused(nested_variables.into_bytes(), &[], 400, "BAD_REQUEST").await;
    let batch = |n: usize| {
        let one = json!({ "query": "{ topProducts { name } }" });
        Value::Array(vec![one; n]).to_string().into_bytes()
    };
    refused(batch(1000), &[], 400, "BATCH_LIMIT_EXCEEDED").await;
    let _turn = EXCLUSIVE.lock().await;
    let (status, answers) = send(batch(2), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        answers[1]["data"]["topProducts"][0]["name"], "Table",
        "{answers}"
    );
}

#[tokio::test]
async fn browser_simple_requests_are_refused_as_csrf() {
    let stack = stack().await;
    let _turn = EXCLUSIVE.lock().await;
    let response = client()
        .post(format!("http://127.0.0.1:{}/graphql", stack.port))
        .header("content-type", "text/plain")
        .body(body("{ topProducts { name } }"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(code(&answer), "CSRF_PREVENTION");
}

/// A JWKS URL served from this process: it serves `jwks.json` until `rotated` flips, then
/// `jwks-rotated.json`; `fetches` counts requests.
fn jwks_server(rotated: Arc<AtomicBool>, fetches: Arc<AtomicUsize>) -> u16 {
    let serve = move || {
        fetches.fetch_add(1, Ordering::SeqCst);
        let file = match rotated.load(Ordering::SeqCst) {
            true => "jwks-rotated.json",
            false => "jwks.json",
        };
        async move { std::fs::read_to_string(format!("{FIXTURES}/{file}")).expect("a fixture") }
    };
    serve_in_background(Router::new().route("/jwks.json", axum::routing::get(serve)))
}

#[tokio::test]
async fn jwks_url_keys_rotate_on_an_unknown_kid_at_a_bounded_rate() {
    let rotated = Arc::new(AtomicBool::new(false));
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwks = jwks_server(rotated.clone(), fetches.clone());
    let port = free_ports();
    let config = format!(
        "auth:\n  jwks_url: http://127.0.0.1:{jwks}/jwks.json\n  jwks_min_refresh_secs: 3600\n  \
         cookie: session\n"
    );
    let _gateway = spawn_gateway(&gateway_command(port, Some(&config), &[]), port).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "fetched once at start");

    let call = |token: String, cookie: bool| async move {
        let request = client().post(format!("http://127.0.0.1:{port}/graphql"));
        let request = match cookie {
            true => request.header("cookie", format!("theme=dark; session={token}")),
            false => request.bearer_auth(token),
        };
        request
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("an answer")
            .status()
            .as_u16()
    };
    let claims = claims(json!({}));
    assert_eq!(call(rs256(&claims, "test-rsa"), false).await, 200);
    assert_eq!(
        call(rs256(&claims, "test-rsa"), true).await,
        200,
        "from the cookie"
    );

    // The provider rotates: a token with the new `kid` makes the gateway refetch, once.
    rotated.store(true, Ordering::SeqCst);
    let der = std::fs::read(format!("{FIXTURES}/rsa-rotated-private.der")).expect("the key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rotated-rsa".into());
    let rotated_token =
        encode(&header, &claims, &EncodingKey::from_rsa_der(&der)).expect("signing");
    assert_eq!(call(rotated_token, false).await, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // More unknown kids within `jwks_min_refresh_secs` are refused without refetching.
    for _ in 0..5 {
        assert_eq!(call(rs256(&claims, "never-published"), false).await, 401);
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "refetches are rate-limited"
    );
}

#[tokio::test]
async fn header_rules_shape_what_each_subgraph_receives() {
    let token = hs256(&claims(json!({})), HMAC_SECRET.as_bytes());
    let headers = [
        ("authorization", format!("Bearer {token}")),
        ("x-client-version", "7".to_owned()),
        ("x-secret-internal", "do-not-forward".to_owned()),
    ];
    let sent = received_for("{ me { username } }", &headers).await;
    let to_accounts = &sent.first().expect("a call to accounts").headers;
    let has = |name: &str, value: &str| to_accounts.iter().any(|(n, v)| n == name && v == value);
    assert!(has("x-version", "7"), "renamed: {to_accounts:?}");
    assert!(
        has("x-tenant", "demo"),
        "inserted for accounts: {to_accounts:?}"
    );
    assert!(
        has("authorization", &format!("Bearer {token}")),
        "the verified token"
    );
    assert!(to_accounts.iter().any(|(n, _)| n == "x-request-id"));
    assert!(
        !to_accounts
            .iter()
            .any(|(n, _)| n == "x-secret-internal" || n == "x-client-version")
    );
    let sent = received_for("{ topProducts { name } }", &headers).await;
    let to_products = &sent.first().expect("a call to products").headers;
    assert!(
        !to_products.iter().any(|(n, _)| n == "x-tenant"),
        "only accounts: {to_products:?}"
    );
}

#[tokio::test]
async fn jwks_url_keys_are_refreshed_on_a_period() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwks = jwks_server(Arc::new(AtomicBool::new(false)), fetches.clone());
    let port = free_ports();
    let config =
        format!("auth:\n  jwks_url: http://127.0.0.1:{jwks}/jwks.json\n  jwks_refresh_secs: 1\n");
    let _gateway = spawn_gateway(&gateway_command(port, Some(&config), &[]), port).await;
    // No request needs a key: the refreshes come from the period alone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fetches.load(Ordering::SeqCst) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the keys were not refreshed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
