//! Comparing supergraphs by meaning rather than by text.

use std::collections::BTreeSet;

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;

/// A supergraph's meaning as order-insensitive lines: types, fields, arguments, directives and
/// join metadata; descriptions, directive definitions and the join spec's version left out. Two
/// supergraphs with equal fingerprints route every operation alike.
pub fn fingerprint(sdl: &str) -> BTreeSet<String> {
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
