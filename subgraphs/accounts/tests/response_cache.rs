//! The response cache (`--response-cache-seconds`) on the accounts subgraph over real HTTP: a
//! repeated read skips execution, an answer that read the caller stays that caller's, and a write
//! clears what was kept.

use std::time::Duration;

use accounts::Accounts;
use serde_json::json;
use subgraph_kit::testing::TestServer;

async fn cached_server() -> TestServer {
    TestServer::start_with_cache::<Accounts>(Some(Duration::from_secs(60))).await
}

#[tokio::test]
async fn answers_a_repeated_read_without_the_database() {
    let server = cached_server().await;
    let query = "{ users { id username } }";
    let first = server.query(query, json!({})).await;
    assert_eq!(first["data"]["users"].as_array().map(Vec::len), Some(12));
    assert!(server.take_statement_count() > 0);

    // No resolver read the caller, so another caller gets the same answer, from the cache.
    let token = server.token(2, "alan", "");
    let again = server.query_as(&token, query, json!({})).await;
    assert_eq!(again, first);
    assert_eq!(server.take_statement_count(), 0);
}

#[tokio::test]
async fn keeps_answers_that_read_the_caller_for_that_caller_alone() {
    let server = cached_server().await;
    let query = "{ me { username } }";
    let alan = server.token(2, "alan", "");
    let grace = server.token(3, "grace", "");
    let first = server.query_as(&alan, query, json!({})).await;
    assert_eq!(first["data"]["me"]["username"], "alan");
    server.take_statement_count();

    let again = server.query_as(&alan, query, json!({})).await;
    assert_eq!(again, first);
    assert_eq!(server.take_statement_count(), 0, "alan's answer was kept");

    let other = server.query_as(&grace, query, json!({})).await;
    assert_eq!(other["data"]["me"]["username"], "grace");
    let anonymous = server.query(query, json!({})).await;
    assert_eq!(anonymous["data"]["me"], json!(null));
}

#[tokio::test]
async fn a_write_clears_the_kept_answers() {
    let server = cached_server().await;
    let query = "{ users { username } }";
    let before = server.query(query, json!({})).await;
    assert_eq!(before["data"]["users"].as_array().map(Vec::len), Some(12));

    let sign_up = "mutation { signUp(username: \"cached_new\", password: \"long enough\", name: \"New\") { user { id } } }";
    let written = server.query(sign_up, json!({})).await;
    assert!(written["errors"].is_null(), "{written}");

    let after = server.query(query, json!({})).await;
    let users = after["data"]["users"].as_array().expect("a list");
    assert_eq!(users.len(), 13);
    assert_eq!(users[12]["username"], "cached_new");
}

#[tokio::test]
async fn does_not_keep_answers_with_errors() {
    let server = cached_server().await;
    let query = "{ user(id: \"2\") { username email } }";
    let anonymous = server.query(query, json!({})).await;
    assert!(anonymous["errors"].is_array());
    server.take_statement_count();

    let owner = server
        .query_as(&server.token(2, "alan", ""), query, json!({}))
        .await;
    assert_eq!(owner["data"]["user"]["email"], "alan@mosaic.dev");
    assert!(server.take_statement_count() > 0);
}
