//! `mosaic dev`, the README's run command, as a real process: the gateway in front of the four
//! subgraphs on fresh SQLite files, driven over HTTP like a frontend would.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{
    Dev, Process, SUPERGRAPH, code, config_file, free_ports, post, serve_in_background,
    spawn_gateway,
};

use serde_json::{Value, json};

fn dev() -> &'static Dev {
    static DEV: OnceLock<Dev> = OnceLock::new();
    DEV.get_or_init(|| Dev::start("e2e"))
}

async fn gql(query: &str, variables: Value) -> Value {
    let (status, body) = post(
        dev().gateway,
        json!({ "query": query, "variables": variables }),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn subgraphs_are_seeded_consistently() {
    let [accounts, products, _, reviews] = dev().subgraphs;
    let users = post(
        accounts,
        json!({ "query": "{ users { id username } }" }),
        &[],
    )
    .await
    .1;
    let users = users["data"]["users"].as_array().expect("users").clone();
    assert!(users.len() >= 10);
    let top = post(
        products,
        json!({ "query": "{ topProducts(first: 100) { upc } }" }),
        &[],
    )
    .await
    .1;
    let upcs: Vec<Value> = top["data"]["topProducts"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["upc"].clone())
        .collect();
    assert!(upcs.len() >= 20);
    let latest = post(reviews, json!({ "query": "{ latestReviews(first: 100) { author { id username } product { upc } } }" }), &[]).await.1;
    let latest = latest["data"]["latestReviews"]
        .as_array()
        .expect("reviews")
        .clone();
    assert!(latest.len() >= 60);
    for review in &latest {
        assert!(users.contains(&review["author"]), "unknown author {review}");
        assert!(
            upcs.contains(&review["product"]["upc"]),
            "unknown product {review}"
        );
    }
}

#[tokio::test]
async fn the_canonical_benchmark_query_touches_all_four_subgraphs() {
    let query = include_str!("../schema/operations/canonical.graphql");
    let body = gql(query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let first_user = &body["data"]["users"][0];
    assert_eq!(first_user["username"], "ada");
    let review = &first_user["reviews"][0];
    let product = &review["product"];
    // accounts → reviews → products + inventory (shippingEstimate @requires price and weight).
    assert_eq!(product["name"], "Mirror");
    assert!(product["inStock"].is_boolean());
    assert_eq!(
        product["shippingEstimate"], 0,
        "price 1376 > 1000 ships free"
    );
    let author = &product["reviews"][0]["author"];
    assert!(author["name"].is_string() && author["username"].is_string());
    assert!(author["reviews"][0]["product"]["shippingEstimate"].is_number());
    let top = body["data"]["topProducts"]
        .as_array()
        .expect("top products");
    assert_eq!(top.len(), 5);
    assert_eq!(top[0]["upc"], "1");
    assert_eq!(top[0]["shippingEstimate"], 130, "half of weight 261");
    // Only what was asked, in the order asked (checked on the raw text: JSON maps forget order).
    let raw = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/graphql", dev().gateway))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("the gateway answers")
        .text()
        .await
        .expect("a body");
    let top = &raw[raw.find("\"topProducts\":[").expect("topProducts")..];
    let keys = [
        "inStock",
        "name",
        "price",
        "shippingEstimate",
        "upc",
        "weight",
        "reviews",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| top.find(&format!("\"{k}\":")).expect("every key"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order: {}",
        &top[..200]
    );
    assert!(
        top.starts_with("\"topProducts\":[{\"inStock\":"),
        "{}",
        &top[..100]
    );
}

#[tokio::test]
async fn aliases_fragments_variables_and_directives() {
    let query = r#"
        query Q($upc: String!, $withStock: Boolean!, $skipName: Boolean = true) {
          first: product(upc: $upc) { ...P stock: quantity @include(if: $withStock) }
          again: product(upc: "2") { upc name @skip(if: $skipName) __typename }
          __typename
        }
        fragment P on Product { name ... on Product { price } }
    "#;
    let body = gql(query, json!({ "upc": "3", "withStock": true })).await;
    assert_eq!(
        body["data"],
        json!({
            "first": { "name": "Chair", "price": 1291, "stock": 40 },
            "again": { "upc": "2", "__typename": "Product" },
            "__typename": "Query",
        })
    );
}

#[tokio::test]
async fn logs_in_and_writes_through_the_gateway() {
    let login = gql(
        r#"mutation { login(username: "grace", password: "mosaic-demo") { token user { name } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(login["data"]["login"]["user"]["name"], "Grace Hopper");
    let token = login["data"]["login"]["token"].as_str().expect("a token");
    let bearer = format!("Bearer {token}");
    let mutation = r#"mutation { addReview(upc: "7", body: "Through the gateway", rating: 4) { body author { username name } product { name inStock } } }"#;
    let (status, body) = post(
        dev().gateway,
        json!({ "query": mutation }),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["addReview"],
        json!({ "body": "Through the gateway", "author": { "username": "grace", "name": "Grace Hopper" }, "product": { "name": "Rug", "inStock": true } })
    );
    // `@authenticated`: the gateway refuses before any subgraph is asked.
    let anonymous = gql(mutation, json!({})).await;
    assert_eq!(code(&anonymous), "UNAUTHORIZED_FIELD_OR_TYPE");
    assert_eq!(anonymous["errors"][0]["path"], json!(["addReview"]));
    assert_eq!(anonymous["data"], Value::Null);
}

#[tokio::test]
async fn runs_mutations_in_order() {
    let token = {
        let login = gql(
            r#"mutation { login(username: "ada", password: "mosaic-demo") { token } }"#,
            json!({}),
        )
        .await;
        login["data"]["login"]["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    };
    let bearer = format!("Bearer {token}");
    let mutation = r#"mutation {
        a: restock(upc: "15", quantity: 2) { quantity }
        b: updateProductPrice(upc: "15", price: 777) { price }
        c: restock(upc: "15", quantity: 3) { quantity shippingEstimate }
    }"#;
    let (_, body) = post(
        dev().gateway,
        json!({ "query": mutation }),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(body["data"]["a"]["quantity"], 2);
    assert_eq!(body["data"]["b"]["price"], 777);
    assert_eq!(
        body["data"]["c"]["quantity"], 5,
        "the second restock saw the first"
    );
    assert!(body["data"]["c"]["shippingEstimate"].is_number());
}

#[tokio::test]
async fn request_errors_follow_graphql_over_http() {
    let port = dev().gateway;
    let (status, body) = post(
        port,
        json!({ "query": "{ product(upc: " }),
        &[("accept", "application/graphql-response+json")],
    )
    .await;
    assert_eq!((status, code(&body)), (400, "GRAPHQL_PARSE_FAILED"));
    let (status, body) = post(
        port,
        json!({ "query": "{ nope }" }),
        &[("accept", "application/graphql-response+json")],
    )
    .await;
    assert_eq!((status, code(&body)), (400, "GRAPHQL_VALIDATION_FAILED"));
    assert!(body.get("data").is_none());
    let (status, body) = post(
        port,
        json!({ "query": "{ nope }" }),
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!((status, code(&body)), (200, "GRAPHQL_VALIDATION_FAILED"));
    // @inaccessible fields are not part of the API.
    let (_, body) = post(
        port,
        json!({ "query": r#"{ product(upc: "1") { cost } }"# }),
        &[],
    )
    .await;
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
    let (_, body) = post(
        port,
        json!({ "query": "query A { __typename } query B { __typename }", "operationName": "C" }),
        &[],
    )
    .await;
    assert_eq!(code(&body), "GRAPHQL_UNKNOWN_OPERATION_NAME");
    let (_, body) = post(port, json!({ "query": "query A { __typename } query B { b: __typename }", "operationName": "B" }), &[]).await;
    assert_eq!(body["data"], json!({ "b": "Query" }));
    let (_, body) = post(port, json!({ "query": "query($u: String!) { product(upc: $u) { upc } }", "variables": { "u": 5 } }), &[]).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let (status, body) = post(port, json!({ "nonsense": true }), &[]).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
}

#[tokio::test]
async fn get_serves_queries_but_not_mutations() {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/graphql", dev().gateway);
    let query = [
        ("query", "query($u: String!) { product(upc: $u) { name } }"),
        ("variables", r#"{"u":"1"}"#),
    ];
    // A plain GET is what a cross-site <img> or link sends: refused unless marked deliberate.
    let response = client
        .get(&url)
        .query(&query)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(code(&body), "CSRF_PREVENTION");
    let response = client
        .get(&url)
        .query(&query)
        .header("x-mosaic-csrf", "1")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["data"]["product"]["name"], "Table");
    let response = client
        .get(&url)
        .query(&[(
            "query",
            r#"mutation { login(username: "ada", password: "x") { token } }"#,
        )])
        .header("x-mosaic-csrf", "1")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn introspection_shows_the_api_schema() {
    let body = gql(r#"{ __schema { queryType { name } } product: __type(name: "Product") { fields { name } } join: __type(name: "join__Graph") { name } }"#, json!({})).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let fields: Vec<&str> = body["data"]["product"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&"shippingEstimate") && fields.contains(&"reviews"));
    assert!(!fields.contains(&"cost"), "@inaccessible stays hidden");
    assert_eq!(
        body["data"]["join"],
        Value::Null,
        "federation machinery is not in the API"
    );
}

#[tokio::test]
async fn a_dead_subgraph_gives_partial_data_and_a_coded_error() {
    let port = free_ports();
    // Nothing listens on port 9 (discard) here: inventory is down.
    let down = [("inventory", "http://127.0.0.1:9/graphql".to_owned())];
    let _gateway = spawn_gateway(&gateway_args(port, SUPERGRAPH, &down, &[]), port).await;
    let (status, body) = post(
        port,
        json!({ "query": r#"{ product(upc: "1") { name shippingEstimate } }"# }),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["product"],
        json!({ "name": "Table", "shippingEstimate": null })
    );
    assert_eq!(code(&body), "SUBREQUEST_HTTP_ERROR");
    assert_eq!(body["errors"][0]["extensions"]["serviceName"], "inventory");
    assert_eq!(body["errors"][0]["path"], json!(["product"]));
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1));

    // `inStock: Boolean!` cannot be null: the null bubbles up to the nullable `product`.
    let (_, body) = post(
        port,
        json!({ "query": r#"{ product(upc: "1") { name inStock } }"# }),
        &[],
    )
    .await;
    assert_eq!(body["data"], json!({ "product": null }));
    assert_eq!(code(&body), "SUBREQUEST_HTTP_ERROR");

    // Not ready while a subgraph is down, and `/ready` says which.
    let response = reqwest::get(format!("http://127.0.0.1:{port}/ready"))
        .await
        .expect("ready answers");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["subgraphs_down"], json!(["inventory"]));
}

/// Arguments of a `mosaic gateway` on `port` over `supergraph`, in front of the dev subgraphs
/// except those `overrides` points elsewhere, plus `extra` flags.
fn gateway_args(
    port: u16,
    supergraph: &str,
    overrides: &[(&str, String)],
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = ["gateway", "--supergraph", supergraph, "--listen"]
        .map(String::from)
        .to_vec();
    args.push(format!("127.0.0.1:{port}"));
    let names = ["accounts", "products", "inventory", "reviews"];
    for (name, dev_port) in names.into_iter().zip(dev().subgraphs) {
        let url = overrides.iter().find(|(n, _)| *n == name).map_or_else(
            || format!("http://127.0.0.1:{dev_port}/graphql"),
            |(_, url)| url.clone(),
        );
        args.push("--subgraph-url".into());
        args.push(format!("{name}={url}"));
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[test]
fn plan_command_prints_the_query_plan() {
    let supergraph = SUPERGRAPH;
    let output = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args([
            "plan",
            "--supergraph",
            supergraph,
            "--operation",
            "{ topProducts { name inStock } }",
        ])
        .output()
        .expect("running mosaic plan");
    assert!(output.status.success());
    let plan = String::from_utf8_lossy(&output.stdout);
    assert!(plan.contains(r#"Fetch(service: "products")"#), "{plan}");
    assert!(plan.contains(r#"Flatten(path: "topProducts.@")"#), "{plan}");
    assert!(plan.contains(r#"Fetch(service: "inventory")"#), "{plan}");

    let output = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args([
            "plan",
            "--supergraph",
            supergraph,
            "--operation",
            "{ nope }",
        ])
        .output()
        .expect("running mosaic plan");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("GRAPHQL_VALIDATION_FAILED"));
}

#[tokio::test]
async fn reloads_a_changed_supergraph_and_refuses_a_broken_one() {
    let file = std::env::temp_dir().join(format!("mosaic-reload-{}.graphql", std::process::id()));
    let original = include_str!("../schema/supergraph.graphql");
    std::fs::write(&file, original).expect("writing the supergraph");
    let port = free_ports();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(gateway_args(port, &file.display().to_string(), &[], &[]))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting mosaic gateway");
    let mut log = BufReader::new(child.stderr.take().expect("piped stderr"))
        .lines()
        .map_while(Result::ok);
    let _process = Process(child);
    let mut wait_for = move |text: &str| {
        assert!(
            log.any(|line| line.contains(text)),
            "no log line with `{text}`"
        )
    };
    wait_for("gateway serving");

    let query = json!({ "query": "{ topProducts(first: 1) { name } }" });
    let (_, body) = post(port, query.clone(), &[]).await;
    assert_eq!(body["data"]["topProducts"][0]["name"], "Table");

    std::fs::write(&file, "this is not a supergraph").expect("writing");
    wait_for("refused the new supergraph");
    let (_, body) = post(port, query.clone(), &[]).await;
    assert_eq!(
        body["data"]["topProducts"][0]["name"], "Table",
        "the old supergraph still serves"
    );

    std::fs::write(&file, original.replace("topProducts(", "bestProducts(")).expect("writing");
    wait_for("supergraph reloaded");
    let (_, body) = post(port, query, &[]).await;
    assert_eq!(
        code(&body),
        "GRAPHQL_VALIDATION_FAILED",
        "the new supergraph serves"
    );
}

#[tokio::test]
async fn dev_returns_the_plan_on_request() {
    let query = json!({ "query": "{ topProducts(first: 1) { name inStock } }" });
    let (_, body) = post(
        dev().gateway,
        query.clone(),
        &[("x-mosaic-query-plan", "true")],
    )
    .await;
    let plan = &body["extensions"]["queryPlan"];
    assert!(
        plan["text"]
            .as_str()
            .is_some_and(|t| t.contains("Flatten(path: \"topProducts.@\")")),
        "{body}"
    );
    assert_eq!(plan["node"]["kind"], "Sequence");
    let (_, body) = post(dev().gateway, query, &[]).await;
    assert!(body.get("extensions").is_none(), "only when asked");
}

#[test]
fn composes_from_live_subgraphs() {
    let dev = dev();
    let names = ["accounts", "products", "inventory", "reviews"];
    let mut yaml = String::from("subgraphs:\n");
    for (name, port) in names.iter().zip(dev.subgraphs) {
        yaml.push_str(&format!(
            "  {name}:\n    schema:\n      subgraph_url: http://127.0.0.1:{port}/graphql\n"
        ));
    }
    let config = std::env::temp_dir().join(format!("mosaic-live-{}.yaml", std::process::id()));
    std::fs::write(&config, yaml).expect("writing the config");
    let output = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(["compose", "--config"])
        .arg(&config)
        .output()
        .expect("running mosaic compose");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let live = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(live.contains(&format!(
        "url: \"http://127.0.0.1:{}/graphql\"",
        dev.subgraphs[0]
    )));
    // Same graph as the checked-in files describe, routing URLs aside, and `@authenticated`:
    // async-graphql's live `_service` SDL cannot import it (see `subgraph_kit::server::sdl`).
    let checked_in = std::fs::read_to_string(SUPERGRAPH).expect("readable");
    let without_urls = |sdl: &str| -> std::collections::BTreeSet<String> {
        mosaic_composition::fingerprint(sdl)
            .into_iter()
            .filter(|l| !l.contains("@join__graph(") && !l.contains("authenticated"))
            .collect()
    };
    assert_eq!(without_urls(&live), without_urls(&checked_in));
}

#[tokio::test]
async fn slow_subgraphs_hit_the_subgraph_and_request_timeouts() {
    // A "subgraph" that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let silent_port = silent.local_addr().expect("bound").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let silent = [(
        "inventory",
        format!("http://127.0.0.1:{silent_port}/graphql"),
    )];
    let args = |port: u16, subgraph_timeout: &str, request_timeout: &str| {
        let timeouts = [
            "--subgraph-timeout",
            subgraph_timeout,
            "--request-timeout",
            request_timeout,
        ];
        gateway_args(port, SUPERGRAPH, &silent, &timeouts)
    };
    let query = json!({ "query": r#"{ product(upc: "1") { name shippingEstimate } }"# });

    let port = free_ports();
    let _gateway = spawn_gateway(&args(port, "1", "30"), port).await;
    let (status, body) = post(port, query.clone(), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["product"],
        json!({ "name": "Table", "shippingEstimate": null })
    );
    assert_eq!(code(&body), "SUBREQUEST_HTTP_ERROR");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("timed out")),
        "{body}"
    );

    let port = free_ports();
    let _gateway = spawn_gateway(&args(port, "30", "1"), port).await;
    let (status, body) = post(port, query, &[]).await;
    assert_eq!(status, 504);
    assert_eq!(code(&body), "GATEWAY_TIMEOUT");
}

#[tokio::test]
async fn condition_nodes_leave_out_the_fetches_of_excluded_selections() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // An inventory stand-in that counts its calls and answers every representation.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inventory = move |axum::Json(body): axum::Json<Value>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let count = body["variables"]["representations"]
            .as_array()
            .map_or(0, Vec::len);
        let entities = vec![json!({ "inStock": true }); count];
        async move { axum::Json(json!({ "data": { "_entities": entities } })) }
    };
    let app = axum::Router::new().route("/graphql", axum::routing::post(inventory));
    let stub = format!("http://127.0.0.1:{}/graphql", serve_in_background(app));
    let port = free_ports();
    let args = gateway_args(port, SUPERGRAPH, &[("inventory", stub)], &[]);
    let _gateway = spawn_gateway(&args, port).await;
    let ask = |query: &str, variables: Value| {
        let body = json!({ "query": query, "variables": variables });
        async move { post(port, body, &[]).await.1["data"]["product"].clone() }
    };

    let include = r#"query($stock: Boolean = false) { product(upc: "1") { name inStock @include(if: $stock) } }"#;
    assert_eq!(ask(include, json!({})).await, json!({ "name": "Table" }));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the default leaves inventory out"
    );
    let answer = ask(include, json!({ "stock": true })).await;
    assert_eq!(answer, json!({ "name": "Table", "inStock": true }));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let skip = r#"query($hide: Boolean!) { product(upc: "1") { name inStock @skip(if: $hide) } }"#;
    assert_eq!(
        ask(skip, json!({ "hide": true })).await,
        json!({ "name": "Table" })
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a skipped selection fetches nothing"
    );
    let answer = ask(skip, json!({ "hide": false })).await;
    assert_eq!(answer, json!({ "name": "Table", "inStock": true }));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_subgraph_answer_over_the_size_bound_fails_only_its_fetch() {
    // An inventory stand-in whose answers carry 8 KB of extensions.
    let inventory = |axum::Json(body): axum::Json<Value>| async move {
        let count = body["variables"]["representations"]
            .as_array()
            .map_or(0, Vec::len);
        let entities = vec![json!({ "inStock": true }); count];
        let padding = "x".repeat(8 * 1024);
        axum::Json(
            json!({ "data": { "_entities": entities }, "extensions": { "padding": padding } }),
        )
    };
    let app = axum::Router::new().route("/graphql", axum::routing::post(inventory));
    let stub = format!("http://127.0.0.1:{}/graphql", serve_in_background(app));
    let query = json!({ "query": r#"{ product(upc: "1") { name inStock } }"# });
    let bounded = config_file("limits:\n  max_subgraph_response_bytes: 4096\n");
    for (config, within) in [(None, true), (Some(bounded.as_str()), false)] {
        let port = free_ports();
        let extra: Vec<&str> = config.map(|c| vec!["--config", c]).unwrap_or_default();
        let args = gateway_args(port, SUPERGRAPH, &[("inventory", stub.clone())], &extra);
        let _gateway = spawn_gateway(&args, port).await;
        let (status, body) = post(port, query.clone(), &[]).await;
        assert_eq!(status, 200);
        if within {
            assert!(body.get("errors").is_none(), "{body}");
            assert_eq!(body["data"]["product"]["inStock"], true);
            continue;
        }
        // `inStock: Boolean!` is lost, so the null bubbles to `product`; the error says why.
        assert_eq!(body["data"], json!({ "product": null }), "{body}");
        assert_eq!(code(&body), "SUBREQUEST_HTTP_ERROR");
        assert_eq!(body["errors"][0]["extensions"]["serviceName"], "inventory");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("larger than 4096 bytes"), "{body}");
    }
}

#[tokio::test]
async fn executions_beyond_the_bound_wait_their_turn() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A products stand-in that tracks how many fetches it holds at once. Each waits (up to
    // 300 ms) for another to arrive, so unbounded executions would overlap there.
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (now_in, most_in) = (now.clone(), most.clone());
    let products = move |axum::Json(_): axum::Json<Value>| {
        let (now, most) = (now_in.clone(), most_in.clone());
        async move {
            let here = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(here, Ordering::SeqCst);
            for _ in 0..30 {
                if now.load(Ordering::SeqCst) > 1 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            now.fetch_sub(1, Ordering::SeqCst);
            axum::Json(json!({ "data": { "product": { "name": "Lamp" } } }))
        }
    };
    let app = axum::Router::new().route("/graphql", axum::routing::post(products));
    let stub = format!("http://127.0.0.1:{}/graphql", serve_in_background(app));
    let port = free_ports();
    let config = config_file("limits:\n  max_concurrent_executions: 1\n");
    let args = gateway_args(
        port,
        SUPERGRAPH,
        &[("products", stub)],
        &["--config", &config],
    );
    let _gateway = spawn_gateway(&args, port).await;
    // Distinct operations, so no two share a subgraph request.
    let asks = (1..=4).map(|upc| {
        let query = format!(r#"{{ product(upc: "{upc}") {{ name }} }}"#);
        async move { post(port, json!({ "query": query }), &[]).await }
    });
    for (status, body) in futures::future::join_all(asks).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["product"]["name"], "Lamp", "{body}");
    }
    assert_eq!(most.load(Ordering::SeqCst), 1, "one execution at a time");
}

async fn login(username: &str) -> String {
    let query = format!(
        r#"mutation {{ login(username: "{username}", password: "mosaic-demo") {{ token }} }}"#
    );
    let body = gql(&query, json!({})).await;
    let token = body["data"]["login"]["token"].as_str().expect("a token");
    format!("Bearer {token}")
}

#[tokio::test]
async fn authorization_directives_allow_and_deny_through_the_gateway() {
    let port = dev().gateway;
    // `@requiresScopes(products:write)`: ada holds it, grace does not.
    let mutation =
        json!({ "query": r#"mutation { updateProductPrice(upc: "9", price: 4200) { price } }"# });
    let ada = login("ada").await;
    let (_, body) = post(port, mutation.clone(), &[("authorization", &ada)]).await;
    assert_eq!(body["data"]["updateProductPrice"]["price"], 4200, "{body}");
    let grace = login("grace").await;
    let (_, body) = post(port, mutation, &[("authorization", &grace)]).await;
    assert_eq!(code(&body), "UNAUTHORIZED_FIELD_OR_TYPE");
    assert_eq!(body["data"]["updateProductPrice"], Value::Null);

    // `@authenticated` on `User.email`: anonymous callers get null and one error per place.
    let query = json!({ "query": "{ users { username email } }" });
    let (_, body) = post(port, query.clone(), &[]).await;
    assert_eq!(body["data"]["users"][0]["email"], Value::Null);
    assert_eq!(body["errors"][0]["path"], json!(["users", "@", "email"]));
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1));
    // Signed in, the subgraph decides per user: grace sees her own address only.
    let (_, body) = post(port, query, &[("authorization", &grace)]).await;
    let users = body["data"]["users"].as_array().expect("users");
    let grace_row = users
        .iter()
        .find(|u| u["username"] == "grace")
        .expect("grace");
    assert!(grace_row["email"].is_string(), "{body}");
    assert_eq!(code(&body), "FORBIDDEN");
}

#[tokio::test]
async fn a_forged_identity_is_refused_by_gateway_and_subgraph() {
    let claims = json!({ "sub": "1", "username": "ada", "scope": "products:write", "iss": "mosaic", "iat": 0, "exp": 4_000_000_000u64 });
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-real-key"),
    )
    .expect("signing");
    let bearer = format!("Bearer {forged}");
    let mutation =
        json!({ "query": r#"mutation { updateProductPrice(upc: "9", price: 1) { price } }"# });
    let (status, body) = post(
        dev().gateway,
        mutation.clone(),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
    // Straight to the products subgraph, bypassing the gateway: it verifies the token itself.
    let (status, body) = post(dev().subgraphs[1], mutation, &[("authorization", &bearer)]).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
}

#[tokio::test]
async fn the_production_profile_turns_dev_conveniences_off() {
    let config = config_file(&format!(
        "auth:\n  hmac_secret: {}\nauthorization:\n  reject_unauthorized: true\n",
        subgraph_kit::caller::DEV_JWT_SECRET
    ));
    let port = free_ports();
    let extra = ["--profile", "production", "--config", &config];
    let _gateway = spawn_gateway(&gateway_args(port, SUPERGRAPH, &[], &extra), port).await;

    let introspection = json!({ "query": "{ __schema { queryType { name } } }" });
    let (_, body) = post(port, introspection, &[]).await;
    assert_eq!(code(&body), "INTROSPECTION_DISABLED");
    let playground = reqwest::get(format!("http://127.0.0.1:{port}/playground"))
        .await
        .expect("an answer");
    assert_eq!(playground.status(), 404, "no playground in production");
    let query = json!({ "query": r#"{ product(upc: "1") { name } }"# });
    let (_, body) = post(port, query, &[("x-mosaic-query-plan", "true")]).await;
    assert!(body.get("extensions").is_none(), "{body}");
    // Subgraph error details are redacted; the code stays.
    let grace = login("grace").await;
    let users = json!({ "query": "{ users { username email } }" });
    let (_, body) = post(port, users, &[("authorization", &grace)]).await;
    assert_eq!(body["errors"][0]["message"], "Subgraph errors redacted");
    assert_eq!(code(&body), "FORBIDDEN");
    // Unauthorized parts reject the whole operation.
    let mutation =
        json!({ "query": r#"mutation { addReview(upc: "1", body: "x", rating: 1) { id } }"# });
    let (status, body) = post(port, mutation, &[]).await;
    assert_eq!((status, code(&body)), (403, "UNAUTHORIZED_FIELD_OR_TYPE"));
    assert!(body.get("data").is_none());
    // No CORS for other origins in production; dev allows any.
    let preflight = |port: u16| async move {
        reqwest::Client::new()
            .request(
                reqwest::Method::OPTIONS,
                format!("http://127.0.0.1:{port}/graphql"),
            )
            .header("origin", "http://elsewhere.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("an answer")
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    assert_eq!(preflight(port).await, None);
    assert_eq!(preflight(dev().gateway).await.as_deref(), Some("*"));
}

/// The value of the first `/metrics` sample line starting with `series`.
async fn metric(port: u16, series: &str) -> f64 {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_and_ready_reports_subgraphs() {
    let port = dev().gateway;
    let series = r#"mosaic_requests_total{operation="MetricsProbe",outcome="ok"}"#;
    let before = metric(port, series).await;
    let hits_before = metric(port, "mosaic_plan_cache_hits_total").await;
    for _ in 0..3 {
        let query = json!({ "query": "query MetricsProbe { topProducts(first: 1) { name } }" });
        let (status, _) = post(port, query, &[]).await;
        assert_eq!(status, 200);
    }
    assert_eq!(metric(port, series).await, before + 3.0);
    assert!(metric(port, "mosaic_plan_cache_hits_total").await >= hits_before + 2.0);
    let products = r#"mosaic_subgraph_requests_total{subgraph="products",outcome="ok"}"#;
    assert!(metric(port, products).await >= 3.0);
    // Every response names its request; a plain client id is kept.
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let query = json!({ "query": "{ __typename }" });
    let response = client.post(&url).json(&query).send().await.expect("answer");
    assert!(response.headers().contains_key("x-request-id"));
    let response = client
        .post(&url)
        .header("x-request-id", "trace-me-42")
        .json(&query)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    for port in std::iter::once(port).chain(dev().subgraphs) {
        let response = reqwest::get(format!("http://127.0.0.1:{port}/ready"))
            .await
            .expect("ready answers");
        assert_eq!(response.status(), 200, "port {port}");
    }
}

#[tokio::test]
async fn subscriptions_stream_over_server_sent_events() {
    let port = dev().gateway;
    let ada = login("ada").await;
    let mut response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .header("accept", "text/event-stream")
        .header("authorization", &ada)
        .json(&json!({ "query": "subscription { reviewAdded { body product { name } } }" }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/event-stream"))
    );
    let mut seen = String::new();
    // No signal tells when the subgraph subscription is open: add reviews until one streams in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !seen.contains("Over SSE") {
        assert!(std::time::Instant::now() < deadline, "no event: {seen}");
        let mutation = json!({ "query": r#"mutation { addReview(upc: "4", body: "Over SSE", rating: 3) { id } }"# });
        let (status, _) = post(port, mutation, &[("authorization", &ada)]).await;
        assert_eq!(status, 200);
        let wait = std::time::Duration::from_millis(300);
        while let Ok(chunk) = tokio::time::timeout(wait, response.chunk()).await {
            let chunk = chunk.expect("the stream stays open").expect("a chunk");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    let event = seen
        .split("\n\n")
        .find(|e| e.contains("Over SSE"))
        .expect("the event");
    assert!(event.starts_with("event: next\ndata: "), "{event}");
    let data: Value = serde_json::from_str(&event["event: next\ndata: ".len()..]).expect("JSON");
    assert_eq!(
        data["data"]["reviewAdded"],
        json!({ "body": "Over SSE", "product": { "name": "Lamp" } })
    );
}

#[tokio::test]
async fn requiring_authentication_refuses_anonymous_requests() {
    let config = config_file(&format!(
        "auth:\n  hmac_secret: {}\n  require_authentication: true\n",
        subgraph_kit::caller::DEV_JWT_SECRET
    ));
    let port = free_ports();
    let extra = ["--config", &config];
    let _gateway = spawn_gateway(&gateway_args(port, SUPERGRAPH, &[], &extra), port).await;
    let query = json!({ "query": r#"{ product(upc: "1") { name } }"# });
    let (status, body) = post(port, query.clone(), &[]).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
    let grace = login("grace").await;
    let (status, body) = post(port, query, &[("authorization", &grace)]).await;
    assert_eq!(
        (status, &body["data"]["product"]["name"]),
        (200, &json!("Table"))
    );
}

#[tokio::test]
async fn reloading_under_load_loses_no_request() {
    let file =
        std::env::temp_dir().join(format!("mosaic-reload-load-{}.graphql", std::process::id()));
    let original = include_str!("../schema/supergraph.graphql");
    std::fs::write(&file, original).expect("writing the supergraph");
    let port = free_ports();
    let _gateway = spawn_gateway(
        &gateway_args(port, &file.display().to_string(), &[], &[]),
        port,
    )
    .await;
    let applied = r#"mosaic_supergraph_reloads_total{outcome="applied"}"#;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four clients query without pause while the file is rewritten until two reloads applied.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut answered = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let query = json!({ "query": "{ topProducts(first: 2) { name inStock } }" });
                    let (status, body) = post(port, query, &[]).await;
                    assert_eq!(status, 200, "{body}");
                    assert!(body.get("errors").is_none(), "{body}");
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut edit = 0;
    while metric(port, applied).await < 2.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reloads never applied"
        );
        edit += 1;
        std::fs::write(&file, format!("{original}\n# edit {edit}\n")).expect("rewriting");
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for client in clients {
        answered += client.await.expect("no client failed");
    }
    assert!(answered > 0);
}

#[tokio::test]
async fn subgraphs_can_be_reached_over_h2c() {
    let config = config_file("subgraph_h2c: true\n");
    let port = free_ports();
    let extra = ["--config", &config];
    let _gateway = spawn_gateway(&gateway_args(port, SUPERGRAPH, &[], &extra), port).await;
    // Every fetch of this query (products, inventory, reviews, accounts) goes over HTTP/2: a
    // subgraph that did not speak h2c would fail it.
    let query =
        json!({ "query": r#"{ product(upc: "1") { name inStock reviews { author { name } } } }"# });
    let (status, body) = post(port, query, &[]).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["product"]["name"], "Table");
}
