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

    let output = mosaic(&[
        "compose",
        "--config",
        &dir.join("missing.yaml").display().to_string(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.yaml"));
}
