//! Every supergraph that the reference composition (`@apollo/composition`) produced for the
//! composition fixtures loads, and its API schema hides federation machinery and `@inaccessible`.

use std::path::PathBuf;

use mosaic_supergraph::Supergraph;

fn cases() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../composition/tests/cases");
    let mut cases: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("the composition fixtures are checked in")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let sdl = std::fs::read_to_string(path.join("supergraph.graphql")).ok()?;
            Some((path.file_name()?.to_string_lossy().into_owned(), sdl))
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn loads_every_reference_supergraph() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "expected the composition fixtures, found {}",
        cases.len()
    );
    for (name, sdl) in &cases {
        let supergraph = Supergraph::parse(sdl).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!supergraph.graphs.is_empty(), "{name}: no subgraphs");
        let api = supergraph.api_schema.to_string();
        assert!(
            !api.contains("join__") && !api.contains("@link"),
            "{name}: federation machinery in the API schema"
        );
        assert!(
            !api.contains("@inaccessible"),
            "{name}: @inaccessible in the API schema"
        );
    }
}

#[test]
fn inaccessible_elements_leave_the_api_schema() {
    let cases = cases();
    let sdl = |case: &str| {
        &cases
            .iter()
            .find(|(n, _)| n == case)
            .expect("the case exists")
            .1
    };
    let field = Supergraph::parse(sdl("inaccessible-field")).expect("loads");
    let api = field.api_schema.to_string();
    let supergraph = field.schema.to_string();
    let hidden: Vec<&str> = supergraph
        .lines()
        .filter(|l| l.contains("@inaccessible") && !l.trim_start().starts_with("directive"))
        .map(|l| l.trim().split(['(', ':', ' ']).next().unwrap_or_default())
        .collect();
    assert!(!hidden.is_empty());
    for name in hidden {
        assert!(
            !api.lines()
                .any(|l| l.trim().starts_with(&format!("{name}:"))),
            "{name} is still in the API schema"
        );
    }
}
