//! The accounts subgraph over real HTTP, on a fresh seeded database (SQLite, or PostgreSQL when
//! `MOSAIC_TEST_POSTGRES_URL` is set).

use accounts::Accounts;
use serde_json::{Value, json};
use subgraph_kit::demo::DEMO_PASSWORD;
use subgraph_kit::testing::{TestServer, assert_sdl_matches_schema_file, error_code};

async fn server() -> TestServer {
    TestServer::start::<Accounts>().await
}

#[test]
fn sdl_matches_schema_file() {
    assert_sdl_matches_schema_file::<Accounts>();
}

#[tokio::test]
async fn lists_and_finds_seeded_users() {
    let server = server().await;
    let body = server
        .query("{ users { id username name birthday } }", json!({}))
        .await;
    let users = body["data"]["users"].as_array().expect("a list");
    assert_eq!(users.len(), 12);
    assert_eq!(
        users[0],
        json!({ "id": "1", "username": "ada", "name": "Ada Lovelace", "birthday": 1815 })
    );

    let body = server.query(r#"{ known: user(id: "2") { username } unknown: user(id: "999") { username } bad: user(id: "x") { id } }"#, json!({})).await;
    assert_eq!(
        body,
        json!({ "data": { "known": { "username": "alan" }, "unknown": null, "bad": null } })
    );
}

#[tokio::test]
async fn paginates_users_by_cursor() {
    let server = server().await;
    let page = "query($after: String) { usersPage(first: 5, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    let first = server.query(page, json!({})).await;
    assert_eq!(
        first["data"]["usersPage"]["pageInfo"],
        json!({ "hasNextPage": true, "endCursor": "5" })
    );
    let last = server.query(page, json!({ "after": "10" })).await;
    assert_eq!(
        last["data"]["usersPage"]["nodes"],
        json!([{ "id": "11" }, { "id": "12" }])
    );
    assert_eq!(last["data"]["usersPage"]["pageInfo"]["hasNextPage"], false);

    let bad = server
        .query("{ usersPage(first: 0) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
}

#[tokio::test]
async fn resolves_entities_by_either_key() {
    let server = server().await;
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id username } } }";
    let reps = json!([
        { "__typename": "User", "id": "3" },
        { "__typename": "User", "username": "tony" },
        { "__typename": "User", "id": "404" },
    ]);
    let body = server.query(query, json!({ "r": reps })).await;
    assert_eq!(
        body["data"]["_entities"],
        json!([{ "id": "3", "username": "grace" }, { "id": "8", "username": "tony" }, null])
    );
}

#[tokio::test]
async fn batches_fifty_entity_representations_into_one_statement() {
    let server = server().await;
    let reps: Vec<Value> = (1..=50)
        .map(|id| json!({ "__typename": "User", "id": id.to_string() }))
        .collect();
    let query =
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name } } }";
    server.take_statement_count();
    let body = server.query(query, json!({ "r": reps })).await;
    assert_eq!(
        server.take_statement_count(),
        1,
        "one SELECT for the whole batch"
    );
    let entities = body["data"]["_entities"].as_array().expect("a list");
    assert_eq!(entities.len(), 50);
    assert_eq!(entities.iter().filter(|e| e.is_null()).count(), 38);
}

#[tokio::test]
async fn signs_up_logs_in_and_knows_me() {
    let server = server().await;
    let sign_up = "mutation { signUp(username: \"new_user\", password: \"long enough\", name: \"New\") { token user { id username } } }";
    let body = server.query(sign_up, json!({})).await;
    let token = body["data"]["signUp"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(body["data"]["signUp"]["user"]["username"], "new_user");

    let me = server
        .query_as(&token, "{ me { username email } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "username": "new_user", "email": "new_user@mosaic.dev" })
    );

    let login = format!(
        "mutation {{ login(username: \"ada\", password: \"{DEMO_PASSWORD}\") {{ token user {{ id }} }} }}"
    );
    let body = server.query(&login, json!({})).await;
    let token = body["data"]["login"]["token"].as_str().expect("a token");
    let caller = server.auth.verify(token).expect("the token verifies");
    assert!(
        matches!(caller, subgraph_kit::Caller::User { id: 1, ref scopes, .. } if scopes.contains("products:write"))
    );
}

#[tokio::test]
async fn refuses_bad_credentials() {
    let server = server().await;
    let body = server
        .query(
            "mutation { login(username: \"ada\", password: \"wrong password\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(body["data"], Value::Null);

    let (status, body) = server
        .request(Some("not-a-jwt"), "{ me { id } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn rejects_bad_sign_ups_without_writing() {
    let server = server().await;
    let cases = [
        ("ab", "long enough", "BAD_USER_INPUT"),
        ("Has Spaces", "long enough", "BAD_USER_INPUT"),
        ("valid_name", "short", "BAD_USER_INPUT"),
        ("ada", "long enough", "CONFLICT"),
    ];
    for (username, password, expected) in cases {
        let body = server
            .query(
                "mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { token } }",
                json!({ "u": username, "p": password }),
            )
            .await;
        assert_eq!(error_code(&body), expected, "{username}/{password}: {body}");
    }
    let body = server
        .query("{ usersPage(first: 100) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["usersPage"]["nodes"].as_array().map(Vec::len),
        Some(12)
    );
}

#[tokio::test]
async fn shows_email_only_to_its_owner_or_read_email_scope() {
    let server = server().await;
    let query = "{ user(id: \"2\") { username email } }";
    let anonymous = server.query(query, json!({})).await;
    assert_eq!(anonymous["data"]["user"]["username"], "alan");
    // async-graphql leaves a failed nullable field out of `data`; either way it reads as null.
    assert!(anonymous["data"]["user"]["email"].is_null());
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");

    let other = server
        .query_as(&server.token(3, "grace", ""), query, json!({}))
        .await;
    assert_eq!(error_code(&other), "FORBIDDEN");
    let owner = server
        .query_as(&server.token(2, "alan", ""), query, json!({}))
        .await;
    assert_eq!(owner["data"]["user"]["email"], "alan@mosaic.dev");
    let staff = server
        .query_as(&server.token(3, "grace", "read:email"), query, json!({}))
        .await;
    assert_eq!(staff["data"]["user"]["email"], "alan@mosaic.dev");
}
