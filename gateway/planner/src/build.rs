//! Planning: walk the client's selections, place each field in a fetch group (one subgraph, one
//! response path), jump between subgraphs through entity keys, fetch `@requires` fields first,
//! then order the groups into Sequence/Parallel nodes.

use std::collections::HashMap;
use std::fmt::Write;

use apollo_compiler::executable::{self, Operation, OperationType, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, ast};
use mosaic_supergraph::{FieldSource, GraphId, Supergraph};

use crate::conflicts::{Separator, fnv};
use crate::plan::{EntityInput, FetchNode, PathSegment, PlanNode, QueryPlan, Requires};
use crate::selection::{Selection, Selections};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no subgraph can resolve `{0}.{1}`")]
    Unresolvable(String, String),
    #[error("`{type_name}` cannot be fetched from subgraph `{graph}`: no key of it is available")]
    NoKey { type_name: String, graph: String },
}

type Path = Vec<PathSegment>;
type GroupId = usize;
/// The `@include(if: $v)` (`true`) and `@skip(if: $v)` (`false`) conditions a selection is
/// under: its fetch runs only when every variable has the value given.
type Conditions = Vec<(Name, bool)>;
/// Where an entity group fetches: path, subgraph, type, which requirements group it is, if its
/// representations need fields fetched first (see [`Builder::requirements_slot`]), and the
/// conditions it runs under.
type GroupKey = (Path, GraphId, Name, Option<usize>, Conditions);
/// Where entity groups fetch, requirements aside.
type Place = (Path, GraphId, Name, Conditions);
/// The fields a group's representations require, by path (`a.b`), with their arguments' text:
/// one representation holds one value per field.
type Signature = Vec<(String, String)>;

/// One future fetch: a subgraph, and where its result merges into the response.
#[derive(Clone)]
struct Group {
    graph: GraphId,
    /// Entity type and representation, for `_entities` fetches; `None` for root fetches.
    entity: Option<(Name, Selections)>,
    path: Path,
    selections: Selections,
    /// Groups that must finish first.
    deps: Vec<GroupId>,
    /// Folded into another group: fetches nothing itself.
    folded: bool,
    /// The target subgraph models the entity's interface as an object (`@interfaceObject`).
    interface_object: bool,
    /// Runs only under these conditions (a `Condition` node around its fetch).
    conditions: Conditions,
}

impl Group {
    /// A root fetch of `graph`.
    fn root(graph: GraphId) -> Self {
        Self {
            graph,
            entity: None,
            path: Vec::new(),
            selections: Selections::default(),
            deps: Vec::new(),
            folded: false,
            interface_object: false,
            conditions: Vec::new(),
        }
    }
}

struct Builder<'a> {
    supergraph: &'a Supergraph,
    document: &'a Valid<ExecutableDocument>,
    groups: Vec<Group>,
    /// Entity groups by place, so fields at one place share a fetch while fields needing
    /// required data wait for it apart.
    index: HashMap<GroupKey, GroupId>,
    /// Per place, the requirements of each requirements group there (indexed by slot).
    requirements: HashMap<Place, Vec<Signature>>,
    /// Every group an entity jump used, in order: tells which groups a `@requires` depends on.
    touched: Vec<GroupId>,
    /// How many key or `@requires` field sets are being planned inside one another.
    indirection: usize,
    /// The fields from the root down to the selection being planned, with their parent types.
    ancestors: Vec<(Name, executable::Field)>,
    /// Per ancestor, selections to add to its field's own (an entity's key, when a field below
    /// is fetched through it).
    extras: Vec<Selections>,
    /// Per ancestor, the subgraphs that could resolve the path down to it, each with the
    /// field's named type there (see [`Builder::candidates_for`]).
    candidates: Vec<Vec<(GraphId, Name)>>,
    /// Root fetches added while planning (a shared root field asked again of another subgraph).
    extra_roots: Vec<GroupId>,
    is_query: bool,
    /// The conditions on variables of the selections being planned, outermost first.
    conditions: Conditions,
    /// Alternatives planned so far after a failed choice (see [`Builder::may_retry`]).
    retries: usize,
}

/// What [`Builder::restore`] puts back after a trial plan.
struct Snapshot {
    groups: Vec<Group>,
    index: HashMap<GroupKey, GroupId>,
    requirements: HashMap<Place, Vec<Signature>>,
    extras: Vec<Selections>,
    touched: usize,
    extra_roots: usize,
}

/// Bound on nested key/requires planning, so cyclic key dependencies end in an error.
const MAX_INDIRECTION: usize = 8;
/// Bound on alternatives planned after a failed choice of subgraph, per operation.
const MAX_RETRIES: usize = 64;

/// Plans `operation` (from a document validated against the supergraph's API schema). A
/// subscription plans like a query whose root fetch is the subgraph's subscription: the executor
/// opens it and runs the rest of the plan on every event.
pub fn plan(
    supergraph: &Supergraph,
    document: &Valid<ExecutableDocument>,
    operation: &Operation,
) -> Result<QueryPlan, PlanError> {
    let mut builder = Builder {
        supergraph,
        document,
        groups: Vec::new(),
        index: HashMap::new(),
        requirements: HashMap::new(),
        touched: Vec::new(),
        indirection: 0,
        ancestors: Vec::new(),
        extras: Vec::new(),
        candidates: Vec::new(),
        extra_roots: Vec::new(),
        is_query: operation.operation_type == OperationType::Query,
        conditions: Vec::new(),
        retries: 0,
    };
    let mut roots = builder.plan_root(operation)?;
    roots.append(&mut builder.extra_roots);
    builder.fold_into_requires_groups();
    let node = builder.into_node(&roots, operation);
    Ok(QueryPlan { node })
}

