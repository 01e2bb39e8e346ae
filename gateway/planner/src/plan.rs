//! The query plan: plain data the executor walks, with a pretty-printer for people.

use std::fmt;

use serde::Serialize;

use crate::Selections;

#[derive(Debug, Clone, Serialize)]
pub struct QueryPlan {
    /// `None` when nothing needs a subgraph (e.g. only `__typename` or introspection).
    pub node: Option<PlanNode>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
pub enum PlanNode {
    /// Children run one after the other.
    Sequence {
        nodes: Vec<PlanNode>,
    },
    /// Children run at the same time.
    Parallel {
        nodes: Vec<PlanNode>,
    },
    Fetch(FetchNode),
    /// Runs `node` (an entity fetch) for every object found at `path` in the response so far.
    Flatten {
        path: Vec<PathSegment>,
        node: Box<PlanNode>,
    },
    /// Several entity fetches to one subgraph that can run at the same time, sent as one
    /// request: every input adds the representations of the objects at its path to one
    /// `_entities` list, and each answer goes back to the object it came from.
    Batch {
        inputs: Vec<EntityInput>,
        node: Box<PlanNode>,
    },
    /// Runs `if_clause` when the Boolean variable `condition` is true, else `else_clause`: the
    /// fetches of selections under `@include(if: $v)` or `@skip(if: $v)` are not even sent when
    /// the selection is left out.
    Condition {
        condition: String,
        #[serde(rename = "ifClause", skip_serializing_if = "Option::is_none")]
        if_clause: Option<Box<PlanNode>>,
        #[serde(rename = "elseClause", skip_serializing_if = "Option::is_none")]
        else_clause: Option<Box<PlanNode>>,
    },
}

/// One part of a [`PlanNode::Batch`]: where its objects are and how each is represented.
#[derive(Debug, Clone, Serialize)]
pub struct EntityInput {
    pub path: Vec<PathSegment>,
    pub requires: Requires,
}

/// One request to one subgraph.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchNode {
    pub service_name: String,
    #[serde(skip)]
    pub graph: usize,
    /// The subgraph operation's text.
    pub operation: String,
    /// Client variables the operation uses, forwarded as they came.
    pub variable_usages: Vec<String>,
    /// For entity fetches: how to build each `_entities` representation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<Requires>,
    /// Keys the operation aliases to stay valid, to be named back in the answer, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<Rename>,
}

/// A field the subgraph answers under an alias, because another field with the same response key
/// but another type shares its selection set (`id: ID!` on one member of a union, `id: ID` on
/// another); the client knows it by its own key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rename {
    /// From the answer's `data` to the objects holding the alias.
    pub path: Vec<PathSegment>,
    /// Only in objects of this `__typename` (`None`: in every object there).
    #[serde(rename = "typeCondition", skip_serializing_if = "Option::is_none")]
    pub type_condition: Option<String>,
    pub from: String,
    pub to: String,
}

/// The representation of an entity: its `__typename`, key and required fields, taken from every
/// object at the flatten path whose `__typename` is `type_name`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requires {
    pub type_name: String,
    /// Other `__typename`s represented as `type_name`: the implementations of an interface the
    /// target subgraph models as an object (`@interfaceObject`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<String>,
    pub selections: Selections,
}

/// A step of a response path: a field's response key, or `@` for every item of a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    List,
}

impl Serialize for PathSegment {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            Self::Key(key) => key,
            Self::List => "@",
        })
    }
}

impl QueryPlan {
    /// How many fetches the plan makes (per run; a flatten counts once).
    pub fn fetch_count(&self) -> usize {
        fn count(node: &PlanNode) -> usize {
            match node {
                PlanNode::Sequence { nodes } | PlanNode::Parallel { nodes } => {
                    nodes.iter().map(count).sum()
                }
                PlanNode::Fetch(_) => 1,
                PlanNode::Flatten { node, .. } | PlanNode::Batch { node, .. } => count(node),
                PlanNode::Condition {
                    if_clause,
                    else_clause,
                    ..
                } => [if_clause, else_clause]
                    .into_iter()
                    .flatten()
                    .map(|n| count(n))
                    .sum(),
            }
        }
        self.node.as_ref().map_or(0, count)
    }
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "QueryPlan {{")?;
        if let Some(node) = &self.node {
            write_node(f, node, 1)?;
        }
        write!(f, "}}")
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &PlanNode, depth: usize) -> fmt::Result {
    let pad = "  ".repeat(depth);
    match node {
        PlanNode::Sequence { nodes } | PlanNode::Parallel { nodes } => {
            let name = if matches!(node, PlanNode::Sequence { .. }) {
                "Sequence"
            } else {
                "Parallel"
            };
            writeln!(f, "{pad}{name} {{")?;
            for child in nodes {
                write_node(f, child, depth + 1)?;
            }
            writeln!(f, "{pad}}},")
        }
        PlanNode::Fetch(fetch) => {
            writeln!(f, "{pad}Fetch(service: \"{}\") {{", fetch.service_name)?;
            if let Some(requires) = &fetch.requires {
                writeln!(f, "{pad}  {} =>", requires_text(requires))?;
            }
            writeln!(f, "{pad}  {}", fetch.operation)?;
            for rename in &fetch.renames {
                let on = rename.type_condition.as_deref().unwrap_or("*");
                let at = path_text(&rename.path);
                writeln!(
                    f,
                    "{pad}  rename {at} ... on {on} {} -> {}",
                    rename.from, rename.to
                )?;
            }
            writeln!(f, "{pad}}},")
        }
        PlanNode::Flatten { path, node } => {
            writeln!(f, "{pad}Flatten(path: \"{}\") {{", path_text(path))?;
            write_node(f, node, depth + 1)?;
            writeln!(f, "{pad}}},")
        }
        PlanNode::Condition {
            condition,
            if_clause,
            else_clause,
        } => {
            for (name, clause) in [("Include", if_clause), ("Skip", else_clause)] {
                if let Some(clause) = clause {
                    writeln!(f, "{pad}{name}(if: ${condition}) {{")?;
                    write_node(f, clause, depth + 1)?;
                    writeln!(f, "{pad}}},")?;
                }
            }
            Ok(())
        }
        PlanNode::Batch { inputs, node } => {
            writeln!(f, "{pad}Batch {{")?;
            for input in inputs {
                let (path, requires) = (path_text(&input.path), requires_text(&input.requires));
                writeln!(f, "{pad}  Flatten(path: \"{path}\") {requires}")?;
            }
            write_node(f, node, depth + 1)?;
            writeln!(f, "{pad}}},")
        }
    }
}

fn path_text(path: &[PathSegment]) -> String {
    let steps: Vec<&str> = path
        .iter()
        .map(|s| match s {
            PathSegment::Key(k) => k.as_str(),
            PathSegment::List => "@",
        })
        .collect();
    steps.join(".")
}

fn requires_text(requires: &Requires) -> String {
    let mut text = format!("... on {} ", requires.type_name);
    requires.selections.write(&mut text);
    text
}
