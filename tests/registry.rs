//! `mosaic compose` on the registry's own files, and on a broken set of subgraphs.

use std::process::Command;

use mosaic_composition::fingerprint;

const SCHEMA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema");

fn mosaic(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(args)
        .output()
        .expect("running mosaic")
}

#[test]
fn schema_supergraph_is_the_composition_of_the_checked_in_subgraphs() {
    let output = mosaic(&[
        "compose",
        "--config",
        &format!("{SCHEMA_DIR}/supergraph.yaml"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let composed = String::from_utf8(output.stdout).expect("UTF-8");
    let checked_in =
        std::fs::read_to_string(format!("{SCHEMA_DIR}/supergraph.graphql")).expect("readable");
    assert!(
        fingerprint(&composed) == fingerprint(&checked_in),
        "schema/supergraph.graphql is stale: refresh it with \
         `cargo run -p mosaic -- compose --config schema/supergraph.yaml --output schema/supergraph.graphql`"
    );
}

#[test]
fn composes_a_plain_folder_of_subgraph_files() {
    let dir = format!(
        "{}/../composition/tests/cases/entity-simple-two-subgraphs/subgraphs",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = mosaic(&[
        "compose",
        "--dir",
        &dir,
        "--url-template",
        "http://{name}.local/graphql",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = std::fs::read_to_string(format!("{dir}/../supergraph.graphql"))
        .expect("the reference output");
    assert_eq!(
        fingerprint(&String::from_utf8_lossy(&output.stdout)),
        fingerprint(&expected)
    );
}

#[test]
fn reports_composition_errors_with_codes_and_fails() {
    let dir = std::env::temp_dir().join(format!("mosaic-compose-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    let link =
        r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])"#;
    std::fs::write(dir.join("a.graphql"), format!("{link}\ntype Query {{ item: Item }}\ntype Item @key(fields: \"id\") {{ id: ID! name: String }}")).expect("writing");
    std::fs::write(
        dir.join("b.graphql"),
        format!("{link}\ntype Item @key(fields: \"id\") {{ id: ID! name: Int }}"),
    )
    .expect("writing");
    std::fs::write(
        dir.join("supergraph.yaml"),
        "federation_version: =2.7.0\nsubgraphs:\n  a:\n    routing_url: http://a/graphql\n    schema:\n      file: ./a.graphql\n  b:\n    routing_url: http://b/graphql\n    schema:\n      file: ./b.graphql\n",
    )
    .expect("writing");
    let output = mosaic(&[
        "compose",
        "--config",
        &dir.join("supergraph.yaml").display().to_string(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("FIELD_TYPE_MISMATCH") && stderr.contains("Item.name"),
        "{stderr}"
    );

    let output = mosaic(&["compose", "--dir", &dir.display().to_string()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("FIELD_TYPE_MISMATCH"));

    let output = mosaic(&[
        "compose",
        "--config",
        &dir.join("missing.yaml").display().to_string(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.yaml"));
}

/// `mosaic check` of `products` with its checked-in SDL edited by `edit`.
fn check_products(edit: impl Fn(&str) -> String, format: &str) -> std::process::Output {
    let current =
        std::fs::read_to_string(format!("{SCHEMA_DIR}/products.graphql")).expect("readable");
    let proposed = std::env::temp_dir().join(format!(
        "mosaic-check-{}-{}.graphql",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&proposed, edit(&current)).expect("writing");
    mosaic(&[
        "check",
        "--config",
        &format!("{SCHEMA_DIR}/supergraph.yaml"),
        "--subgraph",
        "products",
        "--schema",
        &proposed.display().to_string(),
        "--operations",
        &format!("{SCHEMA_DIR}/operations"),
        "--format",
        format,
    ])
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[test]
fn check_passes_safe_and_dangerous_changes() {
    let output = check_products(
        |sdl| sdl.replace("type Query {", "type Query {\n\tnewest: Product"),
        "human",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("Field `Query.newest` was added (FIELD_ADDED)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("all 3 known operation(s) still validate"),
        "{stdout}"
    );

    let output = check_products(
        |sdl| {
            sdl.replace(
                "topProducts(first: Int = 5)",
                "topProducts(first: Int = 10)",
            )
        },
        "json",
    );
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["passed"], true);
    assert_eq!(report["changes"][0]["severity"], "DANGEROUS");
    assert_eq!(report["changes"][0]["code"], "DEFAULT_VALUE_CHANGED");
    assert_eq!(
        report["changes"][0]["coordinate"],
        "Query.topProducts(first:)"
    );
}

#[test]
fn check_fails_breaking_changes_and_broken_operations() {
    let output = check_products(
        |sdl| sdl.replace("\tproduct(upc: String!): Product\n", ""),
        "json",
    );
    assert!(!output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["passed"], false);
    assert_eq!(report["changes"][0]["severity"], "BREAKING");
    assert_eq!(report["changes"][0]["code"], "FIELD_REMOVED");
    assert_eq!(report["changes"][0]["coordinate"], "Query.product");
    let broken = report["broken_operations"].as_array().expect("a list");
    assert_eq!(broken.len(), 1);
    assert!(
        broken[0]["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("product-page.graphql"))
    );
}

#[test]
fn check_fails_when_the_graph_no_longer_composes() {
    // inventory @requires the weight that products would stop resolving.
    let output = check_products(
        |sdl| {
            sdl.replace(
                "\t\"\"\"\n\tWeight in grams.\n\t\"\"\"\n\tweight: Int\n",
                "",
            )
        },
        "human",
    );
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("the graph no longer composes")
            && stdout.contains("EXTERNAL_MISSING_ON_BASE"),
        "{stdout}"
    );
}
