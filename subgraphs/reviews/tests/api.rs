//! The reviews subgraph over real HTTP and websocket, on a fresh seeded database (SQLite, or
//! PostgreSQL when `MOSAIC_TEST_POSTGRES_URL` is set).

use reviews::Reviews;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use subgraph_kit::testing::{TestServer, assert_sdl_matches_schema_file, error_code};

async fn server() -> TestServer {
    TestServer::start::<Reviews>().await
}

const ADD: &str = "mutation($upc: String!, $body: String!, $rating: Int!) { addReview(upc: $upc, body: $body, rating: $rating) { id body rating author { id username } product { upc } } }";

#[test]
fn sdl_matches_schema_file() {
    assert_sdl_matches_schema_file::<Reviews>();
}

#[tokio::test]
async fn reviews_of_users_and_products_with_provided_usernames() {
    let server = server().await;
    let reps = json!([
        { "__typename": "User", "id": "1" },
        { "__typename": "Product", "upc": "8" },
        { "__typename": "User", "id": "999" },
    ]);
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { reviews { id author { username } } } ... on Product { reviewsCount reviews { rating product { upc } } } } }";
    let body = server.query(query, json!({ "r": reps })).await;
    let entities = &body["data"]["_entities"];
    let by_ada = entities[0]["reviews"].as_array().expect("a list");
    assert_eq!(by_ada.len(), 6, "72 reviews over 12 users");
    assert!(by_ada.iter().all(|r| r["author"]["username"] == "ada"));
    assert_eq!(entities[1]["reviewsCount"], 3);
    assert!(
        entities[1]["reviews"]
            .as_array()
            .expect("a list")
            .iter()
            .all(|r| r["product"]["upc"] == "8")
    );
    assert_eq!(entities[2]["reviews"], json!([]));

    let body = server
        .query(
            r#"{ review(id: "1") { id body } missing: review(id: "12345") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["review"]["id"], "1");
    assert_eq!(body["data"]["missing"], Value::Null);
}

#[tokio::test]
async fn batches_fifty_users_reviews_into_one_statement() {
    let server = server().await;
    let reps: Vec<Value> = (1..=50)
        .map(|n| json!({ "__typename": "User", "id": n.to_string() }))
        .collect();
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { reviews { id } } } }";
    server.take_statement_count();
    let body = server.query(query, json!({ "r": reps })).await;
    assert_eq!(
        server.take_statement_count(),
        1,
        "one SELECT for the whole batch"
    );
    assert_eq!(body["data"]["_entities"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn adds_reviews_as_the_signed_in_author_only() {
    let server = server().await;
    let vars = json!({ "upc": "3", "body": "Comfy", "rating": 5 });
    let body = server.query(ADD, vars.clone()).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");

    let token = server.token(4, "edsger", "");
    let body = server.query_as(&token, ADD, vars).await;
    let review = &body["data"]["addReview"];
    assert_eq!(review["author"], json!({ "id": "4", "username": "edsger" }));
    assert_eq!(review["id"], "73", "ids continue after the seeded ones");

    for (vars, why) in [
        (
            json!({ "upc": "3", "body": "  ", "rating": 3 }),
            "empty body",
        ),
        (
            json!({ "upc": "3", "body": "x".repeat(2001), "rating": 3 }),
            "over-long body",
        ),
        (
            json!({ "upc": "3", "body": "ok", "rating": 6 }),
            "rating above 5",
        ),
        (
            json!({ "upc": "3", "body": "ok", "rating": 0 }),
            "rating below 1",
        ),
    ] {
        let body = server.query_as(&token, ADD, vars).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{why}: {body}");
    }
    let body = server
        .query("{ latestReviews(first: 2) { id } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["latestReviews"],
        json!([{ "id": "73" }, { "id": "72" }])
    );
}

#[tokio::test]
async fn deletes_only_own_reviews() {
    let server = server().await;
    let delete = r#"mutation { deleteReview(id: "1") }"#;
    let not_author = server
        .query_as(&server.token(2, "alan", ""), delete, json!({}))
        .await;
    assert_eq!(error_code(&not_author), "FORBIDDEN");
    let author = server.token(1, "ada", "");
    assert_eq!(
        server.query_as(&author, delete, json!({})).await["data"]["deleteReview"],
        true
    );
    assert_eq!(
        server.query_as(&author, delete, json!({})).await["data"]["deleteReview"],
        false
    );
}

#[tokio::test]
async fn streams_new_reviews_to_subscribers() {
    let server = server().await;
    let token = server.token(5, "barbara", "");
    let mut all = server
        .subscribe(
            Some(&format!("Bearer {token}")),
            "subscription { reviewAdded { body author { username } product { upc } } }",
            json!({}),
        )
        .await;
    let mut other_product = server
        .subscribe(
            None,
            r#"subscription { reviewAdded(upc: "9") { id } }"#,
            json!({}),
        )
        .await;
    server
        .query_as(
            &token,
            ADD,
            json!({ "upc": "3", "body": "Lovely", "rating": 4 }),
        )
        .await;
    server
        .query_as(
            &token,
            ADD,
            json!({ "upc": "9", "body": "Fine", "rating": 3 }),
        )
        .await;

    let event = all.next_payload().await;
    assert_eq!(
        event["data"]["reviewAdded"],
        json!({ "body": "Lovely", "author": { "username": "barbara" }, "product": { "upc": "3" } })
    );
    let filtered = other_product.next_payload().await;
    assert_eq!(filtered["data"]["reviewAdded"]["id"], "74");
}

#[tokio::test]
async fn refuses_bad_websocket_credentials() {
    let server = server().await;
    let mut socket = server.subscribe_raw(Some("Bearer forged")).await;
    let message = socket.message().await;
    assert_eq!(message["type"], "close", "{message}");
    // async-graphql closes a refused `connection_init` with 1002 and no subscription starts.
    assert_eq!(message["code"], 1002);
}

#[tokio::test]
async fn database_failures_are_internal_errors_without_details() {
    let server = server().await;
    server
        .db
        .execute_unprepared("DROP TABLE reviews")
        .await
        .expect("dropping the table");
    let body = server.query("{ latestReviews { id } }", json!({})).await;
    assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert_eq!(message, "internal server error");
}
