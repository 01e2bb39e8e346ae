//! Reading one subgraph: its SDL, the federation directives it imports through `@link` (under
//! their local names), and its root types.

use std::collections::HashMap;

use apollo_compiler::ast::{self, Definition};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Schema};

use crate::Diagnostic;

/// A subgraph to compose: its name, routing URL and SDL.
#[derive(Debug, Clone)]
pub struct SubgraphInput {
    pub name: String,
    pub url: String,
    pub sdl: String,
}

/// Federation directives and types by spec name; `{name}` is replaced by the local name.
const FEDERATION_DEFINITIONS: &[(&str, &str)] = &[
    (
        "key",
        "directive @{name}(fields: {FieldSet}!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE",
    ),
    (
        "requires",
        "directive @{name}(fields: {FieldSet}!) on FIELD_DEFINITION",
    ),
    (
        "provides",
        "directive @{name}(fields: {FieldSet}!) on FIELD_DEFINITION",
    ),
    (
        "external",
        "directive @{name}(reason: String) on OBJECT | FIELD_DEFINITION",
    ),
    (
        "tag",
        "directive @{name}(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | SCHEMA",
    ),
    ("extends", "directive @{name} on OBJECT | INTERFACE"),
    (
        "shareable",
        "directive @{name} repeatable on OBJECT | FIELD_DEFINITION",
    ),
    (
        "inaccessible",
        "directive @{name} on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION",
    ),
    (
        "override",
        "directive @{name}(from: String!, label: String) on FIELD_DEFINITION",
    ),
    (
        "composeDirective",
        "directive @{name}(name: String!) repeatable on SCHEMA",
    ),
    ("interfaceObject", "directive @{name} on OBJECT"),
    (
        "authenticated",
        "directive @{name} on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    ),
    (
        "requiresScopes",
        "directive @{name}(scopes: [[{Scope}!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    ),
    (
        "policy",
        "directive @{name}(policies: [[{Policy}!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM",
    ),
];
const FEDERATION_TYPES: &[&str] = &["FieldSet", "Scope", "Policy"];
const LINK_DEFINITIONS: &str = "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA\nscalar link__Import\nenum link__Purpose { SECURITY EXECUTION }\n";

/// One parsed, validated subgraph.
pub(crate) struct Subgraph {
    pub name: String,
    pub url: String,
    pub schema: Valid<Schema>,
    /// Spec name → local name of every federation directive and type.
    local: HashMap<&'static str, String>,
    /// Local root type name → `Query`, `Mutation` or `Subscription`.
    roots: HashMap<Name, &'static str>,
    /// Custom directives kept in the supergraph (`@composeDirective`): name, `@link` URL, definition.
    pub composed: Vec<(String, String, String)>,
}

impl Subgraph {
    pub fn parse(input: &SubgraphInput) -> Result<Self, Vec<Diagnostic>> {
        let name = &input.name;
        let document = ast::Document::parse(&input.sdl, format!("{name}.graphql"))
            .map_err(|e| vec![invalid_graphql(name, &e.errors.to_string())])?;
        let local = local_names(&document);
        let mut errors = Vec::new();
        let defined: HashMap<String, &ast::DirectiveDefinition> = document
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::DirectiveDefinition(def) => Some((def.name.to_string(), def.as_ref())),
                _ => None,
            })
            .collect();
        let defined_types: Vec<String> = document
            .definitions
            .iter()
            .filter_map(|d| d.name().map(|n| n.to_string()))
            .collect();
        let mut prelude = String::new();
        for (spec, template) in FEDERATION_DEFINITIONS {
            let text = template
                .replace("{name}", &local[spec])
                .replace("{FieldSet}", &local["FieldSet"])
                .replace("{Scope}", &local["Scope"])
                .replace("{Policy}", &local["Policy"]);
            match defined.get(local[spec].as_str()) {
                Some(user) => check_definition(name, user, &text, &mut errors),
                None => {
                    prelude.push_str(&text);
                    prelude.push('\n');
                }
            }
        }
        for spec in FEDERATION_TYPES {
            if !defined_types.contains(&local[spec]) {
                prelude.push_str(&format!("scalar {}\n", local[spec]));
            }
        }
        if !defined.contains_key("link") {
            prelude.push_str(LINK_DEFINITIONS);
        }
        // Every subgraph serves `_service`, so even one without query fields has a query root.
        prelude
            .push_str("type _Service { sdl: String }\nextend type Query { _service: _Service! }\n");
        if !errors.is_empty() {
            return Err(errors);
        }
        let schema = Schema::builder()
            .adopt_orphan_extensions()
            .parse(prelude, "federation.graphql")
            .parse(&input.sdl, format!("{name}.graphql"))
            .build()
            .map_err(|e| vec![invalid_graphql(name, &e.errors.to_string())])?
            .validate()
            .map_err(|e| vec![invalid_graphql(name, &e.errors.to_string())])?;
        let roots = root_names(name, &schema)?;
        let composed = composed_directives(&schema, &local["composeDirective"]);
        Ok(Self {
            name: name.clone(),
            url: input.url.clone(),
            schema,
            local,
            roots,
            composed,
        })
    }

    /// The local name of a federation directive or type (e.g. `key`, or `federation__key`).
    pub fn fed<'a>(&'a self, spec: &'a str) -> &'a str {
        self.local.get(spec).map_or(spec, String::as_str)
    }

    /// The supergraph name of a local type: root types become `Query`, `Mutation`, `Subscription`.
    pub fn supergraph_type<'a>(&'a self, local: &'a str) -> &'a str {
        self.roots.get(local).copied().unwrap_or(local)
    }

    /// Federation machinery that never reaches the supergraph as a type of its own.
    pub fn is_internal_type(&self, name: &str) -> bool {
        name.starts_with("link__")
            || name.starts_with("federation__")
            || name.starts_with("__")
            || matches!(
                name,
                "_Any" | "_Service" | "_Entity" | "_service" | "_entities"
            )
            || FEDERATION_TYPES.iter().any(|t| self.fed(t) == name)
    }

    pub fn graph_enum_value(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

fn invalid_graphql(subgraph: &str, message: &str) -> Diagnostic {
    Diagnostic {
        location: None,
        code: "INVALID_GRAPHQL",
        subgraph: Some(subgraph.to_owned()),
        message: message.trim().to_owned(),
    }
}

/// Local names per the subgraph's `@link(url: ".../federation/v2.x", import: [...])`.
fn local_names(document: &ast::Document) -> HashMap<&'static str, String> {
    let mut prefix = "federation".to_owned();
    let mut imports: HashMap<String, String> = HashMap::new();
    let links = document.definitions.iter().flat_map(|d| match d {
        Definition::SchemaDefinition(s) => s.directives.get_all("link").collect::<Vec<_>>(),
        Definition::SchemaExtension(s) => s.directives.get_all("link").collect(),
        _ => Vec::new(),
    });
    for link in links {
        let url = link
            .specified_argument_by_name("url")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if !url.contains("specs.apollo.dev/federation/") {
            continue;
        }
        if let Some(alias) = link
            .specified_argument_by_name("as")
            .and_then(|v| v.as_str())
        {
            prefix = alias.to_owned();
        }
        let Some(ast::Value::List(items)) = link
            .specified_argument_by_name("import")
            .map(|v| v.as_ref())
        else {
            continue;
        };
        for item in items {
            match item.as_ref() {
                ast::Value::String(name) => {
                    let bare = name.trim_start_matches('@').to_owned();
                    imports.insert(bare.clone(), bare);
                }
                ast::Value::Object(fields) => {
                    let field = |key: &str| {
                        fields
                            .iter()
                            .find(|(k, _)| k == key)
                            .and_then(|(_, v)| v.as_str())
                    };
                    if let Some(name) = field("name") {
                        let alias = field("as").unwrap_or(name);
                        imports.insert(
                            name.trim_start_matches('@').to_owned(),
                            alias.trim_start_matches('@').to_owned(),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    FEDERATION_DEFINITIONS
        .iter()
        .map(|(spec, _)| *spec)
        .chain(FEDERATION_TYPES.iter().copied())
        .map(|spec| {
            (
                spec,
                imports
                    .get(spec)
                    .cloned()
                    .unwrap_or_else(|| format!("{prefix}__{spec}")),
            )
        })
        .collect()
}

/// A user's own definition of a federation directive must fit the spec's locations.
fn check_definition(
    subgraph: &str,
    user: &ast::DirectiveDefinition,
    spec_text: &str,
    errors: &mut Vec<Diagnostic>,
) {
    let Ok(spec) = ast::Document::parse(spec_text, "spec.graphql") else {
        return;
    };
    let Some(Definition::DirectiveDefinition(spec)) = spec.definitions.first() else {
        return;
    };
    let extra: Vec<String> = user
        .locations
        .iter()
        .filter(|l| !spec.locations.contains(l))
        .map(|l| l.name().to_owned())
        .collect();
    if !extra.is_empty() {
        let allowed: Vec<&str> = spec.locations.iter().map(|l| l.name()).collect();
        errors.push(Diagnostic {
            location: None,
            code: "DIRECTIVE_DEFINITION_INVALID",
            subgraph: Some(subgraph.to_owned()),
            message: format!(
                "Invalid definition for directive \"@{}\": \"@{}\" should have locations {}, but found (non-subset) {}",
                user.name,
                user.name,
                allowed.join(", "),
                extra.join(", ")
            ),
        });
    }
}

/// The subgraph's root types, checking that a type named like a root is that root.
fn root_names(
    subgraph: &str,
    schema: &Schema,
) -> Result<HashMap<Name, &'static str>, Vec<Diagnostic>> {
    let mut roots = HashMap::new();
    let mut errors = Vec::new();
    for (kind, name) in [
        ("Query", schema.schema_definition.query.as_ref()),
        ("Mutation", schema.schema_definition.mutation.as_ref()),
        (
            "Subscription",
            schema.schema_definition.subscription.as_ref(),
        ),
    ] {
        if let Some(name) = name {
            roots.insert(name.name.clone(), kind);
            if name.name != kind && schema.types.contains_key(kind) {
                let code = match kind {
                    "Query" => "ROOT_QUERY_USED",
                    "Mutation" => "ROOT_MUTATION_USED",
                    _ => "ROOT_SUBSCRIPTION_USED",
                };
                errors.push(Diagnostic {
                    code,
                    subgraph: Some(subgraph.to_owned()),
                    location: None,
                    message: format!("The schema has a type named \"{kind}\" but it is not set as the {} root type (\"{}\" is instead)", kind.to_lowercase(), name.name),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(roots)
    } else {
        Err(errors)
    }
}

/// `@composeDirective(name: "@x")` on the schema: `x`, the URL of the `@link` importing it, and its
/// definition.
fn composed_directives(schema: &Schema, compose: &str) -> Vec<(String, String, String)> {
    let schema_directives = &schema.schema_definition.directives;
    schema_directives
        .get_all(compose)
        .filter_map(|d| {
            d.specified_argument_by_name("name")?
                .as_str()
                .map(|n| n.trim_start_matches('@').to_owned())
        })
        .filter_map(|name| {
            let url = schema_directives.get_all("link").find_map(|link| {
                let imports = link.specified_argument_by_name("import")?;
                let imported = match imports.as_ref() {
                    ast::Value::List(items) => items.iter().any(|i| {
                        i.as_str()
                            .is_some_and(|s| s.trim_start_matches('@') == name)
                    }),
                    _ => false,
                };
                imported.then(|| {
                    link.specified_argument_by_name("url")?
                        .as_str()
                        .map(str::to_owned)
                })?
            })?;
            let definition = schema.directive_definitions.get(name.as_str())?.to_string();
            Some((name, url, definition))
        })
        .collect()
}
