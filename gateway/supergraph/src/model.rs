//! Reading the `@join__*` metadata of a supergraph into lookup tables.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use apollo_compiler::collections::HashMap as FastMap;
use apollo_compiler::executable::{FieldSet, SelectionSet};
use apollo_compiler::schema::{ExtendedType, Implementers};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Node, Schema, ast};

/// Index of a subgraph in [`Supergraph::graphs`].
pub type GraphId = usize;

#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    #[error("invalid supergraph SDL:\n{0}")]
    Invalid(String),
    #[error("the supergraph has no `join__Graph` enum: is this a federation supergraph?")]
    NotASupergraph,
    #[error("`{0}`: {1}")]
    Metadata(String, String),
}

/// One subgraph of the supergraph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub name: String,
    pub url: String,
    /// Its value in the `join__Graph` enum.
    pub enum_value: Name,
}

/// An `@key` of an entity type in one subgraph.
#[derive(Debug, Clone)]
pub struct Key {
    pub graph: GraphId,
    pub selection_set: SelectionSet,
    /// `resolvable: false` keys identify the entity but cannot be fetched by.
    pub resolvable: bool,
    /// The subgraph models this interface as an object (`@interfaceObject`): representations
    /// carry the interface's name as `__typename`.
    pub interface_object: bool,
}

/// How one subgraph knows a field.
#[derive(Debug, Clone)]
pub struct FieldSource {
    pub graph: GraphId,
    /// Only usable when a parent field `@provides` it.
    pub external: bool,
    pub requires: Option<SelectionSet>,
    /// Fields this field's result type gets from this subgraph without a jump.
    pub provides: Option<SelectionSet>,
    /// The field's named type in this subgraph, when it differs from the supergraph's
    /// (`@join__field(type:)`): e.g. one object type of what the supergraph calls a union.
    pub type_here: Option<Name>,
    /// The field's whole type in this subgraph (e.g. `ID!` where the supergraph has `ID`), when
    /// `@join__field(type:)` gives it.
    pub declared_type: Option<String>,
}

#[derive(Debug, Default)]
struct TypeInfo {
    /// Subgraphs that define the type (its `@join__type`s).
    graphs: Vec<GraphId>,
    keys: Vec<Key>,
    /// Per field; a field absent here resolves in every subgraph of the type.
    fields: HashMap<Name, Vec<FieldSource>>,
}

/// The parsed supergraph: the schema, its API schema, and the join metadata.
pub struct Supergraph {
    pub schema: Valid<Schema>,
    pub api_schema: Valid<Schema>,
    pub api_implementers: FastMap<Name, Implementers>,
    pub graphs: Vec<Graph>,
    types: HashMap<Name, TypeInfo>,
    /// `(abstract type, object type, graph)`: the object is a member or implementation of the
    /// abstract type in that subgraph (`@join__unionMember`, `@join__implements`).
    memberships: std::collections::HashSet<(Name, Name, GraphId)>,
    /// Abstract types with any membership metadata (older supergraphs may have none).
    with_memberships: std::collections::HashSet<Name>,
    /// Hash of the SDL text: part of plan cache keys, so a reload invalidates old plans.
    pub hash: u64,
}

impl std::fmt::Debug for Supergraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supergraph")
            .field("graphs", &self.graphs)
            .finish_non_exhaustive()
    }
}

impl Supergraph {
    pub fn parse(sdl: &str) -> Result<Self, SupergraphError> {
        let schema = Schema::parse_and_validate(sdl, "supergraph.graphql")
            .map_err(|e| SupergraphError::Invalid(e.errors.to_string()))?;
        let graphs = read_graphs(&schema)?;
        let by_enum: HashMap<&str, GraphId> = graphs
            .iter()
            .enumerate()
            .map(|(i, g)| (g.enum_value.as_str(), i))
            .collect();
        let mut types = HashMap::new();
        for (name, ty) in &schema.types {
            if let Some(info) = read_type(&schema, name, ty, &by_enum)? {
                types.insert(name.clone(), info);
            }
        }
        let (memberships, with_memberships) = read_memberships(&schema, &by_enum);
        let api_schema = crate::api_schema(&schema)?;
        let api_implementers = api_schema.implementers_map();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        sdl.hash(&mut hasher);
        Ok(Self {
            schema,
            api_schema,
            api_implementers,
            graphs,
            types,
            memberships,
            with_memberships,
            hash: hasher.finish(),
        })
    }

