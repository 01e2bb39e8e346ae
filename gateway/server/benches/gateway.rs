//! Hot-path benchmarks on the canonical benchmark query: planning cold and cached, and shaping a
//! large merged response. Run with `cargo bench -p mosaic`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mosaic::pipeline::Gateway;
use mosaic::response::Projection;
use mosaic::serve::{self, GatewayOptions};
use serde_json::{Map, Value};

const SUPERGRAPH: &str = include_str!("../../../schema/supergraph.graphql");
const QUERY: &str = include_str!("../../../schema/operations/canonical.graphql");
const DATA: &str = include_str!("canonical-data.json");

fn gateway() -> Gateway {
    serve::build(
        SUPERGRAPH,
        &GatewayOptions::default(),
        reqwest::Client::new(),
    )
    .expect("the demo supergraph loads")
}

fn planning(c: &mut Criterion) {
    let gateway = gateway();
    let mut n = 0u64;
    c.bench_function("prepare canonical (parse, validate, plan; cold)", |b| {
        b.iter(|| {
            n += 1;
            // A new comment makes a new cache key: every iteration plans from scratch.
            let query = format!("{QUERY}\n# {n}");
            black_box(gateway.prepare(&query, None).expect("it plans"));
        })
    });
    gateway.prepare(QUERY, None).expect("it plans");
    c.bench_function("prepare canonical (cached)", |b| {
        b.iter(|| black_box(gateway.prepare(black_box(QUERY), None).expect("cached")))
    });
}

fn shaping(c: &mut Criterion) {
    let gateway = gateway();
    let prepared = gateway.prepare(QUERY, None).expect("it plans");
    let operation = prepared
        .document
        .operations
        .get(None)
        .expect("one operation");
    let merged: Value = serde_json::from_str(DATA).expect("fixture JSON");
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

criterion_group!(benches, planning, shaping);
criterion_main!(benches);
