//! Printing the supergraph: the `@link`ed specs, the `join` machinery, the graph enum, then every
//! merged type.

use std::fmt::Write;

use crate::merge::{Kind, Merged, MergedType, quote};
use crate::subgraph::Subgraph;

const JOIN_DEFINITIONS: &str = r#"directive @join__directive(graphs: [join__Graph!], name: String!, args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String, contextArguments: [join__ContextArgument!]) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

input join__ContextArgument {
  name: String!
  type: String!
  context: String!
  selection: join__FieldValue!
}

scalar join__DirectiveArguments

scalar join__FieldSet

scalar join__FieldValue

scalar link__Import

enum link__Purpose {
  """`SECURITY` features provide metadata necessary to securely resolve fields."""
  SECURITY

  """`EXECUTION` features provide metadata necessary for operation execution."""
  EXECUTION
}
"#;

/// Spec name → (link URL, `for:` purpose, its definitions).
const FEATURES: &[(&str, &str, &str, &str)] = &[
    (
        "tag",
        "https://specs.apollo.dev/tag/v0.3",
        "",
        "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA",
    ),
    (
        "inaccessible",
        "https://specs.apollo.dev/inaccessible/v0.2",
        "SECURITY",
        "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION",
    ),
    (
        "authenticated",
        "https://specs.apollo.dev/authenticated/v0.1",
        "SECURITY",
        "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    ),
    (
        "requiresScopes",
        "https://specs.apollo.dev/requiresScopes/v0.1",
        "SECURITY",
        "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\nscalar requiresScopes__Scope",
    ),
    (
        "policy",
        "https://specs.apollo.dev/policy/v0.1",
        "SECURITY",
        "directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\nscalar policy__Policy",
    ),
];

pub(crate) fn emit(subgraphs: &[Subgraph], merged: &Merged) -> String {
    let mut out = String::from(
        "schema\n  @link(url: \"https://specs.apollo.dev/link/v1.0\")\n  @link(url: \"https://specs.apollo.dev/join/v0.5\", for: EXECUTION)\n",
    );
    for (name, url, purpose, _) in FEATURES {
        if merged.features.contains(name) {
            let purpose = if purpose.is_empty() {
                String::new()
            } else {
                format!(", for: {purpose}")
            };
            let _ = writeln!(out, "  @link(url: \"{url}\"{purpose})");
        }
    }
    let mut composed: Vec<&(String, String, String)> = Vec::new();
    for subgraph in subgraphs {
        for directive in &subgraph.composed {
            if !composed.iter().any(|c| c.0 == directive.0) {
                composed.push(directive);
            }
        }
    }
    for (name, url, _) in &composed {
        let _ = writeln!(out, "  @link(url: {}, import: [\"@{name}\"])", quote(url));
    }
    out.push_str("{\n  query: Query\n");
    if merged.has_mutation {
        out.push_str("  mutation: Mutation\n");
    }
    if merged.has_subscription {
        out.push_str("  subscription: Subscription\n");
    }
    out.push_str("}\n\n");
    out.push_str(JOIN_DEFINITIONS);
    for (_, _, definition) in &composed {
        let _ = write!(out, "\n{definition}\n");
    }
    for (name, _, _, definitions) in FEATURES {
        if merged.features.contains(name) {
            let _ = write!(out, "\n{definitions}\n");
        }
    }
    out.push_str("\nenum join__Graph {\n");
    for subgraph in subgraphs {
        let _ = writeln!(
            out,
            "  {} @join__graph(name: {}, url: {})",
            subgraph.graph_enum_value(),
            quote(&subgraph.name),
            quote(&subgraph.url)
        );
    }
    out.push_str("}\n");
    for ty in &merged.types {
        out.push('\n');
        write_type(&mut out, ty);
    }
    out
}

fn write_type(out: &mut String, ty: &MergedType) {
    write_description(out, ty.description.as_deref(), "");
    let _ = write!(out, "{} {}", ty.kind.keyword(), ty.name);
    if !ty.implements.is_empty() {
        let _ = write!(out, " implements {}", ty.implements.join(" & "));
    }
    for directive in &ty.directives {
        let _ = write!(out, "\n  {directive}");
    }
    match ty.kind {
        Kind::Scalar => out.push('\n'),
        Kind::Union => {
            let _ = writeln!(out, "\n  = {}", ty.union_members.join(" | "));
        }
        _ => {
            out.push_str("\n{\n");
            for member in &ty.members {
                write_description(out, member.description.as_deref(), "  ");
                let _ = write!(out, "  {}", member.name);
                if !member.arguments.is_empty() {
                    let _ = write!(out, "({})", member.arguments.join(", "));
                }
                if let Some(ty) = &member.ty {
                    let _ = write!(out, ": {ty}");
                }
                for directive in &member.directives {
                    let _ = write!(out, " {directive}");
                }
                out.push('\n');
            }
            out.push_str("}\n");
        }
    }
}

fn write_description(out: &mut String, description: Option<&str>, indent: &str) {
    if let Some(text) = description {
        let _ = writeln!(
            out,
            "{indent}\"\"\"{}\"\"\"",
            text.replace("\"\"\"", "\\\"\"\"")
        );
    }
}
