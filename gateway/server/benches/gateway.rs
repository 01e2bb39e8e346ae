//! Hot-path benchmarks on the canonical benchmark query: planning cold and cached, merging a large
//! `_entities` answer, and shaping a large merged response. Run with `cargo bench -p mosaic`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use mosaic::entities;
use mosaic::pipeline::Gateway;
use mosaic::response::Projection;
use mosaic::serve::{self, GatewayOptions};
use mosaic::transport::Transport;
use mosaic::tree::{Tree, Val};
use mosaic_planner::{PathSegment, PlanNode, Requires};
use serde_json::{Map, Value, json};

const SUPERGRAPH: &str = include_str!("../../../schema/supergraph.graphql");
const QUERY: &str = include_str!("../../../schema/operations/canonical.graphql");
const DATA: &str = include_str!("canonical-data.json");

fn gateway() -> Gateway {
    serve::build(
        SUPERGRAPH,
        &GatewayOptions::default(),
        Transport::new(false),
    )
    .expect("the demo supergraph loads")
}

fn planning(c: &mut Criterion) {
    let gateway = gateway();
    let mut n = 0u64;
    c.bench_function("prepare canonical (parse, validate, plan; cold)", |b| {
        b.iter(|| {
            n += 1;
            // A new operation name makes new cache keys (text and normalised operation): every
            // iteration parses, validates and plans from scratch.
            let query = QUERY.replace("query TestQuery", &format!("query TestQuery{n}"));
            black_box(gateway.compile(&query, None).expect("it plans"));
        })
    });
    gateway.compile(QUERY, None).expect("it plans");
    c.bench_function(
        "prepare canonical reformatted (parse, validate; plan cached)",
        |b| {
            b.iter(|| {
                n += 1;
                // A new comment makes a new text key, but the normalised operation is the same.
                let query = format!("{QUERY}\n# {n}");
                black_box(gateway.compile(&query, None).expect("it plans"));
            })
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let gateway = Arc::new(gateway);
    runtime
        .block_on(gateway.prepare(QUERY, None))
        .expect("it plans");
    // A cached operation is ready on the first poll: no runtime needed to measure the lookup.
    let prepare = || gateway.prepare(black_box(QUERY), None).now_or_never();
    c.bench_function("prepare canonical (cached)", |b| {
        b.iter(|| black_box(prepare().expect("ready at once").expect("cached")))
    });
}

fn shaping(c: &mut Criterion) {
    let gateway = gateway();
    let prepared = gateway.compile(QUERY, None).expect("it plans");
    let operation = prepared
        .document
        .operations
        .get(None)
        .expect("one operation");
    let mut merged = Tree::default();
    let Ok(Val::Obj(data)) = merged.parse(DATA.as_bytes().into()) else {
        panic!("fixture JSON")
    };
    merged.merge(merged.root, data);
    let variables = Map::new();
    c.bench_function("shape canonical response (~300 KB)", |b| {
        b.iter(|| {
            let mut projection = Projection::new(
                &gateway.supergraph.api_schema,
                &prepared.document,
                &variables,
            );
            let mut out = Vec::with_capacity(400_000);
            projection.write_data(operation, &merged, &mut out);
            black_box(out)
        })
    });
}

/// The canonical query's reviews fetch: representations of every user and top product, then
/// one `_entities` answer (~200 KB of nested reviews) parsed and merged into them.
fn merging(c: &mut Criterion) {
    let gateway = gateway();
    let prepared = gateway.compile(QUERY, None).expect("it plans");
    let inputs = reviews_batch(prepared.plan.node.as_ref().expect("a plan"));
    // The data before the fetch: the top two lists, typed, without their `reviews`.
    let mut full: Value = serde_json::from_str(DATA).expect("fixture JSON");
    let mut reviews = std::collections::HashMap::new();
    for (list, key, tag, typename) in [
        ("users", "id", "U", "User"),
        ("topProducts", "upc", "P", "Product"),
    ] {
        for item in full[list].as_array_mut().expect("a list") {
            let item = item.as_object_mut().expect("an object");
            item.insert("__typename".into(), typename.into());
            let reviews_of = item.remove("reviews").expect("reviews");
            reviews.insert(format!("{tag}{}", item[key]), reviews_of);
        }
    }
    let before = serde_json::to_vec(&full).expect("JSON");
    let mut base = Tree::default();
    let Ok(Val::Obj(data)) = base.parse(before.into()) else {
        panic!("an object")
    };
    base.merge(base.root, data);
    let (representations, _) = entities::represent_all(&base, &inputs);
    let representations: Vec<Value> =
        serde_json::from_slice(&[b"[", &representations[..], b"]"].concat()).expect("JSON");
    let entities: Vec<Value> = representations
        .iter()
        .map(|r| match r["__typename"].as_str() {
            Some("User") => json!({ "reviews": reviews[&format!("U{}", r["id"])] }),
            _ => json!({ "reviews": reviews[&format!("P{}", r["upc"])] }),
        })
        .collect();
    let answer = serde_json::to_vec(&json!({ "data": { "_entities": entities } })).expect("JSON");
    let label = format!(
        "merge canonical reviews _entities ({} KB)",
        answer.len() / 1024
    );
    let answer = bytes::Bytes::from(answer);
    c.bench_function(&label, |b| {
        b.iter_batched(
            || base.clone(),
            |mut tree| {
                let (reps, targets) = entities::represent_all(&tree, &inputs);
                let Ok(Val::Obj(response)) = tree.parse(answer.clone()) else {
                    panic!("an object")
                };
                let data = tree.get(response, "data");
                let Some(Val::List(list)) = data.and_then(|d| match d {
                    Val::Obj(d) => tree.get(d, "_entities"),
                    _ => None,
                }) else {
                    panic!("_entities")
                };
                entities::merge_entities(&mut tree, list, &targets.objects, &inputs);
                black_box((reps, tree))
            },
            BatchSize::SmallInput,
        )
    });
}

/// The inputs of the plan's entity batch to `reviews`.
fn reviews_batch(node: &PlanNode) -> Vec<(&Vec<PathSegment>, &Requires)> {
    match node {
        PlanNode::Sequence { nodes } | PlanNode::Parallel { nodes } => nodes
            .iter()
            .map(reviews_batch)
            .find(|i| !i.is_empty())
            .unwrap_or_default(),
        PlanNode::Batch { inputs, node } => match node.as_ref() {
            PlanNode::Fetch(fetch) if fetch.service_name == "reviews" => {
                inputs.iter().map(|i| (&i.path, &i.requires)).collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

criterion_group!(benches, planning, merging, shaping);
criterion_main!(benches);
