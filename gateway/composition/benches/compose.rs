//! Composition at scale: 50 subgraphs with 100 types each, 20 of them entities every subgraph
//! extends. Run with `cargo bench -p mosaic-composition`.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mosaic_composition::{SubgraphInput, compose};

fn subgraph(index: usize) -> SubgraphInput {
    let mut sdl = String::from(
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.7\", import: [\"@key\", \"@shareable\"])\n\n",
    );
    let _ = writeln!(sdl, "type Query {{");
    for t in 0..5 {
        let _ = writeln!(sdl, "  s{index}q{t}(id: ID!): S{index}T{t}");
    }
    for e in 0..20 {
        let _ = writeln!(sdl, "  s{index}entity{e}(id: ID!): Entity{e}");
    }
    sdl.push_str("}\n");
    for e in 0..20 {
        let _ = writeln!(
            sdl,
            "type Entity{e} @key(fields: \"id\") {{\n  id: ID!\n  fromS{index}: String\n}}"
        );
    }
    for t in 0..80 {
        let next = (t + 1) % 80;
        let _ = writeln!(
            sdl,
            "type S{index}T{t} {{\n  id: ID!\n  name: String\n  count: Int\n  next: S{index}T{next}\n  entity: Entity{}\n}}",
            t % 20
        );
    }
    SubgraphInput {
        name: format!("s{index}"),
        url: format!("http://s{index}.local/graphql"),
        sdl,
    }
}

fn composition(c: &mut Criterion) {
    let subgraphs: Vec<SubgraphInput> = (0..50).map(subgraph).collect();
    assert!(compose(&subgraphs).is_ok(), "the benchmark graph composes");
    let mut group = c.benchmark_group("compose");
    group.sample_size(10);
    group.bench_function("50 subgraphs x 100 types", |b| {
        b.iter(|| black_box(compose(black_box(&subgraphs))))
    });
    group.finish();
}

criterion_group!(benches, composition);
criterion_main!(benches);
