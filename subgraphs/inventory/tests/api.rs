//! The inventory subgraph over real HTTP and websocket, on a fresh seeded database (SQLite, or
//! PostgreSQL when `MOSAIC_TEST_POSTGRES_URL` is set).

use inventory::Inventory;
use serde_json::{Value, json};
use subgraph_kit::testing::{TestServer, assert_sdl_matches_schema_file, error_code};

async fn server() -> TestServer {
    TestServer::start::<Inventory>().await
}

const ENTITIES: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { upc inStock quantity shippingEstimate } } }";
const RESTOCK: &str = "mutation($upc: String!, $q: Int!) { restock(upc: $upc, quantity: $q) { upc quantity inStock } }";

#[test]
fn sdl_matches_schema_file() {
    assert_sdl_matches_schema_file::<Inventory>();
}

#[tokio::test]
async fn extends_products_with_stock_and_shipping() {
    let server = server().await;
    let reps = json!([
        { "__typename": "Product", "upc": "1", "price": 899, "weight": 100 },
        { "__typename": "Product", "upc": "5", "price": 1500, "weight": 100 },
        { "__typename": "Product", "upc": "unknown", "price": 10, "weight": 10 },
    ]);
    let body = server.query(ENTITIES, json!({ "r": reps })).await;
    assert_eq!(
        body["data"]["_entities"],
        json!([
            { "upc": "1", "inStock": true, "quantity": 14, "shippingEstimate": 50 },
            { "upc": "5", "inStock": false, "quantity": 0, "shippingEstimate": 0 },
            { "upc": "unknown", "inStock": false, "quantity": 0, "shippingEstimate": 5 },
        ])
    );
}

#[tokio::test]
async fn batches_fifty_entity_representations_into_one_statement() {
    let server = server().await;
    let reps: Vec<Value> = (1..=50)
        .map(|n| json!({ "__typename": "Product", "upc": n.to_string(), "price": 100, "weight": 10 }))
        .collect();
    server.take_statement_count();
    let body = server.query(ENTITIES, json!({ "r": reps })).await;
    assert_eq!(
        server.take_statement_count(),
        1,
        "one SELECT for the whole batch"
    );
    assert_eq!(body["data"]["_entities"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn restocks_with_scope_and_valid_quantity_only() {
    let server = server().await;
    let vars = json!({ "upc": "5", "q": 7 });
    assert_eq!(
        error_code(&server.query(RESTOCK, vars.clone()).await),
        "UNAUTHENTICATED"
    );
    let clerk = server.token(2, "alan", "");
    assert_eq!(
        error_code(&server.query_as(&clerk, RESTOCK, vars.clone()).await),
        "FORBIDDEN"
    );

    let staff = server.token(1, "ada", "inventory:write");
    for bad in [0, -3, 2_000_000] {
        let body = server
            .query_as(&staff, RESTOCK, json!({ "upc": "5", "q": bad }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
    }
    let body = server.query_as(&staff, RESTOCK, vars.clone()).await;
    assert_eq!(
        body["data"]["restock"],
        json!({ "upc": "5", "quantity": 7, "inStock": true })
    );
    let body = server.query_as(&staff, RESTOCK, vars).await;
    assert_eq!(body["data"]["restock"]["quantity"], 14);
}

#[tokio::test]
async fn streams_stock_changes_after_commit() {
    let server = server().await;
    let mut all = server
        .subscribe(
            None,
            "subscription { stockChanged { upc quantity inStock } }",
            json!({}),
        )
        .await;
    let mut only_two = server
        .subscribe(
            None,
            r#"subscription { stockChanged(upc: "2") { upc quantity } }"#,
            json!({}),
        )
        .await;
    let staff = server.token(1, "ada", "inventory:write");
    server
        .query_as(&staff, RESTOCK, json!({ "upc": "10", "q": 3 }))
        .await;
    server
        .query_as(&staff, RESTOCK, json!({ "upc": "2", "q": 1 }))
        .await;

    let first = all.next_payload().await;
    assert_eq!(
        first["data"]["stockChanged"],
        json!({ "upc": "10", "quantity": 3, "inStock": true })
    );
    let second = all.next_payload().await;
    assert_eq!(second["data"]["stockChanged"]["upc"], "2");
    let filtered = only_two.next_payload().await;
    assert_eq!(
        filtered["data"]["stockChanged"],
        json!({ "upc": "2", "quantity": 28 })
    );
}
