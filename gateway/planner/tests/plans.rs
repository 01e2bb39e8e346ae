//! Plan snapshots: every operation under `tests/operations/` planned over the demo supergraph
//! (`schema/supergraph.graphql`). Review changes with `cargo insta review`.

use apollo_compiler::ExecutableDocument;
use mosaic_supergraph::Supergraph;

fn demo() -> Supergraph {
    let sdl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/supergraph.graphql"
    ))
    .expect("the demo supergraph is checked in");
    Supergraph::parse(&sdl).expect("the demo supergraph loads")
}

/// The snapshot text of the operation in `path`: its fetch count and its plan.
fn planned(supergraph: &Supergraph, path: &std::path::Path) -> String {
    let source = std::fs::read_to_string(path).expect("readable operation");
    let document =
        ExecutableDocument::parse_and_validate(&supergraph.api_schema, &source, "op.graphql")
            .expect("the operation is valid");
    let operation = document.operations.iter().next().expect("one operation");
    let plan = mosaic_planner::plan(supergraph, &document, operation).expect("it plans");
    format!("fetches: {}\n{plan}", plan.fetch_count())
}

#[test]
fn plans_demo_operations() {
    let supergraph = demo();
    insta::glob!("operations/*.graphql", |path| {
        insta::assert_snapshot!(planned(&supergraph, path));
    });
}

/// Every `tests/fixtures/<graph>/operations/*.graphql`, planned over that folder's supergraph.
#[test]
fn plans_fixture_operations() {
    insta::glob!("fixtures/*/operations/*.graphql", |path| {
        let dir = path
            .parent()
            .and_then(|p| p.parent())
            .expect("fixtures/<graph>/operations");
        let sdl = std::fs::read_to_string(dir.join("supergraph.graphql"))
            .expect("the fixture's supergraph");
        let supergraph = Supergraph::parse(&sdl).expect("the fixture supergraph loads");
        insta::assert_snapshot!(planned(&supergraph, path));
    });
}

/// The known client operations of the registry (`schema/operations/`), planned over the demo graph.
#[test]
fn plans_known_client_operations() {
    let supergraph = demo();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/operations");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("schema/operations")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    for path in paths {
        let name = format!(
            "client_{}",
            path.file_stem().expect("a name").to_string_lossy()
        );
        insta::assert_snapshot!(name, planned(&supergraph, &path));
    }
}

/// A field no subgraph can fetch where it is asked (here: `Thing.color`, while the subgraph
/// serving `thing` has no type implementing `Thing`) fails planning instead of reading `null`.
#[test]
fn a_field_no_subgraph_can_reach_fails_to_plan() {
    let sdl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/unreachable-interface-field/supergraph.graphql"
    ))
    .expect("the fixture's supergraph");
    let supergraph = Supergraph::parse(&sdl).expect("the fixture supergraph loads");
    let document = ExecutableDocument::parse_and_validate(
        &supergraph.api_schema,
        "{ thing { color } }",
        "op.graphql",
    )
    .expect("the operation is valid");
    let operation = document.operations.iter().next().expect("one operation");
    let error = mosaic_planner::plan(&supergraph, &document, operation).expect_err("no plan");
    assert!(error.to_string().contains("Thing.color"), "{error}");
}