    /// Subgraphs that define `type_name`.
    pub fn type_graphs(&self, type_name: &str) -> &[GraphId] {
        self.types.get(type_name).map_or(&[], |t| &t.graphs)
    }

    /// The entity keys of `type_name` declared by `graph`.
    pub fn keys(&self, type_name: &str, graph: GraphId) -> impl Iterator<Item = &Key> {
        self.types
            .get(type_name)
            .into_iter()
            .flat_map(|t| &t.keys)
            .filter(move |k| k.graph == graph)
    }

    /// How each subgraph knows `type_name.field`: explicit `@join__field`s, or else every
    /// subgraph of the type, plainly.
    pub fn field_sources(&self, type_name: &str, field: &str) -> Vec<FieldSource> {
        let Some(info) = self.types.get(type_name) else {
            return Vec::new();
        };
        match info.fields.get(field) {
            Some(sources) => sources.clone(),
            None => info
                .graphs
                .iter()
                .map(|&graph| FieldSource {
                    graph,
                    external: false,
                    requires: None,
                    provides: None,
                    type_here: None,
                    declared_type: None,
                })
                .collect(),
        }
    }

    /// Whether, in `graph`, `object` belongs to the union or implements the interface `abstract_type`.
    pub fn is_member_in(&self, abstract_type: &Name, object: &Name, graph: GraphId) -> bool {
        !self.with_memberships.contains(abstract_type)
            || self
                .memberships
                .contains(&(abstract_type.clone(), object.clone(), graph))
    }

    pub fn graph_by_name(&self, name: &str) -> Option<GraphId> {
        self.graphs.iter().position(|g| g.name == name)
    }
}

fn read_graphs(schema: &Schema) -> Result<Vec<Graph>, SupergraphError> {
    let Some(ExtendedType::Enum(graphs)) = schema.types.get("join__Graph") else {
        return Err(SupergraphError::NotASupergraph);
    };
    graphs
        .values
        .values()
        .map(|value| {
            let join = value
                .directives
                .get("join__graph")
                .ok_or_else(|| meta(&value.value, "missing @join__graph"))?;
            Ok(Graph {
                name: string_arg(join, "name")
                    .ok_or_else(|| meta(&value.value, "missing name"))?
                    .to_owned(),
                url: string_arg(join, "url").unwrap_or_default().to_owned(),
                enum_value: value.value.clone(),
            })
        })
        .collect()
}

