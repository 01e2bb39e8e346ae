//! Traces: `mosaic dev` exports spans over OTLP/HTTP (JSON) to a receiver in this test, and one
//! client request yields one trace holding the gateway's request, plan and fetch spans, the
//! subgraphs' operation spans (linked by W3C `traceparent`) and their SQL spans.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use serde_json::{Value, json};

use common::{Dev, serve_in_background};

/// Every span received, as (trace id, span name).
type Spans = Arc<Mutex<Vec<(String, String)>>>;

fn receiver(spans: Spans) -> u16 {
    let collect = move |axum::Json(body): axum::Json<Value>| {
        let mut spans = spans.lock().expect("not poisoned");
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let trace = span["traceId"].as_str().unwrap_or_default().to_owned();
                    let name = span["name"].as_str().unwrap_or_default().to_owned();
                    spans.push((trace, name));
                }
            }
        }
        async { axum::Json(json!({})) }
    };
    serve_in_background(Router::new().route("/v1/traces", axum::routing::post(collect)))
}

#[tokio::test]
async fn one_request_is_one_trace_across_gateway_and_subgraphs() {
    let spans: Spans = Arc::default();
    let port = receiver(spans.clone());
    let endpoint = format!("http://127.0.0.1:{port}");
    let dev = Dev::start_with(
        "telemetry",
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let query = json!({ "query": "{ topProducts(first: 2) { name inStock reviews { body } } }" });
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/graphql", dev.gateway))
        .json(&query)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);

    // The batch exporter sends every 100 ms: wait (bounded) for a trace with all the parts.
    let wanted: HashSet<&str> = ["request", "plan", "fetch", "graphql", "sea_orm.query_all"].into();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let complete = {
            let spans = spans.lock().expect("not poisoned");
            spans.iter().any(|(trace, _)| {
                let names: HashSet<&str> = spans
                    .iter()
                    .filter(|(t, _)| t == trace)
                    .map(|(_, n)| n.as_str())
                    .collect();
                wanted.is_subset(&names)
                    && spans
                        .iter()
                        .filter(|(t, n)| t == trace && n == "graphql")
                        .count()
                        >= 3
            })
        };
        if complete {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no single trace with {wanted:?} and three subgraph spans: {:?}",
            spans.lock().expect("not poisoned")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
