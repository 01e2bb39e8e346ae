//! Response shaping on its own: merged subgraph data in, the client's response bytes out.

use mosaic::response::Projection;
use mosaic::serve::{self, GatewayOptions};
use mosaic::transport::Transport;
use mosaic::tree::{Tree, Val};
use serde_json::{Map, Value, json};

/// Shapes `merged` for `query` over the supergraph of a composition fixture.
fn shape(case: &str, query: &str, merged: Value) -> (Value, Vec<Value>) {
    let path = format!(
        "{}/../composition/tests/cases/{case}/supergraph.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    let sdl = std::fs::read_to_string(path).expect("the fixture supergraph");
    let gateway = serve::build(&sdl, &GatewayOptions::default(), Transport::new(false))
        .expect("the supergraph loads");
    let prepared = gateway.compile(query, None).expect("the query is valid");
    let operation = prepared
        .document
        .operations
        .get(None)
        .expect("one operation");
    let variables = Map::new();
    let mut projection = Projection::new(
        &gateway.supergraph.api_schema,
        &prepared.document,
        &variables,
    );
    let mut tree = Tree::default();
    let bytes = serde_json::to_vec(&merged).expect("JSON");
    let Ok(Val::Obj(data)) = tree.parse(bytes.into()) else {
        panic!("an object")
    };
    tree.merge(tree.root, data);
    let mut out = Vec::new();
    projection.write_data(operation, &tree, &mut out);
    (
        serde_json::from_slice(&out).expect("valid JSON"),
        projection.new_errors,
    )
}

#[test]
fn inaccessible_enum_values_read_as_null_and_bubble() {
    let (data, errors) = shape(
        "inaccessible-enum-value",
        "{ status }",
        json!({ "status": "DELETED" }),
    );
    assert_eq!(data, json!({ "status": null }));
    assert!(errors.is_empty(), "a nullable field just reads null");

    let merged = json!({ "statuses": ["ACTIVE", "DELETED"] });
    let (data, errors) = shape("inaccessible-enum-value", "{ statuses }", merged);
    assert_eq!(
        data,
        Value::Null,
        "[Status!]! cannot hold the null: it bubbles to data"
    );
    assert_eq!(errors[0]["path"], json!(["statuses", 1]));
}

#[test]
fn keeps_selection_order_and_aliases() {
    // Subgraph queries keep the client's aliases, so merged data is keyed by them.
    let merged = json!({ "a": "ACTIVE", "b": ["SUSPENDED"] });
    let (data, _) = shape(
        "inaccessible-enum-value",
        "{ b: statuses a: status }",
        merged,
    );
    assert_eq!(data, json!({ "b": ["SUSPENDED"], "a": "ACTIVE" }));
}
