//! Keeping a fetch's operation valid where the client's is: fields that share a response key
//! across fragments on different types may differ in type in one subgraph (`User.id: ID!` and
//! `Admin.id: ID` there, both `ID` in the supergraph), which GraphQL's "fields in set can merge"
//! rule refuses. Such a field is aliased in the fetch and named back in the answer.

use std::collections::HashMap;

use apollo_compiler::Name;
use apollo_compiler::schema::ExtendedType;
use mosaic_supergraph::{GraphId, Supergraph};

use crate::plan::{PathSegment, Rename};
use crate::selection::{Selection, Selections};

/// Aliases, in a fetch's selections, every field whose response key a field merged with it
/// holds with another shape; [`Separator::renames`] then tells how to undo it.
pub struct Separator<'a> {
    supergraph: &'a Supergraph,
    graph: GraphId,
    /// (path, response key) → the shape it has there. Fields at one path merge (fragments on
    /// different types included), so their shapes must agree.
    seen: HashMap<(Vec<PathSegment>, String), String>,
    renames: Vec<Rename>,
    path: Vec<PathSegment>,
}

impl<'a> Separator<'a> {
    /// For a fetch of `graph` whose selections are answered at `path` of `data`.
    pub fn new(supergraph: &'a Supergraph, graph: GraphId, path: Vec<PathSegment>) -> Self {
        Self {
            supergraph,
            graph,
            seen: HashMap::new(),
            renames: Vec::new(),
            path,
        }
    }

    /// The renames, deepest first: applied in order, each finds its path as answered.
    pub fn renames(mut self) -> Vec<Rename> {
        self.renames.reverse();
        self.renames
    }

    /// Separates `selections`, on `parent`.
    pub fn visit(&mut self, parent: &Name, selections: &mut Selections) {
        for selection in &mut selections.0 {
            match selection {
                Selection::Field {
                    alias,
                    name,
                    selections,
                    ..
                } => {
                    let Some((shape, inner, lists)) = self.shape(parent, name) else {
                        continue;
                    };
                    let key = alias.as_ref().unwrap_or(name).to_string();
                    let at = (self.path.clone(), key.clone());
                    let known = self.seen.entry(at).or_insert_with(|| shape.clone());
                    let mut answered_as = key.clone();
                    if *known != shape {
                        answered_as = format!("{key}__{}", fnv(&shape));
                        *alias = Some(Name::new(&answered_as).expect("a name and hex digits"));
                        self.renames.push(Rename {
                            path: self.path.clone(),
                            type_condition: self.is_object(parent).then(|| parent.to_string()),
                            from: answered_as.clone(),
                            to: key,
                        });
                    }
                    if let Some(children) = selections {
                        let depth = self.path.len();
                        self.path.push(PathSegment::Key(answered_as));
                        self.path.extend((0..lists).map(|_| PathSegment::List));
                        self.visit(&inner, children);
                        self.path.truncate(depth);
                    }
                }
                Selection::InlineFragment {
                    type_condition,
                    selections,
                    ..
                } => {
                    let on = type_condition.clone().unwrap_or_else(|| parent.clone());
                    self.visit(&on, selections);
                }
            }
        }
    }

    /// The shape of `parent.name` in this subgraph (its type, with composite types' names left
    /// out: their fields are compared instead), its named type and list depth.
    fn shape(&self, parent: &Name, name: &Name) -> Option<(String, Name, usize)> {
        let definition = self.supergraph.schema.type_field(parent, name).ok()?;
        let declared = self
            .supergraph
            .field_sources(parent, name)
            .into_iter()
            .find(|s| s.graph == self.graph)
            .and_then(|s| s.declared_type);
        let text = declared.unwrap_or_else(|| definition.ty.to_string());
        let named = text.trim_matches(['[', ']', '!']);
        let inner = Name::new(named).ok()?;
        let leaf = matches!(
            self.supergraph.schema.types.get(named),
            Some(ExtendedType::Scalar(_) | ExtendedType::Enum(_))
        );
        let shape = match leaf {
            true => text.clone(),
            false => text.replace(named, "_"),
        };
        let lists = text.matches('[').count();
        Some((shape, inner, lists))
    }

    fn is_object(&self, type_name: &Name) -> bool {
        matches!(
            self.supergraph.schema.types.get(type_name),
            Some(ExtendedType::Object(_))
        )
    }
}

/// A short stable hash, so an alias is the same in every plan of the operation.
pub fn fnv(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash as u32)
}
