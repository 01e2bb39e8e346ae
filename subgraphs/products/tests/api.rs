//! The products subgraph over real HTTP, on a fresh seeded database (SQLite, or PostgreSQL when
//! `MOSAIC_TEST_POSTGRES_URL` is set).

use products::Products;
use serde_json::{Value, json};
use subgraph_kit::testing::{TestServer, assert_sdl_matches_schema_file, error_code};

async fn server() -> TestServer {
    TestServer::start::<Products>().await
}

fn writer(server: &TestServer) -> String {
    server.token(1, "ada", "products:write")
}

const CREATE: &str =
    "mutation($p: [ProductInput!]!) { createProducts(input: $p) { upc name price } }";

#[test]
fn sdl_matches_schema_file() {
    assert_sdl_matches_schema_file::<Products>();
}

#[tokio::test]
async fn serves_the_catalog() {
    let server = server().await;
    let body = server
        .query("{ topProducts { upc name } }", json!({}))
        .await;
    let top = body["data"]["topProducts"].as_array().expect("a list");
    assert_eq!(top.len(), 5);
    assert_eq!(top[0], json!({ "upc": "1", "name": "Table" }));

    let body = server
        .query("{ topProducts(first: 30) { upc } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["topProducts"].as_array().map(Vec::len),
        Some(24)
    );

    let body = server
        .query(
            r#"{ product(upc: "2") { name price weight } missing: product(upc: "nope") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "product": { "name": "Couch", "price": 894, "weight": 472 }, "missing": null })
    );

    let body = server
        .query("{ topProducts(first: 1000) { upc } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn batches_fifty_entity_representations_into_one_statement() {
    let server = server().await;
    let reps: Vec<Value> = (1..=50)
        .map(|n| json!({ "__typename": "Product", "upc": n.to_string() }))
        .collect();
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { upc name } } }";
    server.take_statement_count();
    let body = server.query(query, json!({ "r": reps })).await;
    assert_eq!(
        server.take_statement_count(),
        1,
        "one SELECT for the whole batch"
    );
    let entities = body["data"]["_entities"].as_array().expect("a list");
    assert_eq!(entities.len(), 50);
    assert_eq!(entities[23], json!({ "upc": "24", "name": "Clock" }));
    assert!(entities[24].is_null());
}

#[tokio::test]
async fn writes_need_the_products_write_scope() {
    let server = server().await;
    let mutation = r#"mutation { updateProductPrice(upc: "1", price: 5) { price } }"#;
    let anonymous = server.query(mutation, json!({})).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let reader = server
        .query_as(&server.token(2, "alan", ""), mutation, json!({}))
        .await;
    assert_eq!(error_code(&reader), "FORBIDDEN");

    let body = server.query_as(&writer(&server), mutation, json!({})).await;
    assert_eq!(body["data"]["updateProductPrice"]["price"], 5);
    let body = server
        .query_as(
            &writer(&server),
            r#"mutation { updateProductPrice(upc: "nope", price: 5) { price } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["updateProductPrice"], Value::Null);
}

#[tokio::test]
async fn creates_products_and_rejects_bad_input() {
    let server = server().await;
    let token = writer(&server);
    let new = json!([{ "upc": "100", "name": "Lamp XL", "price": 1200, "weight": 300 }]);
    let body = server.query_as(&token, CREATE, json!({ "p": new })).await;
    assert_eq!(
        body["data"]["createProducts"],
        json!([{ "upc": "100", "name": "Lamp XL", "price": 1200 }])
    );

    for bad in [
        json!({ "upc": "101", "name": "", "price": 1, "weight": 1 }),
        json!({ "upc": "101", "name": "X", "price": -1, "weight": 1 }),
        json!({ "upc": "x".repeat(65), "name": "X", "price": 1, "weight": 1 }),
    ] {
        let body = server.query_as(&token, CREATE, json!({ "p": [bad] })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    let body = server
        .query(r#"{ product(upc: "101") { upc } }"#, json!({}))
        .await;
    assert_eq!(body["data"]["product"], Value::Null);
}

#[tokio::test]
async fn a_failed_batch_writes_nothing() {
    let server = server().await;
    // The third product's code is taken: the first two must not stay behind.
    let batch = json!([
        { "upc": "200", "name": "A", "price": 1, "weight": 1 },
        { "upc": "201", "name": "B", "price": 1, "weight": 1 },
        { "upc": "1", "name": "Duplicate", "price": 1, "weight": 1 },
    ]);
    let body = server
        .query_as(&writer(&server), CREATE, json!({ "p": batch }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let body = server.query(r#"{ a: product(upc: "200") { upc } b: product(upc: "201") { upc } one: product(upc: "1") { name } }"#, json!({})).await;
    assert_eq!(
        body["data"],
        json!({ "a": null, "b": null, "one": { "name": "Table" } })
    );
}

#[tokio::test]
async fn refuses_oversized_and_malformed_bodies() {
    let server = server().await;
    let client = reqwest::Client::new();
    let huge = format!(
        "{{\"query\": \"{{ topProducts {{ upc }} }}\", \"extensions\": {{ \"pad\": \"{}\" }} }}",
        "x".repeat(2 * 1024 * 1024)
    );
    for (body, status) in [(huge, 413), ("{not json".to_owned(), 400)] {
        let response = client
            .post(server.url())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.expect("a JSON error body");
        assert_eq!(error_code(&body), "BAD_REQUEST");
    }
    // And it keeps serving.
    let body = server
        .query("{ product(upc: \"1\") { upc } }", json!({}))
        .await;
    assert_eq!(body["data"]["product"]["upc"], "1");
}
