//! Entity fetches on the response tree: the representations of the objects at a plan path,
//! written straight from the tree as JSON and deduplicated; then each `_entities` answer merged,
//! once parsed and shared, into every object it represents.

use mosaic_planner::{PathSegment, Requires, Selection, Selections};

use crate::tree::{
    FastHasher, FastMap, FastSet, KeyId, ListId, ObjId, Step, Tree, Val, write_raw_str,
};
use std::hash::Hasher;

/// Where each representation of one `_entities` request goes.
pub struct Targets<'p> {
    /// The objects, each with its representation's index and the input it was found by.
    pub objects: Vec<(ObjId, usize, usize)>,
    /// The path of the first object of each representation (for errors).
    pub paths: Vec<Vec<Step<'p>>>,
}

/// The representations (JSON, comma-separated, deduplicated) of the objects at every input's
/// path, and where each answer goes. An object reached twice (shared by several places) is
/// represented once.
pub fn represent_all<'p>(
    tree: &Tree,
    inputs: &[(&'p Vec<PathSegment>, &Requires)],
) -> (Vec<u8>, Targets<'p>) {
    let mut out = Vec::with_capacity(1024);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut by_hash: FastMap<u64, usize> = FastMap::default();
    let mut written = Vec::new();
    let mut targets = Targets {
        objects: Vec::new(),
        paths: Vec::new(),
    };
    for (n, &(path, requires)) in inputs.iter().enumerate() {
        let mut found = |steps: &[Step<'p>], object| {
            if !represents(requires, tree, object) {
                return;
            }
            let start = out.len();
            if start > 0 {
                out.push(b',');
            }
            let from = out.len();
            if !represent(
                tree,
                object,
                Some(&requires.type_name),
                &requires.selections,
                &mut written,
                &mut out,
            ) {
                out.truncate(start);
                return;
            }
            let mut hasher = FastHasher::default();
            hasher.write(&out[from..]);
            let same = |i: &usize| out[spans[*i].0..spans[*i].1] == out[from..];
            // A 64-bit hash collision is all but impossible; it is still handled, by a scan.
            let known = match by_hash.get(&hasher.finish()) {
                Some(i) if same(i) => Some(*i),
                Some(_) => (0..spans.len()).find(same),
                None => None,
            };
            let index = match known {
                Some(index) => {
                    out.truncate(start);
                    index
                }
                None => {
                    spans.push((from, out.len()));
                    targets.paths.push(steps.to_vec());
                    by_hash.entry(hasher.finish()).or_insert(spans.len() - 1);
                    spans.len() - 1
                }
            };
            targets.objects.push((object, index, n));
        };
        let root = Val::Obj(tree.root);
        Walk::new(tree, path).collect(root, 0, &mut found);
    }
    (out, targets)
}

/// Merges each answer into the objects it represents: one parsed answer, shared by all.
pub fn merge_entities(
    tree: &mut Tree,
    list: ListId,
    objects: &[(ObjId, usize, usize)],
    inputs: &[(&Vec<PathSegment>, &Requires)],
) {
    let typename = tree.key_id("__typename");
    for &(object, index, n) in objects {
        let Val::Obj(entity) = tree.items(list)[index] else {
            continue;
        };
        let requires = inputs[n].1;
        let known = typename.and_then(|id| tree.get_id(object, id));
        let known_name = match known {
            Some(Val::Str(raw)) => Some(tree.bytes(raw)),
            _ => None,
        };
        // An `@interfaceObject` subgraph answers with the interface's name: the concrete
        // type known before stays. The other way round, an object known only by its
        // interface's name takes the concrete type just fetched.
        let keep_known =
            !requires.accepts.is_empty() || known_name != Some(requires.type_name.as_bytes());
        tree.merge(object, entity);
        if let (true, Some(known), Some(typename)) = (keep_known, known, typename) {
            tree.replace(object, typename, known);
        }
    }
}

/// The objects at `path` below `value`, each once.
pub fn objects_at(tree: &Tree, value: Val, path: &[PathSegment]) -> Vec<ObjId> {
    let mut objects = Vec::new();
    Walk::new(tree, path).collect(value, 0, &mut |_, object| objects.push(object));
    objects
}

/// A walk down a plan path to the objects an entity fetch needs.
struct Walk<'t, 'p> {
    tree: &'t Tree,
    /// The plan path, with each key's id in the tree (`None`: no object has it).
    path: Vec<(&'p PathSegment, Option<KeyId>)>,
    /// The concrete path to where the walk is.
    steps: Vec<Step<'p>>,
    /// Objects found already: an object shared by several places is found once.
    found: FastSet<ObjId>,
}

impl<'t, 'p> Walk<'t, 'p> {
    fn new(tree: &'t Tree, path: &'p [PathSegment]) -> Self {
        let path = path
            .iter()
            .map(|segment| match segment {
                PathSegment::Key(key) => (segment, tree.key_id(key)),
                PathSegment::List => (segment, None),
            })
            .collect();
        Self {
            tree,
            path,
            steps: Vec::new(),
            found: FastSet::default(),
        }
    }

    /// Calls `found` with every object at the path below `value` (from segment `depth` on),
    /// once each, with its concrete path.
    fn collect(&mut self, value: Val, depth: usize, found: &mut impl FnMut(&[Step<'p>], ObjId)) {
        match (self.path.get(depth).copied(), value) {
            (None, Val::Obj(object)) if self.found.insert(object) => found(&self.steps, object),
            (Some((PathSegment::Key(key), id)), Val::Obj(object)) => {
                if let Some(child) = id.and_then(|id| self.tree.get_id(object, id)) {
                    self.steps.push(Step::Key(key));
                    self.collect(child, depth + 1, found);
                    self.steps.pop();
                }
            }
            (Some((PathSegment::List, _)), Val::List(list)) => {
                for (i, item) in self.tree.items(list).iter().enumerate() {
                    self.steps.push(Step::Index(i));
                    self.collect(*item, depth + 1, found);
                    self.steps.pop();
                }
            }
            _ => {}
        }
    }
}

/// Writes the representation of `object` (the fields `selections` name, `__typename` first when
/// given) to `out`; `false` if a field is missing.
fn represent<'s>(
    tree: &Tree,
    object: ObjId,
    typename: Option<&'s str>,
    selections: &'s Selections,
    written: &mut Vec<&'s str>,
    out: &mut Vec<u8>,
) -> bool {
    let base = written.len();
    out.push(b'{');
    if let Some(typename) = typename {
        out.extend_from_slice(b"\"__typename\":");
        serde_json::to_writer(&mut *out, typename).expect("writing JSON to memory cannot fail");
        written.push("__typename");
    }
    let complete = represent_fields(tree, object, selections, base, written, out);
    out.push(b'}');
    written.truncate(base);
    complete
}

/// The fields of [`represent`], inline fragments included; `written[base..]` are the keys
/// already written for this object.
fn represent_fields<'s>(
    tree: &Tree,
    object: ObjId,
    selections: &'s Selections,
    base: usize,
    written: &mut Vec<&'s str>,
    out: &mut Vec<u8>,
) -> bool {
    for selection in &selections.0 {
        match selection {
            Selection::Field {
                alias,
                name,
                selections,
                ..
            } => {
                if written[base..].contains(&name.as_str()) {
                    continue;
                }
                // An aliased requirement (fetched under its alias) is represented by its name.
                let Some(value) = tree.get(object, alias.as_ref().unwrap_or(name)) else {
                    return false;
                };
                if written.len() > base {
                    out.push(b',');
                }
                written.push(name.as_str());
                write_raw_str(out, name.as_bytes());
                out.push(b':');
                let complete = match (selections, value) {
                    (Some(inner), Val::Obj(child)) => {
                        represent(tree, child, None, inner, written, out)
                    }
                    (Some(inner), Val::List(list)) => {
                        out.push(b'[');
                        let all = tree.items(list).iter().enumerate().all(|(i, item)| {
                            if i > 0 {
                                out.push(b',');
                            }
                            matches!(item, Val::Obj(child) if represent(tree, *child, None, inner, written, out))
                        });
                        out.push(b']');
                        all
                    }
                    _ => {
                        tree.write(value, out);
                        true
                    }
                };
                if !complete {
                    return false;
                }
            }
            Selection::InlineFragment {
                type_condition,
                selections,
                ..
            } => {
                let applies = type_condition
                    .as_ref()
                    .is_none_or(|t| tree.get_str(object, "__typename") == Some(t.as_bytes()));
                if applies && !represent_fields(tree, object, selections, base, written, out) {
                    return false;
                }
            }
        }
    }
    true
}

/// Whether an object belongs to an entity input: its `__typename` is the input's type, or one
/// it accepts.
fn represents(requires: &Requires, tree: &Tree, object: ObjId) -> bool {
    let typename = tree.get_str(object, "__typename").unwrap_or_default();
    typename == requires.type_name.as_bytes()
        || requires.accepts.iter().any(|t| t.as_bytes() == typename)
}
