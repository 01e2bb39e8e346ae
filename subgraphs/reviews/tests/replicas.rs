//! Two replicas of the reviews subgraph sharing one database and a NATS bus: a review added
//! through replica A reaches a subscriber connected to replica B. Runs when
//! `MOSAIC_TEST_NATS_URL` names a NATS server (CI sets it); skipped otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reviews::Reviews;
use serde_json::json;
use subgraph_kit::NatsBus;
use subgraph_kit::testing::{TestServer, fresh_database_url};

#[tokio::test]
async fn a_review_added_on_one_replica_reaches_a_subscriber_on_another() {
    let Ok(nats) = std::env::var("MOSAIC_TEST_NATS_URL") else {
        eprintln!("SKIPPED: set MOSAIC_TEST_NATS_URL (e.g. nats://127.0.0.1:4222) to run");
        return;
    };
    // A subject prefix of its own, so parallel runs on one broker do not see each other.
    let prefix = format!("mosaic-test-{}", std::process::id());
    let bus = || async {
        let bus = NatsBus::connect(&nats, &prefix)
            .await
            .expect("NATS answers");
        Arc::new(bus) as Arc<dyn subgraph_kit::EventBus>
    };
    let url = fresh_database_url("reviews").await;
    let a = TestServer::start_replica::<Reviews>(&url, bus().await, true).await;
    let b = TestServer::start_replica::<Reviews>(&url, bus().await, false).await;
    let token = a.token(1, "ada", "");
    let mut subscription = b
        .subscribe(
            Some(&format!("Bearer {token}")),
            "subscription { reviewAdded { body author { id } } }",
            json!({}),
        )
        .await;
    // No acknowledgement tells when B's listener reaches the broker: add reviews on A until one
    // arrives on B (bounded).
    let deadline = Instant::now() + Duration::from_secs(15);
    let event = loop {
        assert!(Instant::now() < deadline, "no event crossed replicas");
        let added = a
            .query_as(
                &token,
                r#"mutation { addReview(upc: "1", body: "Across replicas", rating: 5) { id } }"#,
                json!({}),
            )
            .await;
        assert!(added.get("errors").is_none(), "{added}");
        if let Some(message) = subscription
            .message_within(Duration::from_millis(300))
            .await
        {
            break message;
        }
    };
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(
        event["payload"]["data"]["reviewAdded"],
        json!({ "body": "Across replicas", "author": { "id": "1" } })
    );
}
