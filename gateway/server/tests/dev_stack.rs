//! `mosaic dev`, the README's run command, as a real process: it starts all four subgraphs on
//! fresh SQLite files, seeds them consistently, answers over HTTP and stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A `mosaic dev` process, killed when dropped so a failing test leaves nothing behind.
struct Dev {
    child: Child,
    base_port: u16,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Four consecutive free loopback ports.
fn free_port_block() -> u16 {
    (0..200)
        .map(|i| 20_000 + (std::process::id() as u16 % 1000) * 40 + i * 4)
        .find(|&base| (base..base + 4).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()))
        .expect("four free consecutive ports")
}

fn start_dev() -> Dev {
    let data_dir = std::env::temp_dir().join(format!("mosaic-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let base_port = free_port_block();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(["dev", "--base-port", &base_port.to_string(), "--data-dir"])
        .arg(&data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mosaic dev");
    let stdout = child.stdout.take().expect("piped stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("Press Ctrl-C"));
    assert!(ready, "mosaic dev exited before it was up");
    Dev { child, base_port }
}

async fn query(port: u16, query: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("the subgraph answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn dev_serves_four_consistently_seeded_subgraphs() {
    let dev = start_dev();
    let [accounts, products, inventory, reviews] = [0, 1, 2, 3].map(|i| dev.base_port + i);

    let users = query(accounts, "{ users { id username } }").await;
    let users = users["data"]["users"].as_array().expect("users").clone();
    assert!(users.len() >= 10);
    let top = query(products, "{ topProducts(first: 100) { upc } }").await;
    let upcs: Vec<Value> = top["data"]["topProducts"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["upc"].clone())
        .collect();
    assert!(upcs.len() >= 20);

    // Every product has stock, and every review points at a real user and product.
    let reps: Vec<Value> = upcs
        .iter()
        .map(|upc| json!({ "__typename": "Product", "upc": upc, "price": 1, "weight": 1 }))
        .collect();
    let stock = query_with(
        inventory,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { quantity } } }",
        json!({ "r": reps }),
    )
    .await;
    assert_eq!(
        stock["data"]["_entities"].as_array().map(Vec::len),
        Some(upcs.len())
    );

    let latest = query(
        reviews,
        "{ latestReviews(first: 100) { author { id username } product { upc } } }",
    )
    .await;
    let latest = latest["data"]["latestReviews"]
        .as_array()
        .expect("reviews")
        .clone();
    assert!(latest.len() >= 60);
    for review in &latest {
        let author =
            json!({ "id": review["author"]["id"], "username": review["author"]["username"] });
        assert!(users.contains(&author), "unknown author {author}");
        assert!(
            upcs.contains(&review["product"]["upc"]),
            "unknown product {review}"
        );
    }
}

async fn query_with(port: u16, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the subgraph answers")
        .json()
        .await
        .expect("a JSON body")
}