impl Builder<'_> {
    /// Root fields go to the subgraphs that own them: one group per subgraph for queries; for
    /// mutations, one per run of consecutive fields of a subgraph, so they execute in order.
    fn plan_root(&mut self, operation: &Operation) -> Result<Vec<GroupId>, PlanError> {
        let root_type = operation.selection_set.ty.clone();
        let mut roots: Vec<GroupId> = Vec::new();
        for field in flatten_root(self.document, &operation.selection_set) {
            if field.name.starts_with("__") {
                continue; // introspection and `__typename` are answered by the gateway
            }
            let sources = self.supergraph.field_sources(&root_type, &field.name);
            let candidates: Vec<GraphId> = sources
                .iter()
                .filter(|s| !s.external)
                .map(|s| s.graph)
                .collect();
            if candidates.is_empty() {
                let (parent, name) = (root_type.to_string(), field.name.to_string());
                return Err(PlanError::Unresolvable(parent, name));
            }
            // Consecutive mutation fields of one subgraph share a fetch; others keep their order.
            let mutation = operation.operation_type == OperationType::Mutation;
            let group = match roots.last() {
                Some(&last) if mutation && candidates.contains(&self.groups[last].graph) => last,
                _ => {
                    let graph =
                        self.cheapest_root(&roots, &candidates, &root_type, &field, mutation);
                    self.root_group(&mut roots, graph, mutation)
                }
            };
            let graph = self.groups[group].graph;
            let mut out = Selections::default();
            self.plan_field(
                group,
                graph,
                &root_type,
                &field,
                &Vec::new(),
                None,
                &mut out,
            )?;
            self.groups[group].selections.merge(out);
        }
        Ok(roots)
    }

    /// The root group of `graph`: a new one when `fresh` or none exists yet.
    fn root_group(&mut self, roots: &mut Vec<GroupId>, graph: GraphId, fresh: bool) -> GroupId {
        if let Some(&id) = roots.iter().find(|&&r| self.groups[r].graph == graph)
            && !fresh
        {
            return id;
        }
        self.groups.push(Group::root(graph));
        roots.push(self.groups.len() - 1);
        self.groups.len() - 1
    }

    /// Of the subgraphs that resolve a shared root field, the one whose plan of it makes the
    /// fewest fetches (the first on a tie), preferring plans that needed no retry: each is
    /// tried, and the trial undone. `fresh`: the field gets a fetch of its own (a mutation
    /// field, run in order).
    fn cheapest_root(
        &mut self,
        roots: &[GroupId],
        candidates: &[GraphId],
        root_type: &Name,
        field: &executable::Field,
        fresh: bool,
    ) -> GraphId {
        if candidates.len() == 1 {
            return candidates[0];
        }
        let before = self.snapshot();
        // A plan that had to route around a dead end (a retry) ranks after those that did not.
        let mut best: Option<((bool, usize), GraphId)> = None;
        for &graph in candidates {
            let mut trial_roots = roots.to_vec();
            let group = self.root_group(&mut trial_roots, graph, fresh);
            let mut out = Selections::default();
            let retries = self.retries;
            let planned =
                self.plan_field(group, graph, root_type, field, &Vec::new(), None, &mut out);
            let fetches = self.groups.len() + self.extra_roots.len() - before.extra_roots;
            let cost = (self.retries > retries, fetches);
            if planned.is_ok() && best.is_none_or(|(least, _)| cost < least) {
                best = Some((cost, graph));
            }
            self.restore(&before);
        }
        best.map_or(candidates[0], |(_, graph)| graph)
    }

    /// The planning state a trial may change, to undo it.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            groups: self.groups.clone(),
            index: self.index.clone(),
            requirements: self.requirements.clone(),
            extras: self.extras.clone(),
            touched: self.touched.len(),
            extra_roots: self.extra_roots.len(),
        }
    }

    fn restore(&mut self, snapshot: &Snapshot) {
        self.groups.clone_from(&snapshot.groups);
        self.index.clone_from(&snapshot.index);
        self.requirements.clone_from(&snapshot.requirements);
        self.extras.clone_from(&snapshot.extras);
        self.touched.truncate(snapshot.touched);
        self.extra_roots.truncate(snapshot.extra_roots);
    }

    /// The selections of `set` (on `parent`, at `path`) that `graph` resolves in `group`;
    /// the rest goes to entity groups.
    #[allow(clippy::too_many_arguments)]
    fn plan_set(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        set: &SelectionSet,
        path: &Path,
        provided: Option<&SelectionSet>,
    ) -> Result<Selections, PlanError> {
        let mut out = Selections::default();
        if self.is_abstract(parent) {
            out.add(Selection::typename());
        }
        // A subgraph modelling an interface as an object (`@interfaceObject`) knows neither the
        // concrete `__typename` nor the implementations' fields: those come from the subgraph
        // that defines the interface, through the interface's key.
        let real = self.interface_home(parent, graph);
        for selection in &set.selections {
            if let Some(home) = real
                && self.plan_in_interface_home(
                    group, graph, home, parent, selection, path, provided, &mut out,
                )?
            {
                continue;
            }
            match selection {
                executable::Selection::Field(field) => {
                    self.plan_field(group, graph, parent, field, path, provided, &mut out)?;
                }
                executable::Selection::InlineFragment(fragment) => {
                    let condition = fragment.type_condition.clone();
                    self.plan_fragment(
                        group,
                        graph,
                        parent,
                        condition,
                        &fragment.directives,
                        &fragment.selection_set,
                        path,
                        provided,
                        &mut out,
                    )?;
                }
                executable::Selection::FragmentSpread(spread) => {
                    let fragment = &self.document.fragments[&spread.fragment_name];
                    let condition = Some(fragment.type_condition().clone());
                    self.plan_fragment(
                        group,
                        graph,
                        parent,
                        condition,
                        &spread.directives,
                        &fragment.selection_set,
                        path,
                        provided,
                        &mut out,
                    )?;
                }
            }
        }
        Ok(out)
    }

    /// The subgraph defining `interface` with a resolvable key, when `graph` models it as an
    /// object.
    fn interface_home(&self, interface: &Name, graph: GraphId) -> Option<GraphId> {
        if !self.is_abstract(interface)
            || !self
                .supergraph
                .keys(interface, graph)
                .any(|k| k.interface_object)
        {
            return None;
        }
        (0..self.supergraph.graphs.len()).find(|&g| {
            g != graph
                && self
                    .supergraph
                    .keys(interface, g)
                    .any(|k| k.resolvable && !k.interface_object)
        })
    }

    /// Sends `__typename` and fragments on implementations to the interface's home subgraph.
    /// Returns whether `selection` was placed there.
    #[allow(clippy::too_many_arguments)]
    fn plan_in_interface_home(
        &mut self,
        group: GroupId,
        graph: GraphId,
        home: GraphId,
        interface: &Name,
        selection: &executable::Selection,
        path: &Path,
        provided: Option<&SelectionSet>,
        out: &mut Selections,
    ) -> Result<bool, PlanError> {
        let concrete = |condition: Option<&Name>| {
            condition.is_some_and(|c| c != interface && !self.is_abstract(c))
        };
        let (condition, directives, set) = match selection {
            executable::Selection::Field(f) if f.name == "__typename" => {
                (None, &f.directives, None)
            }
            executable::Selection::InlineFragment(f) if concrete(f.type_condition.as_ref()) => (
                f.type_condition.clone(),
                &f.directives,
                Some(&f.selection_set),
            ),
            executable::Selection::FragmentSpread(s)
                if concrete(Some(
                    self.document.fragments[&s.fragment_name].type_condition(),
                )) =>
            {
                let fragment = &self.document.fragments[&s.fragment_name];
                (
                    Some(fragment.type_condition().clone()),
                    &s.directives,
                    Some(&fragment.selection_set),
                )
            }
            _ => return Ok(false),
        };
        let key = self.key_for(interface, home, graph, provided)?;
        out.add(Selection::typename());
        out.merge(key.clone());
        let child = self.entity_group(path, home, interface, None, group);
        let mut representation = Selections::default();
        representation.add(Selection::typename());
        representation.merge(key);
        let mut placed = Selections::default();
        placed.add(Selection::typename());
        if let Some(set) = set {
            self.plan_fragment(
                child,
                home,
                interface,
                condition,
                directives,
                set,
                path,
                None,
                &mut placed,
            )?;
        }
        let target = &mut self.groups[child];
        target.selections.merge(placed);
        if let Some((_, existing)) = &mut target.entity {
            existing.merge(representation);
        }
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_fragment(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        condition: Option<Name>,
        directives: &ast::DirectiveList,
        set: &SelectionSet,
        path: &Path,
        provided: Option<&SelectionSet>,
        out: &mut Selections,
    ) -> Result<(), PlanError> {
        let ty = condition.clone().unwrap_or_else(|| parent.clone());
        let graphs = self.supergraph.type_graphs(&ty);
        let never_here = !graphs.is_empty() && !graphs.contains(&graph);
        // In this subgraph the object may not belong to the union or implement the interface,
        // or not in another subgraph that could resolve this path as well.
        let not_a_member = self.is_abstract(parent)
            && !self.is_abstract(&ty)
            && (!self.supergraph.is_member_in(parent, &ty, graph)
                || !self.member_of_every_candidate(&ty, graph));
        // Where the subgraph types a field as one object type, fragments on others never apply.
        let other_object = !self.is_abstract(parent)
            && ty != *parent
            && !self.supergraph.schema.is_subtype(&ty, parent);
        if (never_here && !self.is_abstract(&ty)) || not_a_member || other_object {
            return Ok(()); // objects of this type never come from this subgraph here
        }
        // An abstract type some of whose objects do not belong to it in this subgraph (or that
        // this subgraph lacks altogether): the subgraph would skip the fragment for those, so it
        // is asked type by type.
        if let Some(objects) = self.split_by_implementation(parent, &ty, graph) {
            for object in objects {
                let condition = Some(object);
                self.plan_fragment(
                    group, graph, parent, condition, directives, set, path, provided, out,
                )?;
            }
            return Ok(());
        }
        if never_here {
            return Ok(()); // none of its objects is defined in this subgraph
        }
        let pushed = self.push_conditions(directives);
        let inner = self.plan_set(group, graph, &ty, set, path, provided);
        self.conditions.truncate(self.conditions.len() - pushed);
        let inner = inner?;
        if inner.is_empty() {
            return Ok(());
        }
        // A fragment on the parent's own type adds nothing but its directives.
        let type_condition = condition.filter(|c| c != parent);
        if type_condition.is_none() && directives.is_empty() {
            out.merge(inner);
        } else {
            out.add(Selection::InlineFragment {
                type_condition,
                directives: directives.clone(),
                selections: inner,
            });
        }
        Ok(())
    }

    /// Whether an implementation of `parent` that `graph` may return resolves `field` only
    /// in another subgraph.
    fn resolved_elsewhere(&self, parent: &Name, field: &executable::Field, graph: GraphId) -> bool {
        self.possible_types(parent, Some(graph))
            .iter()
            .any(|object| {
                !self
                    .supergraph
                    .field_sources(object, &field.name)
                    .iter()
                    .any(|s| s.graph == graph && !s.external && s.requires.is_none())
            })
    }

    /// `field` of the abstract `parent`, planned for each object type `graph` may return, in
    /// fragments on those types.
    #[allow(clippy::too_many_arguments)]
    fn plan_per_type(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
        provided: Option<&SelectionSet>,
        out: &mut Selections,
    ) -> Result<(), PlanError> {
        for object in self.possible_types(parent, Some(graph)) {
            let mut inner = Selections::default();
            self.plan_field(group, graph, &object, field, path, provided, &mut inner)?;
            if !inner.is_empty() {
                out.add(Selection::InlineFragment {
                    type_condition: Some(object),
                    directives: ast::DirectiveList::new(),
                    selections: inner,
                });
            }
        }
        Ok(())
    }

    /// The object types to ask for one by one instead of a fragment on the abstract type `ty`
    /// (under `parent`), when `graph` defines some of them without their belonging to `ty` there.
    fn split_by_implementation(
        &self,
        parent: &Name,
        ty: &Name,
        graph: GraphId,
    ) -> Option<Vec<Name>> {
        if ty == parent || !self.is_abstract(ty) {
            return None;
        }
        let schema = &self.supergraph.schema;
        let defined_here = |t: &Name| {
            let graphs = self.supergraph.type_graphs(t);
            graphs.is_empty() || graphs.contains(&graph)
        };
        let objects: Vec<Name> = self
            .possible_types(ty, None)
            .into_iter()
            .filter(|t| defined_here(t) && (t == parent || schema.is_subtype(parent, t)))
            .collect();
        objects
            .iter()
            .any(|t| !self.supergraph.is_member_in(ty, t, graph))
            .then_some(objects)
    }

    /// Places `field` of `parent`: in `out` when `graph` resolves it here, else in an entity group;
    /// the fetches it leads to run under its `@skip`/`@include` conditions.
    #[allow(clippy::too_many_arguments)]
    fn plan_field(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
        provided: Option<&SelectionSet>,
        out: &mut Selections,
    ) -> Result<(), PlanError> {
        let pushed = self.push_conditions(&field.directives);
        let placed = self.place_field(group, graph, parent, field, path, provided, out);
        self.conditions.truncate(self.conditions.len() - pushed);
        placed
    }

    /// Adds the `@skip`/`@include` conditions on variables of `directives` not already in force;
    /// returns how many it added.
    fn push_conditions(&mut self, directives: &ast::DirectiveList) -> usize {
        let before = self.conditions.len();
        for (name, runs_when) in [("include", true), ("skip", false)] {
            let variable = directives
                .get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .and_then(|v| v.as_variable().cloned());
            if let Some(variable) = variable
                && !self.conditions.contains(&(variable.clone(), runs_when))
            {
                self.conditions.push((variable, runs_when));
            }
        }
        self.conditions.len() - before
    }

    #[allow(clippy::too_many_arguments)]
    fn place_field(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
        provided: Option<&SelectionSet>,
        out: &mut Selections,
    ) -> Result<(), PlanError> {
        if field.name == "__typename" {
            out.add(Selection::Field {
                alias: field.alias.clone(),
                name: field.name.clone(),
                arguments: Vec::new(),
                directives: field.directives.clone(),
                selections: None,
            });
            return Ok(());
        }
        let sources = self.supergraph.field_sources(parent, &field.name);
        // A field no subgraph defines on this object: it comes from an interface of it that a
        // subgraph models as an object (`@interfaceObject`), through that interface's key.
        if sources.is_empty()
            && let Some(interface) = self.interface_object_with(parent, &field.name)
        {
            return self.place_field(group, graph, &interface, field, path, provided, out);
        }
        let provided_here = self.provided_field(provided, parent, &field.name);
        let local = sources.iter().find(|s| {
            s.graph == graph && s.requires.is_none() && (!s.external || provided_here.is_some())
        });
        // An interface field that some implementations resolve elsewhere (`@override` on the
        // object's field): each type is asked where it resolves.
        // (Not when a `@provides` on the interface's field covers every implementation.)
        if local.is_some()
            && provided_here.is_none()
            && self.is_abstract(parent)
            && self.resolved_elsewhere(parent, field, graph)
        {
            return self.plan_per_type(group, graph, parent, field, path, provided, out);
        }
        if let Some(source) = local {
            let nested = source.provides.as_ref().or(provided_here);
            let here = source.type_here.as_ref();
            // Another subgraph serving this field too (a shareable field) may reach what this
            // one cannot below it (an entity whose key it lacks): then the field is fetched
            // there. Needless when this subgraph resolves the whole selection below itself.
            let elsewhere = |s: &&FieldSource| s.graph != graph && !s.external;
            let ty = here.unwrap_or(field.definition.ty.inner_named_type());
            let fallback = !field.selection_set.selections.is_empty()
                && sources.iter().any(|s| elsewhere(&s))
                && !self.resolvable_here(ty, &field.selection_set, graph, nested);
            let before = fallback.then(|| self.snapshot());
            let error = match self.local_field(group, graph, parent, field, path, nested, here) {
                Ok(selection) => {
                    out.add(selection);
                    return Ok(());
                }
                Err(error) => error,
            };
            let Some(before) = before.filter(|_| self.may_retry()) else {
                return Err(error);
            };
            self.restore(&before);
            let others: Vec<FieldSource> = sources.iter().filter(elsewhere).cloned().collect();
            return self
                .jump(group, graph, parent, field, path, provided, &others, out)
                .map_err(|_| error);
        }
        // A field of an interface or union this subgraph cannot resolve, and that no subgraph
        // serves through keys on the interface itself (`@interfaceObject`, entity interfaces):
        // resolve it for each concrete type the subgraph may return, each with its own keys.
        let interface_keys = sources
            .iter()
            .any(|s| !s.external && self.supergraph.keys(parent, s.graph).any(|k| k.resolvable));
        if self.is_abstract(parent) && !interface_keys {
            // No type of this subgraph can carry the field there: no plan can fetch it.
            if self.possible_types(parent, Some(graph)).is_empty() {
                let (parent, name) = (parent.to_string(), field.name.to_string());
                return Err(PlanError::Unresolvable(parent, name));
            }
            return self.plan_per_type(group, graph, parent, field, path, provided, out);
        }
        self.jump(group, graph, parent, field, path, provided, &sources, out)
    }

    /// Places `field` of `parent` in an entity fetch of one of `sources` (see
    /// [`Builder::pick_source`]), reached from `group` by a key, or asked again from a root or
    /// an ancestor when the target has no key for `parent`.
    #[allow(clippy::too_many_arguments)]
    fn jump(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
        provided: Option<&SelectionSet>,
        sources: &[FieldSource],
        out: &mut Selections,
    ) -> Result<(), PlanError> {
        let first = self
            .pick_source(sources, path, parent, field)
            .ok_or_else(|| PlanError::Unresolvable(parent.to_string(), field.name.to_string()))?;
        let others: Vec<&FieldSource> = sources
            .iter()
            .filter(|s| !s.external && !std::ptr::eq(*s, first))
            .collect();
        let before = (!others.is_empty()).then(|| self.snapshot());
        let mut planned = Selections::default();
        let mut outcome = self.jump_to(
            group,
            graph,
            first,
            parent,
            field,
            path,
            provided,
            &mut planned,
        );
        // The first choice may fail further down (a key its subgraph cannot supply there): the
        // others are tried in turn, within the plan's retry budget.
        if let Some(before) = &before {
            for target in others {
                if outcome.is_ok() || !self.may_retry() {
                    break;
                }
                self.restore(before);
                planned = Selections::default();
                let retried = self.jump_to(
                    group,
                    graph,
                    target,
                    parent,
                    field,
                    path,
                    provided,
                    &mut planned,
                );
                outcome = retried.or(outcome);
            }
        }
        outcome?;
        out.merge(planned);
        Ok(())
    }

    /// Whether one more alternative may be planned after a failure; bounded so that nested
    /// alternatives cannot multiply planning time.
    fn may_retry(&mut self) -> bool {
        self.retries += 1;
        self.retries <= MAX_RETRIES
    }

    /// [`Builder::jump`] to `target`.
    #[allow(clippy::too_many_arguments)]
    fn jump_to(
        &mut self,
        group: GroupId,
        graph: GraphId,
        target: &FieldSource,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
        provided: Option<&SelectionSet>,
        out: &mut Selections,
    ) -> Result<(), PlanError> {
        if self.requery_from_root(group, target, parent, field, path)?
            || self.requery_from_ancestor(group, graph, target, parent, field, path)?
        {
            return Ok(());
        }
        // A key this subgraph can supply directly; else any key of the target, its fields fetched
        // first from wherever they resolve (like `@requires` fields).
        let mut needed: Vec<SelectionSet> = Vec::new();
        let direct = self.key_for(parent, target.graph, graph, provided);
        let is_direct = direct.is_ok();
        let key = match direct {
            Ok(key) => key,
            Err(no_key) => {
                let key = self
                    .supergraph
                    .keys(parent, target.graph)
                    .find(|k| k.resolvable)
                    .ok_or(no_key)?;
                if self.indirection >= MAX_INDIRECTION {
                    return Err(PlanError::NoKey {
                        type_name: parent.to_string(),
                        graph: self.supergraph.graphs[target.graph].name.clone(),
                    });
                }
                needed.push(key.selection_set.clone());
                self.to_selections(&key.selection_set)
            }
        };
        let place = (
            path.clone(),
            target.graph,
            parent.clone(),
            self.conditions.clone(),
        );
        let requires_key =
            self.join_requirements(place, needed.is_empty(), target.requires.as_ref());
        needed.extend(target.requires.as_ref().map(alias_arguments));
        let mut representation = Selections::default();
        representation.add(Selection::typename());
        representation.merge(key.clone());
        out.add(Selection::typename());
        if is_direct {
            out.merge(key);
        }
        let child = self.entity_group(path, target.graph, parent, requires_key, group);
        if self
            .supergraph
            .keys(parent, target.graph)
            .any(|k| k.interface_object)
        {
            self.groups[child].interface_object = true;
        }
        for set in &needed {
            let before = self.touched.len();
            self.indirection += 1;
            let required = self.plan_set(group, graph, parent, set, path, provided);
            self.indirection -= 1;
            let required = required?;
            let used: Vec<GroupId> = self.touched[before..].to_vec();
            self.add_deps(child, &used);
            representation.merge(self.to_selections(set));
            out.merge(required);
        }
        if let Some((_, existing)) = &mut self.groups[child].entity {
            existing.merge(representation);
        }
        let (provides, here) = (target.provides.as_ref(), target.type_here.as_ref());
        let selection =
            self.local_field(child, target.graph, parent, field, path, provides, here)?;
        self.groups[child].selections.add(selection);
        Ok(())
    }

    /// A type the target subgraph has no key for, reached from a root fetch through fields the
    /// target also resolves (shared root fields, value types): ask the target for the same path
    /// from its own root.
    fn requery_from_root(
        &mut self,
        group: GroupId,
        target: &FieldSource,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
    ) -> Result<bool, PlanError> {
        let graph = target.graph;
        let in_root_fetch = self.groups[group].entity.is_none();
        if !self.is_query || !in_root_fetch || self.supergraph.keys(parent, graph).next().is_some()
        {
            return Ok(false);
        }
        let root_type = Name::new_static_unchecked("Query");
        let mut parent_of = root_type.clone();
        for (returned, ancestor) in &self.ancestors {
            let resolves = self
                .supergraph
                .field_sources(&parent_of, &ancestor.name)
                .iter()
                .any(|s| s.graph == graph && !s.external);
            if !resolves {
                return Ok(false);
            }
            parent_of = returned.clone();
        }
        let root = match self
            .groups
            .iter()
            .position(|g| g.entity.is_none() && g.graph == graph)
        {
            Some(root) => root,
            None => {
                self.groups.push(Group::root(graph));
                self.extra_roots.push(self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let (provides, here) = (target.provides.as_ref(), target.type_here.as_ref());
        let selection = self.local_field(root, graph, parent, field, path, provides, here)?;
        let selection = self.under_ancestors(selection, 0);
        self.groups[root].selections.add(selection);
        Ok(true)
    }

    /// `selection` inside the fields of the ancestors from `from` down.
    fn under_ancestors(&self, mut selection: Selection, from: usize) -> Selection {
        for (_, ancestor) in self.ancestors[from..].iter().rev() {
            selection = Selection::Field {
                alias: ancestor.alias.clone(),
                name: ancestor.name.clone(),
                arguments: ancestor.arguments.clone(),
                directives: ancestor.directives.clone(),
                selections: Some(Selections(vec![selection])),
            };
        }
        selection
    }

    /// A type the target subgraph has no key for, below an entity it has a key for (within the
    /// current fetch) through fields it also resolves: fetch that entity from the target, and the
    /// path from it down to the field (a "parent entity" call). The entity's key is added to its
    /// selection here.
    #[allow(clippy::too_many_arguments)]
    fn requery_from_ancestor(
        &mut self,
        group: GroupId,
        graph: GraphId,
        target: &FieldSource,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
    ) -> Result<bool, PlanError> {
        let into = target.graph;
        if self.supergraph.keys(parent, into).any(|k| k.resolvable) || self.ancestors.is_empty() {
            return Ok(false);
        }
        let in_group = self.groups[group].path.len();
        let mut at = path.len();
        for level in (0..self.ancestors.len() - 1).rev() {
            // The objects of `level` are where the field below them was selected.
            let steps = 1 + list_depth(&self.ancestors[level + 1].1.definition.ty);
            at = match at.checked_sub(steps) {
                Some(up) if up >= in_group && self.resolves_below(level, into) => up,
                _ => return Ok(false),
            };
            let entity = self.ancestors[level].0.clone();
            // The current fetch's own entity already has its representation's fields, so the
            // new fetch runs beside it; an object inside the fetch gets the key added to its
            // selection, and the new fetch runs after it.
            let own_entity = at == in_group;
            let key = match own_entity {
                true => self.key_in_representation(group, &entity, into),
                false => self.key_for(&entity, into, graph, None).ok(),
            };
            let Some(key) = key else {
                continue;
            };
            let mut representation = Selections::default();
            representation.add(Selection::typename());
            representation.merge(key);
            let after = match own_entity {
                true => self.groups[group].deps.clone(),
                false => {
                    self.extras[level].merge(representation.clone());
                    vec![group]
                }
            };
            let first = after.first().copied().unwrap_or(group);
            let child = self.entity_group(&path[..at].to_vec(), into, &entity, None, first);
            self.add_deps(child, &after);
            if let Some((_, existing)) = &mut self.groups[child].entity {
                existing.merge(representation);
            }
            let (provides, here) = (target.provides.as_ref(), target.type_here.as_ref());
            let selection = self.local_field(child, into, parent, field, path, provides, here)?;
            let selection = self.under_ancestors(selection, level + 1);
            self.groups[child].selections.add(selection);
            return Ok(true);
        }
        Ok(false)
    }

    /// A key of `entity` in `graph` made of fields the entity group `group` (of that type)
    /// represents its objects with.
    fn key_in_representation(
        &self,
        group: GroupId,
        entity: &Name,
        graph: GraphId,
    ) -> Option<Selections> {
        let (type_name, representation) = self.groups[group].entity.as_ref()?;
        if type_name != entity {
            return None;
        }
        self.supergraph
            .keys(entity, graph)
            .filter(|k| k.resolvable)
            .map(|k| self.to_selections(&k.selection_set))
            .find(|key| key.0.iter().all(|field| representation.0.contains(field)))
    }

    /// An interface of the object `parent` whose `field` some subgraph resolves while modelling
    /// the interface as an object.
    fn interface_object_with(&self, parent: &Name, field: &Name) -> Option<Name> {
        let Some(ExtendedType::Object(object)) = self.supergraph.schema.types.get(parent) else {
            return None;
        };
        object
            .implements_interfaces
            .iter()
            .map(|i| i.name.clone())
            .find(|interface| {
                self.supergraph
                    .field_sources(interface, field)
                    .iter()
                    .any(|s| {
                        self.supergraph
                            .keys(interface, s.graph)
                            .any(|k| k.interface_object)
                    })
            })
    }

    /// Whether `graph` resolves the fields of the ancestors below `level`.
    fn resolves_below(&self, level: usize, graph: GraphId) -> bool {
        self.ancestors.windows(2).skip(level).all(|pair| {
            let ((parent, _), (_, field)) = (&pair[0], &pair[1]);
            self.supergraph
                .field_sources(parent, &field.name)
                .iter()
                .any(|s| s.graph == graph && !s.external)
        })
    }

    /// `field` (of `parent`) resolved by `graph` in `group`, its sub-selections planned from
    /// there. `here` is its type there when that differs from the supergraph's (an object where
    /// the supergraph has an abstract type).
    #[allow(clippy::too_many_arguments)]
    fn local_field(
        &mut self,
        group: GroupId,
        graph: GraphId,
        parent: &Name,
        field: &executable::Field,
        path: &Path,
        provided: Option<&SelectionSet>,
        here: Option<&Name>,
    ) -> Result<Selection, PlanError> {
        let selections = if field.selection_set.selections.is_empty() {
            None
        } else {
            let mut child_path = path.clone();
            child_path.push(PathSegment::Key(field.response_key().to_string()));
            let lists = list_depth(&field.definition.ty);
            child_path.extend((0..lists).map(|_| PathSegment::List));
            let declared = field.definition.ty.inner_named_type();
            let child_type = here.unwrap_or(declared);
            let candidates = self.candidates_for(parent, field, graph, child_type);
            self.ancestors.push((child_type.clone(), field.clone()));
            self.extras.push(Selections::default());
            self.candidates.push(candidates);
            let planned = self.plan_set(
                group,
                graph,
                child_type,
                &field.selection_set,
                &child_path,
                provided,
            );
            self.ancestors.pop();
            self.candidates.pop();
            let extras = self.extras.pop().unwrap_or_default();
            let mut planned = planned?;
            planned.merge(extras);
            // Shaping tells the members of the supergraph's abstract type by `__typename`.
            if child_type != declared && self.is_abstract(declared) {
                planned.add(Selection::typename());
            }
            Some(planned)
        };
        Ok(Selection::Field {
            alias: field.alias.clone(),
            name: field.name.clone(),
            arguments: field.arguments.clone(),
            directives: field.directives.clone(),
            selections,
        })
    }

    /// The subgraphs that could resolve the client's path down to `field` of `parent`, each with
    /// the field's named type there (`here` for `graph`, which resolves it now): of those that
    /// resolve the field, the ones that could resolve the parent's position, and, the parent
    /// being an entity, any that can fetch it by a key (an entity hop reaches them from
    /// wherever the parent came from). A field `graph` has only through a `@provides` is that
    /// subgraph's own answer, which no other subgraph stands in for: `graph` alone.
    fn candidates_for(
        &self,
        parent: &Name,
        field: &executable::Field,
        graph: GraphId,
        here: &Name,
    ) -> Vec<(GraphId, Name)> {
        let sources = self.supergraph.field_sources(parent, &field.name);
        if !sources.iter().any(|s| s.graph == graph && !s.external) {
            return vec![(graph, here.clone())];
        }
        let above = self.candidates.last();
        let declared = field.definition.ty.inner_named_type();
        sources
            .into_iter()
            .filter(|s| !s.external)
            .filter(|s| {
                s.graph == graph
                    || above.is_none_or(|above| above.iter().any(|(g, _)| *g == s.graph))
                    || self.supergraph.keys(parent, s.graph).any(|k| k.resolvable)
            })
            .map(|s| (s.graph, s.type_here.unwrap_or_else(|| declared.clone())))
            .collect()
    }

    /// Whether every subgraph that could resolve the current position (see
    /// [`Builder::candidates_for`]) may return `object` there. When several could (shareable fields,
    /// entity keys), `graph` is only the one this plan happened to pick, so it is asked only for
    /// the members they all have: the answer must not depend on that pick. With one candidate,
    /// its own members apply (`plan_fragment` checks those). Key and `@requires` fields are
    /// fetched whole: the subgraph needing them gets what it asked for.
    fn member_of_every_candidate(&self, object: &Name, graph: GraphId) -> bool {
        let Some(candidates) = self.candidates.last() else {
            return true;
        };
        if self.indirection > 0
            || candidates.len() < 2
            || !candidates.iter().any(|(g, _)| *g == graph)
        {
            return true;
        }
        candidates.iter().all(|(g, ty)| match self.is_abstract(ty) {
            // A subgraph typing the field as one object (`@join__field(type:)`) returns only it.
            false => ty == object,
            // A subgraph modelling an interface as an object (`@interfaceObject`) knows none of
            // its implementations: the interface's home tells them apart, not it.
            true => {
                self.supergraph.keys(ty, *g).any(|k| k.interface_object)
                    || self.supergraph.is_member_in(ty, object, *g)
            }
        })
    }

    /// Which subgraph to jump to for a field the current one lacks: one already fetching at
    /// this path if possible, so fields share fetches; else one that resolves the field's whole
    /// selection itself, so no further jump (and no key it may lack) is needed below.
    fn pick_source<'s>(
        &self,
        sources: &'s [FieldSource],
        path: &Path,
        parent: &Name,
        field: &executable::Field,
    ) -> Option<&'s FieldSource> {
        let usable = || sources.iter().filter(|s| !s.external);
        usable()
            .find(|s| {
                let place = (
                    path.clone(),
                    s.graph,
                    parent.clone(),
                    self.conditions.clone(),
                );
                // A slot not taken yet has no group in the index.
                let slot = self.requirements_slot(&place, true, s.requires.as_ref());
                let (path, graph, parent, conditions) = place;
                let key = (path, graph, parent, slot.map(|(slot, _)| slot), conditions);
                self.index.contains_key(&key)
            })
            .or_else(|| {
                let ty = field.definition.ty.inner_named_type();
                let set = &field.selection_set;
                usable().find(|s| {
                    let (ty, provides) = (s.type_here.as_ref().unwrap_or(ty), s.provides.as_ref());
                    self.resolvable_here(ty, set, s.graph, provides)
                })
            })
            .or_else(|| usable().next())
    }

    /// The fields of a key by which `target` can fetch `type_name`, all resolvable in `from`.
    fn key_for(
        &self,
        type_name: &Name,
        target: GraphId,
        from: GraphId,
        provided: Option<&SelectionSet>,
    ) -> Result<Selections, PlanError> {
        self.supergraph
            .keys(type_name, target)
            .filter(|key| key.resolvable)
            .find(|key| self.resolvable_here(type_name, &key.selection_set, from, provided))
            .map(|key| self.to_selections(&key.selection_set))
            .ok_or_else(|| PlanError::NoKey {
                type_name: type_name.to_string(),
                graph: self.supergraph.graphs[target].name.clone(),
            })
    }

    /// The sub-selection of `name` (a field of `parent`) in a `@provides` field set, if it
    /// provides it: directly, or in a fragment whose type condition `parent` satisfies (a field
    /// of an interface or union type provides its members' fields that way).
    fn provided_field<'s>(
        &self,
        provided: Option<&'s SelectionSet>,
        parent: &Name,
        name: &str,
    ) -> Option<&'s SelectionSet> {
        let applies = |condition: &Name| {
            condition == parent || self.supergraph.schema.is_subtype(condition, parent)
        };
        provided?.selections.iter().find_map(|s| match s {
            executable::Selection::Field(f) if f.name == name => Some(&f.selection_set),
            executable::Selection::InlineFragment(f)
                if f.type_condition.as_ref().is_none_or(applies) =>
            {
                self.provided_field(Some(&f.selection_set), parent, name)
            }
            _ => None,
        })
    }

    /// Whether `graph` resolves every field of `set` (nested ones too) without a jump.
    fn resolvable_here(
        &self,
        type_name: &Name,
        set: &SelectionSet,
        graph: GraphId,
        provided: Option<&SelectionSet>,
    ) -> bool {
        set.selections.iter().all(|s| match s {
            executable::Selection::Field(f) if f.name == "__typename" => true,
            executable::Selection::Field(f) => {
                let provided_here = self.provided_field(provided, type_name, &f.name);
                let local = self
                    .supergraph
                    .field_sources(type_name, &f.name)
                    .iter()
                    .any(|src| src.graph == graph && (!src.external || provided_here.is_some()));
                local
                    && (f.selection_set.selections.is_empty()
                        || self.resolvable_here(
                            f.definition.ty.inner_named_type(),
                            &f.selection_set,
                            graph,
                            provided_here,
                        ))
            }
            _ => false,
        })
    }

    /// Which requirements group at `place` an entity fetch joins: `None` when its
    /// representations need nothing fetched first (a key the current subgraph supplies, no
    /// `@requires`); else the first group whose requirements agree with these on every
    /// field's arguments, so requirements share a fetch unless they would clash in one
    /// representation (a slot past the last when none does). Also returns those requirements.
    fn requirements_slot(
        &self,
        place: &Place,
        direct: bool,
        required: Option<&SelectionSet>,
    ) -> Option<(usize, Signature)> {
        let mut wanted = Signature::new();
        match required {
            Some(set) => signature(set, "", &mut wanted),
            None if direct => return None,
            None => {} // only the key's fields, fetched first: no arguments to clash
        }
        let groups = self.requirements.get(place).map_or(&[][..], Vec::as_slice);
        let slot = groups.iter().position(|have| agree(have, &wanted));
        Some((slot.unwrap_or(groups.len()), wanted))
    }

    /// [`Builder::requirements_slot`], recording the requirements in the group it names.
    fn join_requirements(
        &mut self,
        place: Place,
        direct: bool,
        required: Option<&SelectionSet>,
    ) -> Option<usize> {
        let (slot, wanted) = self.requirements_slot(&place, direct, required)?;
        let groups = self.requirements.entry(place).or_default();
        match groups.get_mut(slot) {
            Some(have) => have.extend(wanted),
            None => groups.push(wanted),
        }
        Some(slot)
    }

    fn entity_group(
        &mut self,
        path: &Path,
        graph: GraphId,
        type_name: &Name,
        requires: Option<usize>,
        after: GroupId,
    ) -> GroupId {
        let conditions = self.conditions.clone();
        let key = (path.clone(), graph, type_name.clone(), requires, conditions);
        let id = match self.index.get(&key) {
            Some(&id) => id,
            None => {
                self.groups.push(Group {
                    entity: Some((type_name.clone(), Selections::default())),
                    path: path.clone(),
                    conditions: self.conditions.clone(),
                    ..Group::root(graph)
                });
                let id = self.groups.len() - 1;
                self.index.insert(key, id);
                id
            }
        };
        self.add_deps(id, &[after]);
        self.touched.push(id);
        id
    }

    /// Makes `group` wait for `deps` (itself and those it waits for already left out).
    fn add_deps(&mut self, group: GroupId, deps: &[GroupId]) {
        for &dep in deps {
            if dep != group && !self.groups[group].deps.contains(&dep) {
                self.groups[group].deps.push(dep);
            }
        }
    }

    /// Object types of `abstract_type` that `graph` defines (so may return).
    fn possible_types(&self, abstract_type: &Name, graph: Option<GraphId>) -> Vec<Name> {
        self.supergraph
            .schema
            .types
            .iter()
            .filter(|(name, ty)| {
                matches!(ty, ExtendedType::Object(_))
                    && self.supergraph.schema.is_subtype(abstract_type, name)
            })
            .filter(|(name, _)| {
                let Some(graph) = graph else { return true };
                let graphs = self.supergraph.type_graphs(name);
                (graphs.is_empty() || graphs.contains(&graph))
                    && self.supergraph.is_member_in(abstract_type, name, graph)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A key or requires field set as selections of a representation: arguments left out,
    /// aliases kept (see [`alias_arguments`]), and a fragment on an interface or union made one
    /// per object type, since representations tell types apart by their concrete `__typename`.
    fn to_selections(&self, set: &SelectionSet) -> Selections {
        let mut out = Selections::default();
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(f) => out.add(Selection::Field {
                    alias: f.alias.clone(),
                    name: f.name.clone(),
                    arguments: Vec::new(),
                    directives: ast::DirectiveList::new(),
                    selections: (!f.selection_set.selections.is_empty())
                        .then(|| self.to_selections(&f.selection_set)),
                }),
                executable::Selection::InlineFragment(f) => {
                    let inner = self.to_selections(&f.selection_set);
                    let conditions = match &f.type_condition {
                        Some(t) if self.is_abstract(t) => self.possible_types(t, None),
                        Some(t) => vec![t.clone()],
                        None => {
                            out.merge(inner);
                            continue;
                        }
                    };
                    for condition in conditions {
                        out.add(Selection::InlineFragment {
                            type_condition: Some(condition),
                            directives: ast::DirectiveList::new(),
                            selections: inner.clone(),
                        });
                    }
                }
                executable::Selection::FragmentSpread(_) => {}
            }
        }
        out
    }

    fn is_abstract(&self, type_name: &str) -> bool {
        matches!(
            self.supergraph.schema.types.get(type_name),
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_))
        )
    }

    /// A plain entity group and a `@requires` group at the same place and subgraph become one
    /// fetch (the later one) when nothing waits for the plain one: one request fewer.
    fn fold_into_requires_groups(&mut self) {
        let pairs: Vec<(GroupId, GroupId)> = self
            .index
            .iter()
            .filter(|(key, _)| key.3.is_none())
            .filter_map(|((path, graph, ty, _, conditions), &plain)| {
                // The first such group, so plans do not depend on the map's order.
                let with_requires = self
                    .index
                    .iter()
                    .filter(|(k, _)| {
                        k.3.is_some() && (&k.0, k.1, &k.2, &k.4) == (path, *graph, ty, conditions)
                    })
                    .map(|(_, &id)| id)
                    .min()?;
                let waited_on = self.groups.iter().any(|g| g.deps.contains(&plain));
                (!waited_on).then_some((plain, with_requires))
            })
            .collect();
        for (plain, with_requires) in pairs {
            let selections = std::mem::take(&mut self.groups[plain].selections);
            let representation = self.groups[plain]
                .entity
                .as_ref()
                .map(|e| e.1.clone())
                .unwrap_or_default();
            let target = &mut self.groups[with_requires];
            target.selections.merge(selections);
            if let Some((_, existing)) = &mut target.entity {
                existing.merge(representation);
            }
            self.groups[plain].folded = true;
        }
    }

    /// Orders groups into a tree: each group runs after the last of its dependencies, with its
    /// own dependents after it; independent groups run in parallel.
    fn into_node(self, roots: &[GroupId], operation: &Operation) -> Option<PlanNode> {
        let levels = self.levels();
        let mut children: Vec<Vec<GroupId>> = vec![Vec::new(); self.groups.len()];
        for (id, group) in self.groups.iter().enumerate().filter(|(_, g)| !g.folded) {
            if let Some(&parent) = group.deps.iter().max_by_key(|&&d| (levels[d], d)) {
                children[parent].push(id);
            }
        }
        if self.is_query
            && let Some(staged) = self.staged(&levels, roots, &children, operation)
        {
            return Some(staged);
        }
        let nodes: Vec<PlanNode> = roots
            .iter()
            .map(|&r| self.subtree(r, &children, operation))
            .collect();
        match operation.operation_type {
            OperationType::Mutation => wrap(nodes, |nodes| PlanNode::Sequence { nodes }),
            _ => wrap(nodes, |nodes| PlanNode::Parallel { nodes }),
        }
    }

    /// How many groups must run before each one. Dependencies always point to earlier groups or
    /// to groups at the same path planned later; iterate to a fixed point.
    fn levels(&self) -> Vec<usize> {
        let mut levels = vec![0usize; self.groups.len()];
        for _ in 0..self.groups.len() {
            let mut changed = false;
            for (id, group) in self.groups.iter().enumerate() {
                let level = group.deps.iter().map(|&d| levels[d] + 1).max().unwrap_or(0);
                if level > levels[id] {
                    levels[id] = level;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        levels
    }

    /// When entity fetches to one subgraph could run at the same time, the plan runs in stages
    /// (the groups of one level in parallel, levels in sequence) and each such set goes out as
    /// one request. Every fetch costs a round trip and a subgraph query, so fewer, larger
    /// fetches beat a deeper pipeline. `None` when nothing would be batched.
    fn staged(
        &self,
        levels: &[usize],
        roots: &[GroupId],
        children: &[Vec<GroupId>],
        operation: &Operation,
    ) -> Option<PlanNode> {
        let mut live: Vec<GroupId> = roots.to_vec();
        let mut next = 0;
        while let Some(&id) = live.get(next) {
            live.extend(&children[id]);
            next += 1;
        }
        live.sort_by_key(|&id| (levels[id], id));
        let mut stages: Vec<Vec<Vec<GroupId>>> = Vec::new();
        for id in live {
            let level = levels[id];
            stages.resize_with(stages.len().max(level + 1), Vec::new);
            let batch = stages[level]
                .iter_mut()
                .find(|batch| self.can_batch(batch, id));
            match batch {
                Some(batch) => batch.push(id),
                None => stages[level].push(vec![id]),
            }
        }
        if stages.iter().flatten().all(|batch| batch.len() == 1) {
            return None;
        }
        let nodes = stages
            .into_iter()
            .filter_map(|stage| {
                let nodes = stage
                    .iter()
                    .map(|b| self.batch_node(b, operation))
                    .collect();
                wrap(nodes, |nodes| PlanNode::Parallel { nodes })
            })
            .collect();
        wrap(nodes, |nodes| PlanNode::Sequence { nodes })
    }

    /// Entity groups of one subgraph share a request unless two ask different things of the
    /// same type (their selections could clash in one `_entities` selection).
    fn can_batch(&self, batch: &[GroupId], id: GroupId) -> bool {
        let group = &self.groups[id];
        let Some((type_name, _)) = &group.entity else {
            return false;
        };
        batch.iter().all(|&other| {
            let other = &self.groups[other];
            match &other.entity {
                Some((other_type, _)) => {
                    other.graph == group.graph
                        && other.conditions == group.conditions
                        && (other_type != type_name || other.selections == group.selections)
                }
                None => false,
            }
        })
    }

    fn batch_node(&self, batch: &[GroupId], operation: &Operation) -> PlanNode {
        let [id] = batch else {
            let mut fetch = self.fetch(batch, operation);
            let inputs = batch
                .iter()
                .map(|&id| EntityInput {
                    path: self.groups[id].path.clone(),
                    requires: self.requires(id).expect("batches hold entity groups"),
                })
                .collect();
            fetch.requires = None;
            let node = PlanNode::Batch {
                inputs,
                node: Box::new(PlanNode::Fetch(fetch)),
            };
            return self.conditioned(batch[0], node);
        };
        self.fetch_node(*id, operation)
    }

    fn subtree(&self, id: GroupId, children: &[Vec<GroupId>], operation: &Operation) -> PlanNode {
        let fetch = self.fetch_node(id, operation);
        let kids: Vec<PlanNode> = children[id]
            .iter()
            .map(|&c| self.subtree(c, children, operation))
            .collect();
        match wrap(kids, |nodes| PlanNode::Parallel { nodes }) {
            None => fetch,
            Some(after) => PlanNode::Sequence {
                nodes: vec![fetch, after],
            },
        }
    }

    fn fetch_node(&self, id: GroupId, operation: &Operation) -> PlanNode {
        let node = PlanNode::Fetch(self.fetch(&[id], operation));
        let group = &self.groups[id];
        if group.entity.is_some() {
            let node = PlanNode::Flatten {
                path: group.path.clone(),
                node: Box::new(node),
            };
            self.conditioned(id, node)
        } else {
            node
        }
    }

    /// `node` inside a `Condition` per condition of group `id`, the outermost condition outside.
    fn conditioned(&self, id: GroupId, node: PlanNode) -> PlanNode {
        self.groups[id]
            .conditions
            .iter()
            .rev()
            .fold(node, |node, (variable, runs_when)| {
                let node = Some(Box::new(node));
                let (if_clause, else_clause) = match runs_when {
                    true => (node, None),
                    false => (None, node),
                };
                PlanNode::Condition {
                    condition: variable.to_string(),
                    if_clause,
                    else_clause,
                }
            })
    }

    /// How to represent the objects of an entity group.
    fn requires(&self, id: GroupId) -> Option<Requires> {
        let group = &self.groups[id];
        let (type_name, representation) = group.entity.as_ref()?;
        let accepts = match group.interface_object {
            true => self
                .possible_types(type_name, None)
                .iter()
                .map(|t| t.to_string())
                .collect(),
            false => Vec::new(),
        };
        Some(Requires {
            type_name: type_name.to_string(),
            accepts,
            selections: representation.clone(),
        })
    }

    /// The fetch of one group, or of several entity groups of one subgraph sharing one request.
    fn fetch(&self, ids: &[GroupId], operation: &Operation) -> FetchNode {
        let group = &self.groups[ids[0]];
        let mut variables = Vec::new();
        ids.iter()
            .for_each(|&id| self.groups[id].selections.variables(&mut variables));
        if ids.len() > 1 {
            variables.sort();
            variables.dedup();
        }
        let definitions: Vec<String> = variables
            .iter()
            .filter_map(|name| operation.variables.iter().find(|v| v.name == *name))
            .map(|v| v.to_string())
            .collect();
        let mut text = String::new();
        let answered_at = match group.entity {
            None => Vec::new(),
            Some(_) => vec![PathSegment::Key("_entities".into()), PathSegment::List],
        };
        let mut separator = Separator::new(self.supergraph, group.graph, answered_at);
        match &group.entity {
            None => {
                text.push_str(match operation.operation_type {
                    OperationType::Mutation => "mutation",
                    OperationType::Subscription => "subscription",
                    OperationType::Query => "query",
                });
                if !definitions.is_empty() {
                    text.push('(');
                    text.push_str(&definitions.join(", "));
                    text.push(')');
                }
                text.push(' ');
                let root = operation.selection_set.ty.clone();
                let mut selections = group.selections.clone();
                separator.visit(&root, &mut selections);
                selections.write(&mut text);
            }
            Some(_) => {
                text.push_str("query($representations: [_Any!]!");
                for definition in &definitions {
                    text.push_str(", ");
                    text.push_str(definition);
                }
                text.push_str(") { _entities(representations: $representations) {");
                let mut written: Vec<(&Name, &Selections)> = Vec::new();
                for &id in ids {
                    let group = &self.groups[id];
                    let type_name = &group.entity.as_ref().expect("an entity group").0;
                    // Batched groups asking the same of one type share a fragment.
                    if written.contains(&(type_name, &group.selections)) {
                        continue;
                    }
                    written.push((type_name, &group.selections));
                    text.push_str(" ... on ");
                    text.push_str(type_name);
                    text.push(' ');
                    let mut selections = group.selections.clone();
                    separator.visit(type_name, &mut selections);
                    selections.write(&mut text);
                }
                text.push_str(" } }");
            }
        }
        FetchNode {
            service_name: self.supergraph.graphs[group.graph].name.clone(),
            graph: group.graph,
            operation: text,
            variable_usages: variables.iter().map(|v| v.to_string()).collect(),
            requires: self.requires(ids[0]),
            renames: separator.renames(),
        }
    }
}

fn wrap(
    mut nodes: Vec<PlanNode>,
    many: impl FnOnce(Vec<PlanNode>) -> PlanNode,
) -> Option<PlanNode> {
    match nodes.len() {
        0 => None,
        1 => nodes.pop(),
        _ => Some(many(nodes)),
    }
}

/// Root fields with fragments on the root type expanded (their directives kept on each field).
fn flatten_root(document: &ExecutableDocument, set: &SelectionSet) -> Vec<executable::Field> {
    let mut fields = Vec::new();
    for selection in &set.selections {
        let (directives, inner) = match selection {
            executable::Selection::Field(field) => {
                fields.push(field.as_ref().clone());
                continue;
            }
            executable::Selection::InlineFragment(f) => (&f.directives, &f.selection_set),
            executable::Selection::FragmentSpread(s) => (
                &s.directives,
                &document.fragments[&s.fragment_name].selection_set,
            ),
        };
        for mut field in flatten_root(document, inner) {
            field.directives.extend(directives.iter().cloned());
            fields.push(field);
        }
    }
    fields
}

/// A `@requires` field set whose fields with arguments get an alias made from the arguments:
/// in the fetch that gets them they cannot clash with the client's own selection of the field
/// (or another requirement's) with other arguments, and representations read them back by it.
fn alias_arguments(set: &SelectionSet) -> SelectionSet {
    let mut set = set.clone();
    for selection in &mut set.selections {
        match selection {
            executable::Selection::Field(field) => {
                let field = field.make_mut();
                if !field.arguments.is_empty() {
                    let mut text = String::new();
                    for argument in &field.arguments {
                        let _ = write!(text, "{}:{}", argument.name, argument.value);
                    }
                    let alias = format!("{}__args_{}", field.name, fnv(&text));
                    field.alias = Some(Name::new(&alias).expect("a name and hex digits"));
                }
                field.selection_set = alias_arguments(&field.selection_set);
            }
            executable::Selection::InlineFragment(fragment) => {
                let fragment = fragment.make_mut();
                fragment.selection_set = alias_arguments(&fragment.selection_set);
            }
            executable::Selection::FragmentSpread(_) => {}
        }
    }
    set
}

/// The fields `set` requires, by path, with their arguments' text.
fn signature(set: &SelectionSet, prefix: &str, out: &mut Signature) {
    for selection in &set.selections {
        match selection {
            executable::Selection::Field(f) => {
                let path = format!("{prefix}{}", f.name);
                let arguments: Vec<String> = f
                    .arguments
                    .iter()
                    .map(|a| format!("{}:{}", a.name, a.value))
                    .collect();
                signature(&f.selection_set, &format!("{path}."), out);
                out.push((path, arguments.join(",")));
            }
            executable::Selection::InlineFragment(f) => signature(&f.selection_set, prefix, out),
            executable::Selection::FragmentSpread(_) => {}
        }
    }
}

/// Whether two requirements ask no field with different arguments.
fn agree(a: &Signature, b: &Signature) -> bool {
    a.iter()
        .all(|(path, args)| b.iter().all(|(p, other)| p != path || other == args))
}

fn list_depth(ty: &ast::Type) -> usize {
    match ty {
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => 1 + list_depth(inner),
        _ => 0,
    }
}