fn read_type(
    schema: &Valid<Schema>,
    name: &Name,
    ty: &ExtendedType,
    by_enum: &HashMap<&str, GraphId>,
) -> Result<Option<TypeInfo>, SupergraphError> {
    let joins: Vec<_> = ty.directives().get_all("join__type").collect();
    if joins.is_empty() {
        return Ok(None);
    }
    let mut info = TypeInfo::default();
    for join in joins {
        let graph = graph_arg(join, by_enum, name)?;
        if !info.graphs.contains(&graph) {
            info.graphs.push(graph);
        }
        if let Some(key) = string_arg(join, "key") {
            info.keys.push(Key {
                graph,
                selection_set: field_set(schema, name, key)?,
                resolvable: join
                    .specified_argument_by_name("resolvable")
                    .and_then(|v| v.to_bool())
                    .unwrap_or(true),
                interface_object: join
                    .specified_argument_by_name("isInterfaceObject")
                    .and_then(|v| v.to_bool())
                    == Some(true),
            });
        }
    }
    let fields = match ty {
        ExtendedType::Object(o) => &o.fields,
        ExtendedType::Interface(i) => &i.fields,
        _ => return Ok(Some(info)),
    };
    for (field_name, field) in fields {
        let joins: Vec<_> = field.directives.get_all("join__field").collect();
        if joins.is_empty() {
            continue;
        }
        let mut sources = Vec::new();
        for join in joins {
            // A join without a graph (or one kept only for an overridden graph's keys) resolves nothing.
            if join.specified_argument_by_name("graph").is_none()
                || join
                    .specified_argument_by_name("usedOverridden")
                    .and_then(|v| v.to_bool())
                    == Some(true)
            {
                continue;
            }
            let graph = graph_arg(join, by_enum, name)?;
            let field_type = field.ty.inner_named_type();
            sources.push(FieldSource {
                graph,
                external: join
                    .specified_argument_by_name("external")
                    .and_then(|v| v.to_bool())
                    == Some(true),
                requires: string_arg(join, "requires")
                    .map(|r| field_set(schema, name, r))
                    .transpose()?,
                provides: string_arg(join, "provides")
                    .map(|p| field_set(schema, field_type, p))
                    .transpose()?,
                type_here: string_arg(join, "type")
                    .map(|t| t.trim_matches(['[', ']', '!']))
                    .filter(|t| *t != field_type.as_str())
                    .and_then(|t| Name::new(t).ok()),
                declared_type: string_arg(join, "type").map(str::to_owned),
            });
        }
        info.fields.insert(field_name.clone(), sources);
    }
    Ok(Some(info))
}

fn field_set(
    schema: &Valid<Schema>,
    type_name: &Name,
    source: &str,
) -> Result<SelectionSet, SupergraphError> {
    FieldSet::parse_and_validate(schema, type_name.clone(), source, "field_set.graphql")
        .map(|set| set.into_inner().selection_set)
        .map_err(|e| {
            meta(
                type_name,
                &format!("invalid field set \"{source}\": {}", e.errors),
            )
        })
}

fn graph_arg(
    directive: &Node<ast::Directive>,
    by_enum: &HashMap<&str, GraphId>,
    owner: &Name,
) -> Result<GraphId, SupergraphError> {
    directive
        .specified_argument_by_name("graph")
        .and_then(|v| v.as_enum())
        .and_then(|g| by_enum.get(g.as_str()).copied())
        .ok_or_else(|| meta(owner, "a join directive names an unknown graph"))
}

fn string_arg<'a>(directive: &'a Node<ast::Directive>, name: &str) -> Option<&'a str> {
    directive
        .specified_argument_by_name(name)
        .and_then(|v| v.as_str())
}

fn meta(owner: &impl std::fmt::Display, message: &str) -> SupergraphError {
    SupergraphError::Metadata(owner.to_string(), message.to_owned())
}

type Memberships = (
    std::collections::HashSet<(Name, Name, GraphId)>,
    std::collections::HashSet<Name>,
);

fn read_memberships(schema: &Schema, by_enum: &HashMap<&str, GraphId>) -> Memberships {
    let mut memberships = std::collections::HashSet::new();
    let mut with = std::collections::HashSet::new();
    let graph_of = |d: &ast::Directive| {
        d.specified_argument_by_name("graph")
            .and_then(|v| v.as_enum())
            .and_then(|g| by_enum.get(g.as_str()).copied())
    };
    let name_arg = |d: &ast::Directive, arg: &str| {
        d.specified_argument_by_name(arg)
            .and_then(|v| v.as_str())
            .and_then(|n| Name::new(n).ok())
    };
    for (name, ty) in &schema.types {
        for join in ty.directives().get_all("join__unionMember") {
            if let (Some(graph), Some(member)) = (graph_of(join), name_arg(join, "member")) {
                memberships.insert((name.clone(), member, graph));
                with.insert(name.clone());
            }
        }
        for join in ty.directives().get_all("join__implements") {
            if let (Some(graph), Some(interface)) = (graph_of(join), name_arg(join, "interface")) {
                memberships.insert((interface.clone(), name.clone(), graph));
                with.insert(interface);
            }
        }
    }
    (memberships, with)
}
