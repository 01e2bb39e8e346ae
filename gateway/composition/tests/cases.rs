//! Composition against the reference: every case under `tests/cases/` composes to a supergraph
//! semantically equal to the one `@apollo/composition` produced (same types, fields, arguments,
//! directives and join metadata; order, descriptions and the join spec's minor version aside),
//! or fails with the same error codes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;
use mosaic_composition::{SubgraphInput, compose};

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

/// Order-insensitive lines describing a supergraph's meaning.
pub fn normalize(sdl: &str) -> BTreeSet<String> {
    let schema = match Schema::builder().parse(sdl, "supergraph.graphql").build() {
        Ok(schema) => schema,
        Err(with_errors) => with_errors.partial,
    };
    let mut lines = BTreeSet::new();
    for link in schema.schema_definition.directives.get_all("link") {
        let url = link
            .specified_argument_by_name("url")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let url = if url.contains("/join/v") { "join" } else { url };
        lines.insert(format!("schema @link {url}"));
    }
    for (root, name) in [
        ("query", &schema.schema_definition.query),
        ("mutation", &schema.schema_definition.mutation),
        ("subscription", &schema.schema_definition.subscription),
    ] {
        if let Some(name) = name {
            lines.insert(format!("schema {root}: {}", name.name));
        }
    }
    for (name, ty) in &schema.types {
        if ty.is_built_in()
            || (name.starts_with("join__") && name != "join__Graph")
            || name.starts_with("link__")
        {
            continue;
        }
        let directives = |list: Vec<String>| -> Vec<String> {
            let mut l = list;
            l.sort();
            l
        };
        let print = |d: &apollo_compiler::ast::Directive| {
            let mut args: Vec<String> = d
                .arguments
                .iter()
                .map(|a| format!("{}: {}", a.name, canonical(&a.value)))
                .collect();
            args.sort();
            format!("@{}({})", d.name, args.join(", "))
        };
        let head = format!("{} {name}", kind(ty));
        for d in directives(ty.directives().iter().map(|d| print(d)).collect()) {
            lines.insert(format!("{head} {d}"));
        }
        lines.insert(head.clone());
        match ty {
            ExtendedType::Object(o) => {
                for i in &o.implements_interfaces {
                    lines.insert(format!("{head} implements {i}"));
                }
                for (f, def) in &o.fields {
                    field_lines(&mut lines, &head, f.as_str(), def, &print);
                }
            }
            ExtendedType::Interface(o) => {
                for i in &o.implements_interfaces {
                    lines.insert(format!("{head} implements {i}"));
                }
                for (f, def) in &o.fields {
                    field_lines(&mut lines, &head, f.as_str(), def, &print);
                }
            }
            ExtendedType::Union(u) => {
                for m in &u.members {
                    lines.insert(format!("{head} member {m}"));
                }
            }
            ExtendedType::Enum(e) => {
                for (v, def) in &e.values {
                    lines.insert(format!("{head}.{v}"));
                    for d in def.directives.iter() {
                        lines.insert(format!("{head}.{v} {}", print(d)));
                    }
                }
            }
            ExtendedType::InputObject(i) => {
                for (f, def) in &i.fields {
                    let default = def
                        .default_value
                        .as_ref()
                        .map(|d| format!(" = {d}"))
                        .unwrap_or_default();
                    lines.insert(format!("{head}.{f}: {}{default}", def.ty));
                    for d in def.directives.iter() {
                        lines.insert(format!("{head}.{f} {}", print(d)));
                    }
                }
            }
            ExtendedType::Scalar(_) => {}
        }
    }
    lines
}

fn field_lines(
    lines: &mut BTreeSet<String>,
    head: &str,
    name: &str,
    def: &apollo_compiler::ast::FieldDefinition,
    print: &dyn Fn(&apollo_compiler::ast::Directive) -> String,
) {
    lines.insert(format!("{head}.{name}: {}", def.ty));
    for d in def.directives.iter() {
        lines.insert(format!("{head}.{name} {}", print(d)));
    }
    for a in &def.arguments {
        let default = a
            .default_value
            .as_ref()
            .map(|d| format!(" = {d}"))
            .unwrap_or_default();
        lines.insert(format!("{head}.{name}({}: {}{default})", a.name, a.ty));
        for d in a.directives.iter() {
            lines.insert(format!("{head}.{name}({}:) {}", a.name, print(d)));
        }
    }
}

/// Lists of lists of strings (`@requiresScopes`, `@policy`) mean sets of sets: sort them.
fn canonical(value: &apollo_compiler::ast::Value) -> String {
    use apollo_compiler::ast::Value;
    let Value::List(outer) = value else {
        return value.to_string();
    };
    let mut sets: Vec<Vec<String>> = Vec::new();
    for inner in outer {
        let Value::List(items) = inner.as_ref() else {
            return value.to_string();
        };
        let mut set: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        set.sort();
        sets.push(set);
    }
    sets.sort();
    format!("{sets:?}")
}

fn kind(ty: &ExtendedType) -> &'static str {
    match ty {
        ExtendedType::Object(_) => "type",
        ExtendedType::Interface(_) => "interface",
        ExtendedType::Union(_) => "union",
        ExtendedType::Enum(_) => "enum",
        ExtendedType::InputObject(_) => "input",
        ExtendedType::Scalar(_) => "scalar",
    }
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
            let (want, got) = (normalize(&expected), normalize(&ours));
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
