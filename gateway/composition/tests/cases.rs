//! Composition against the reference: every case under `tests/cases/` composes to a supergraph
//! semantically equal to the one `@apollo/composition` produced (same types, fields, arguments,
//! directives and join metadata; order, descriptions and the join spec's minor version aside),
//! or fails with the same error codes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mosaic_composition::{SubgraphInput, compose, fingerprint};

fn inputs(case: &Path) -> Vec<SubgraphInput> {
    let mut inputs: Vec<SubgraphInput> = std::fs::read_dir(case.join("subgraphs"))
        .expect("a subgraphs folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "graphql"))
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            SubgraphInput {
                url: format!("http://{name}.local/graphql"),
                sdl: std::fs::read_to_string(&path).expect("readable"),
                name,
            }
        })
        .collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    inputs
}

/// A case's outcome against the reference: `Ok` when equal, else what differs.
fn run_case(case: &Path) -> Result<(), String> {
    let result = compose(&inputs(case));
    match std::fs::read_to_string(case.join("supergraph.graphql")) {
        Ok(expected) => {
            let ours = result.map_err(|errors| {
                format!(
                    "failed: {}",
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
            })?;
            mosaic_supergraph::Supergraph::parse(&ours)
                .map_err(|e| format!("our supergraph does not load: {e}"))?;
            let (want, got) = (fingerprint(&expected), fingerprint(&ours));
            if want == got {
                return Ok(());
            }
            let missing: Vec<_> = want.difference(&got).take(6).collect();
            let extra: Vec<_> = got.difference(&want).take(6).collect();
            Err(format!(
                "differs; missing {missing:?}; unexpected {extra:?}"
            ))
        }
        Err(_) => {
            let expected: BTreeSet<String> = std::fs::read_to_string(case.join("errors.txt"))
                .expect("errors.txt")
                .lines()
                .filter_map(|l| l.split(':').next().map(str::to_owned))
                .collect();
            match result {
                Ok(_) => Err(format!(
                    "composed, but the reference fails with {expected:?}"
                )),
                Err(errors) => {
                    let got: BTreeSet<String> = errors.iter().map(|e| e.code.to_owned()).collect();
                    if got == expected {
                        Ok(())
                    } else {
                        Err(format!("codes {got:?}, reference {expected:?}"))
                    }
                }
            }
        }
    }
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases"))
            .expect("the cases folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
    cases.sort();
    cases
}

#[test]
fn matches_the_reference_composition() {
    let mut failures = Vec::new();
    for case in cases() {
        let name = case
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if let Err(why) = run_case(&case) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the reference:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
}

fn subgraph(name: &str, sdl: &str) -> SubgraphInput {
    let link =
        r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])"#;
    SubgraphInput {
        name: name.into(),
        url: format!("http://{name}.local/graphql"),
        sdl: format!("{link}\n{sdl}"),
    }
}

#[test]
fn refuses_empty_and_duplicate_inputs() {
    let errors = compose(&[]).expect_err("nothing to compose");
    assert_eq!(errors[0].code, "NO_SUBGRAPHS");
    let a = subgraph("a", "type Query { a: Int }");
    let errors = compose(&[a.clone(), a]).expect_err("two subgraphs named a");
    assert_eq!(errors[0].code, "INVALID_SUBGRAPH_NAME");
}

#[test]
fn reports_every_problem_of_every_subgraph_at_once() {
    let errors = compose(&[
        subgraph("a", "type Query { a: Int"),
        subgraph("b", "type Query { b: Nope }"),
    ])
    .expect_err("both are broken");
    let named: Vec<(&str, Option<&str>)> = errors
        .iter()
        .map(|e| (e.code, e.subgraph.as_deref()))
        .collect();
    assert_eq!(
        named,
        [
            ("INVALID_GRAPHQL", Some("a")),
            ("INVALID_GRAPHQL", Some("b"))
        ]
    );
    assert!(errors[1].message.contains("Nope"), "{}", errors[1].message);
}

#[test]
fn self_referencing_keys_compose_without_looping() {
    let a = subgraph(
        "a",
        "type Query { node: Node }\ntype Node @key(fields: \"id parent { id }\") { id: ID! parent: Node }",
    );
    let b = subgraph(
        "b",
        "type Node @key(fields: \"id parent { id }\") { id: ID! parent: Node extra: Int }",
    );
    let supergraph = compose(&[a, b]).expect("it composes");
    assert!(supergraph.contains("key: \"id parent { id }\""));
}

#[test]
fn points_at_the_offending_place_in_the_subgraph() {
    let a = SubgraphInput {
        name: "a".into(),
        url: "http://a.local/graphql".into(),
        sdl: "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.7\", import: [\"@key\", \"@requires\"])\ntype Query { p: P }\ntype P @key(fields: \"id\") {\n  id: ID!\n  w: Int\n  s: Int @requires(fields: \"w\")\n}\n".into(),
    };
    let errors = compose(&[a]).expect_err("w is not @external");
    assert_eq!(errors[0].code, "REQUIRES_FIELDS_MISSING_EXTERNAL");
    assert_eq!(errors[0].location.as_deref(), Some("a.graphql:6:10"));
}
