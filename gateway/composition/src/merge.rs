//! Merging: every type of every subgraph into one supergraph type, with the `@join__*`
//! metadata that says which subgraph owns what, and the federation rules checked on the way.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use apollo_compiler::ast::{self, FieldDefinition, InputValueDefinition};
use apollo_compiler::executable::{FieldSet, Selection, SelectionSet};
use apollo_compiler::schema::{ComponentOrigin, DirectiveList, ExtendedType};
use apollo_compiler::{Name, Node};

use crate::Diagnostic;
use crate::subgraph::Subgraph;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Interface,
    Union,
    Enum,
    Input,
    Scalar,
}

impl Kind {
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Object => "type",
            Self::Interface => "interface",
            Self::Union => "union",
            Self::Enum => "enum",
            Self::Input => "input",
            Self::Scalar => "scalar",
        }
    }
}

/// A supergraph type, ready to print.
pub(crate) struct MergedType {
    pub name: String,
    pub kind: Kind,
    pub description: Option<String>,
    /// `implements` clause.
    pub implements: Vec<String>,
    /// Printed directives: `@join__type(...)`, `@join__implements(...)`, `@tag(...)`, ...
    pub directives: Vec<String>,
    /// Fields, input fields or enum values (an enum value has no type).
    pub members: Vec<Member>,
    /// Union members.
    pub union_members: Vec<String>,
}

pub(crate) struct Member {
    pub name: String,
    pub description: Option<String>,
    pub arguments: Vec<String>,
    pub ty: Option<String>,
    pub directives: Vec<String>,
}

pub(crate) struct Merged {
    pub types: Vec<MergedType>,
    pub has_mutation: bool,
    pub has_subscription: bool,
    /// Spec features the supergraph uses: `tag`, `inaccessible`, `authenticated`, ...
    pub features: BTreeSet<&'static str>,
}

/// One subgraph's definition of a type.
struct Occurrence<'a> {
    subgraph: &'a Subgraph,
    ty: &'a ExtendedType,
}

pub(crate) fn merge(subgraphs: &[Subgraph]) -> Result<Merged, Vec<Diagnostic>> {
    let mut merger = Merger {
        subgraphs,
        errors: Vec::new(),
        features: BTreeSet::new(),
        usage: enum_usage(subgraphs),
        key_fields: subgraphs.iter().map(key_fields).collect(),
    };
    let mut names: BTreeMap<String, Vec<Occurrence>> = BTreeMap::new();
    for subgraph in subgraphs {
        for (local, ty) in &subgraph.schema.types {
            if ty.is_built_in() || subgraph.is_internal_type(local) {
                continue;
            }
            let name = subgraph.supergraph_type(local).to_owned();
            names
                .entry(name)
                .or_default()
                .push(Occurrence { subgraph, ty });
        }
    }
    let mut types = Vec::new();
    for (name, occurrences) in &names {
        if let Some(merged) = merger.merge_type(name, occurrences) {
            types.push(merged);
        }
    }
    add_interface_object_fields(&mut types, &names);
    merger.check_interfaces(&types);
    if merger.errors.is_empty() {
        merger.check_satisfiability(&names);
    }
    let has_queries = subgraphs.iter().any(|s| {
        s.schema
            .schema_definition
            .query
            .as_ref()
            .and_then(|q| s.schema.types.get(&q.name))
            .is_some_and(|q| fields_of(q).keys().any(|f| !s.is_internal_type(f)))
    });
    match has_queries {
        true => {}
        false => merger.errors.push(Diagnostic {
            location: None,
            code: "NO_QUERIES",
            subgraph: None,
            message: "No queries found in any subgraph: a supergraph must have a query root type."
                .into(),
        }),
    }
    if !merger.errors.is_empty() {
        return Err(merger.errors);
    }
    Ok(Merged {
        has_mutation: types.iter().any(|t| t.name == "Mutation"),
        has_subscription: types.iter().any(|t| t.name == "Subscription"),
        types,
        features: merger.features,
    })
}

struct Merger<'a> {
    subgraphs: &'a [Subgraph],
    errors: Vec<Diagnostic>,
    features: BTreeSet<&'static str>,
    /// Enum name → (used as input, used as output).
    usage: HashMap<String, (bool, bool)>,
    /// Per subgraph (same order): `(type, field)` pairs some `@key` selects, nested ones too.
    key_fields: Vec<BTreeSet<(String, String)>>,
}

impl Merger<'_> {
    fn error(&mut self, code: &'static str, subgraph: Option<&str>, message: String) {
        self.errors.push(Diagnostic {
            code,
            subgraph: subgraph.map(str::to_owned),
            location: None,
            message,
        });
    }

    /// An error about one place of one subgraph's SDL.
    fn error_at(
        &mut self,
        code: &'static str,
        subgraph: &Subgraph,
        at: Option<apollo_compiler::parser::SourceSpan>,
        message: String,
    ) {
        let location = at.and_then(|span| {
            let start = span.line_column(&subgraph.schema.sources)?;
            Some(format!(
                "{}.graphql:{}:{}",
                subgraph.name, start.line, start.column
            ))
        });
        self.errors.push(Diagnostic {
            code,
            subgraph: Some(subgraph.name.clone()),
            location,
            message,
        });
    }

    fn merge_type(&mut self, name: &str, occurrences: &[Occurrence]) -> Option<MergedType> {
        let kinds: Vec<Kind> = occurrences.iter().map(|o| kind_of(o)).collect();
        // An object marked `@interfaceObject` stands for an interface defined elsewhere.
        let interface_object =
            |o: &Occurrence| o.ty.directives().has(o.subgraph.fed("interfaceObject"));
        let kind = if kinds.contains(&Kind::Interface)
            && occurrences
                .iter()
                .zip(&kinds)
                .all(|(o, k)| *k == Kind::Interface || interface_object(o))
        {
            Kind::Interface
        } else {
            kinds[0]
        };
        let mismatched = kinds.iter().any(|k| *k != kinds[0]) && kind != Kind::Interface;
        if mismatched {
            let described: Vec<String> = occurrences
                .iter()
                .zip(&kinds)
                .map(|(o, k)| format!("{} in subgraph \"{}\"", kind_name(*k), o.subgraph.name))
                .collect();
            self.error(
                "TYPE_KIND_MISMATCH",
                None,
                format!(
                    "Type \"{name}\" has mismatched kind: it is defined as {}",
                    described.join(" but ")
                ),
            );
            return None;
        }
        let mut merged = MergedType {
            name: name.to_owned(),
            kind,
            description: occurrences
                .iter()
                .find_map(|o| o.ty.description().map(|d| d.to_string())),
            implements: Vec::new(),
            directives: Vec::new(),
            members: Vec::new(),
            union_members: Vec::new(),
        };
        for occurrence in occurrences {
            merged.directives.extend(self.join_types(occurrence, kind));
        }
        for occurrence in occurrences {
            if let ExtendedType::Object(o) = occurrence.ty {
                for interface in &o.implements_interfaces {
                    push_unique(&mut merged.implements, interface.to_string());
                    merged.directives.push(format!(
                        "@join__implements(graph: {}, interface: \"{interface}\")",
                        occurrence.subgraph.graph_enum_value()
                    ));
                }
            }
            if let ExtendedType::Interface(i) = occurrence.ty {
                for interface in &i.implements_interfaces {
                    push_unique(&mut merged.implements, interface.to_string());
                    merged.directives.push(format!(
                        "@join__implements(graph: {}, interface: \"{interface}\")",
                        occurrence.subgraph.graph_enum_value()
                    ));
                }
            }
        }
        let type_directives: Vec<(&Subgraph, &DirectiveList)> = occurrences
            .iter()
            .map(|o| (o.subgraph, o.ty.directives()))
            .collect();
        merged.directives.extend(
            self.applied(
                type_directives
                    .iter()
                    .map(|(s, d)| (*s, d.iter().map(|c| &***c))),
            ),
        );
        match kind {
            Kind::Object | Kind::Interface => self.merge_fields(name, occurrences, &mut merged),
            Kind::Union => self.merge_union(occurrences, &mut merged),
            Kind::Enum => self.merge_enum(name, occurrences, &mut merged),
            Kind::Input => self.merge_input(name, occurrences, &mut merged),
            Kind::Scalar => {}
        }
        Some(merged)
    }

    /// `@join__type` of one subgraph's definition: one per `@key`, or one plain.
    fn join_types(&mut self, occurrence: &Occurrence, kind: Kind) -> Vec<String> {
        let subgraph = occurrence.subgraph;
        let graph = subgraph.graph_enum_value();
        let directives = occurrence.ty.directives();
        let is_extension = match occurrence.ty {
            ExtendedType::Object(o) => {
                !o.fields.is_empty()
                    && o.fields
                        .values()
                        .all(|f| matches!(f.origin, ComponentOrigin::Extension(_)))
            }
            _ => false,
        } || directives.has(subgraph.fed("extends"));
        let interface_object =
            kind == Kind::Interface && directives.has(subgraph.fed("interfaceObject"));
        let keys: Vec<_> = directives.get_all(subgraph.fed("key")).collect();
        if keys.is_empty() {
            let extra = if interface_object {
                ", isInterfaceObject: true"
            } else {
                ""
            };
            return vec![format!("@join__type(graph: {graph}{extra})")];
        }
        keys.iter()
            .map(|key| {
                let fields = key
                    .specified_argument_by_name("fields")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                self.check_key(subgraph, occurrence.ty.name(), fields, key.location());
                let mut text = format!("@join__type(graph: {graph}, key: {}", quote(fields));
                if is_extension {
                    text.push_str(", extension: true");
                }
                if key
                    .specified_argument_by_name("resolvable")
                    .and_then(|v| v.to_bool())
                    == Some(false)
                {
                    text.push_str(", resolvable: false");
                }
                if interface_object {
                    text.push_str(", isInterfaceObject: true");
                }
                text.push(')');
                text
            })
            .collect()
    }

    fn merge_fields(
        &mut self,
        type_name: &str,
        occurrences: &[Occurrence],
        merged: &mut MergedType,
    ) {
        let mut order: Vec<Name> = Vec::new();
        for occurrence in occurrences {
            for field in fields_of(occurrence.ty).keys() {
                if !order.contains(field) {
                    order.push(field.clone());
                }
            }
        }
        for field_name in order
            .into_iter()
            .filter(|f| !occurrences[0].subgraph.is_internal_type(f))
        {
            let defs: Vec<(&Subgraph, &FieldDefinition, &ExtendedType)> = occurrences
                .iter()
                .filter_map(|o| {
                    fields_of(o.ty)
                        .get(&field_name)
                        .map(|f| (o.subgraph, f.as_ref(), o.ty))
                })
                .collect();
            if let Some(member) = self.merge_field(type_name, &field_name, &defs, occurrences.len())
            {
                merged.members.push(member);
            }
        }
    }

    fn merge_field(
        &mut self,
        type_name: &str,
        field: &Name,
        defs: &[(&Subgraph, &FieldDefinition, &ExtendedType)],
        type_occurrences: usize,
    ) -> Option<Member> {
        let coordinate = format!("{type_name}.{field}");
        let directive =
            |s: &Subgraph, f: &FieldDefinition, spec: &str| f.directives.get(s.fed(spec)).cloned();
        // Occurrences an unlabelled `@override` moved elsewhere do not resolve the field any more.
        let mut overridden: Vec<String> = Vec::new();
        for (subgraph, def, _) in defs {
            if let Some(o) = directive(subgraph, def, "override") {
                let from = o
                    .specified_argument_by_name("from")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned();
                if from == subgraph.name {
                    self.error_at("OVERRIDE_FROM_SELF_ERROR", subgraph, o.location(), format!("Source and destination subgraphs \"{from}\" are the same for overridden field \"{coordinate}\""));
                }
                if let Some((source, source_def, _)) = defs
                    .iter()
                    .find(|(s, _, _)| s.name == from && from != subgraph.name)
                    && directive(source, source_def, "override").is_some()
                {
                    self.error_at("OVERRIDE_SOURCE_HAS_OVERRIDE", subgraph, o.location(), format!("Field \"{coordinate}\" on subgraph \"{}\" is also marked with directive @override in subgraph \"{from}\". Only one @override directive is allowed per field.", subgraph.name));
                }
                if o.specified_argument_by_name("label").is_none() {
                    overridden.push(from);
                }
            }
        }
        let kept: Vec<&(&Subgraph, &FieldDefinition, &ExtendedType)> = defs
            .iter()
            .filter(|(s, _, _)| !overridden.contains(&s.name))
            .collect();
        let external = |s: &Subgraph, f: &FieldDefinition, t: &ExtendedType| {
            f.directives.has(s.fed("external")) || t.directives().has(s.fed("external"))
        };
        let resolving: Vec<&&(&Subgraph, &FieldDefinition, &ExtendedType)> =
            kept.iter().filter(|(s, f, t)| !external(s, f, t)).collect();
        if resolving.is_empty() && !kept.is_empty() {
            let names: Vec<String> = kept
                .iter()
                .map(|(s, _, _)| format!("\"{}\"", s.name))
                .collect();
            self.error("EXTERNAL_MISSING_ON_BASE", None, format!("Field \"{coordinate}\" is marked @external on all the subgraphs in which it is listed (subgraph {}).", names.join(", ")));
            return None;
        }
        let is_interface = matches!(defs[0].2, ExtendedType::Interface(_));
        // The source of a progressive override and its destination share the field by design.
        let sources: Vec<String> = defs
            .iter()
            .filter_map(|(s, f, _)| {
                f.directives
                    .get(s.fed("override"))?
                    .specified_argument_by_name("from")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        let overriding = |s: &Subgraph, f: &FieldDefinition| {
            sources.contains(&s.name) || f.directives.has(s.fed("override"))
        };
        let sharing: Vec<_> = resolving
            .iter()
            .filter(|(s, f, _)| !overriding(s, f))
            .collect();
        if sharing.len() > 1 && !is_interface {
            let unshareable: Vec<&str> = sharing
                .iter()
                .filter(|(s, f, t)| !self.shareable(s, f, t, field))
                .map(|(s, _, _)| s.name.as_str())
                .collect();
            if !unshareable.is_empty() {
                let all: Vec<String> = sharing
                    .iter()
                    .map(|(s, _, _)| format!("\"{}\"", s.name))
                    .collect();
                let which: Vec<String> = unshareable.iter().map(|s| format!("\"{s}\"")).collect();
                self.error("INVALID_FIELD_SHARING", None, format!("Non-shareable field \"{coordinate}\" is resolved from multiple subgraphs: it is resolved from subgraphs {} and defined as non-shareable in subgraph {}", all.join(" and "), which.join(" and ")));
            }
        }
        let resolving_types: Vec<&ast::Type> = resolving.iter().map(|(_, f, _)| &f.ty).collect();
        let ty = self.merge_output_types(
            &coordinate,
            &resolving_types,
            &resolving
                .iter()
                .map(|(s, _, _)| s.name.as_str())
                .collect::<Vec<_>>(),
        )?;
        for (subgraph, def, t) in &kept {
            if external(subgraph, def, t) && !compatible(&def.ty, &ty) {
                let at = def
                    .directives
                    .get(subgraph.fed("external"))
                    .and_then(|d| d.location());
                self.error_at("EXTERNAL_TYPE_MISMATCH", subgraph, at, format!("Type of field \"{coordinate}\" is incompatible across subgraphs (where marked @external): it has type \"{ty}\" in subgraph \"{}\" but type \"{}\" in subgraph \"{}\"", resolving[0].0.name, def.ty, subgraph.name));
            }
            self.check_field_sets(subgraph, def, t);
        }
        let arguments = self.merge_arguments(
            &coordinate,
            &resolving
                .iter()
                .map(|(s, f, _)| (*s, *f))
                .collect::<Vec<_>>(),
        );
        let types_differ = kept.iter().any(|(_, f, _)| f.ty != ty);
        let special = kept.iter().any(|(s, f, t)| {
            external(s, f, t)
                || ["requires", "provides", "override"]
                    .iter()
                    .any(|d| f.directives.has(s.fed(d)))
        });
        let mut directives = Vec::new();
        if kept.len() != type_occurrences || special || types_differ || !overridden.is_empty() {
            for (subgraph, def, t) in &kept {
                directives.push(self.join_field(
                    subgraph,
                    def,
                    external(subgraph, def, t),
                    types_differ,
                    defs,
                ));
            }
        }
        directives.extend(
            self.applied(
                kept.iter()
                    .map(|(s, f, _)| (*s, f.directives.iter().map(|d| &**d))),
            ),
        );
        Some(Member {
            name: field.to_string(),
            description: defs
                .iter()
                .find_map(|(_, f, _)| f.description.as_ref().map(|d| d.to_string())),
            arguments,
            ty: Some(ty.to_string()),
            directives,
        })
    }

    fn join_field(
        &self,
        subgraph: &Subgraph,
        def: &FieldDefinition,
        external: bool,
        with_type: bool,
        defs: &[(&Subgraph, &FieldDefinition, &ExtendedType)],
    ) -> String {
        let mut text = format!("@join__field(graph: {}", subgraph.graph_enum_value());
        for spec in ["requires", "provides"] {
            if let Some(fields) = def
                .directives
                .get(subgraph.fed(spec))
                .and_then(|d| d.specified_argument_by_name("fields"))
                .and_then(|v| v.as_str())
            {
                text.push_str(&format!(", {spec}: {}", quote(fields)));
            }
        }
        if with_type {
            text.push_str(&format!(", type: \"{}\"", def.ty));
        }
        if external {
            text.push_str(", external: true");
        }
        if let Some(o) = def.directives.get(subgraph.fed("override")) {
            if let Some(from) = o
                .specified_argument_by_name("from")
                .and_then(|v| v.as_str())
            {
                text.push_str(&format!(", override: {}", quote(from)));
            }
            if let Some(label) = o
                .specified_argument_by_name("label")
                .and_then(|v| v.as_str())
            {
                text.push_str(&format!(", overrideLabel: {}", quote(label)));
            }
        }
        // The source of a progressive override keeps serving until the label says otherwise.
        let label = defs.iter().find_map(|(s, f, _)| {
            let o = f.directives.get(s.fed("override"))?;
            (o.specified_argument_by_name("from")?.as_str()? == subgraph.name).then(|| {
                o.specified_argument_by_name("label")?
                    .as_str()
                    .map(str::to_owned)
            })?
        });
        if let Some(label) = label {
            text.push_str(&format!(", overrideLabel: {}", quote(&label)));
        }
        text.push(')');
        text
    }

    /// Fields that keys select are shareable; otherwise `@shareable` on the field or its type.
    fn shareable(
        &self,
        subgraph: &Subgraph,
        def: &FieldDefinition,
        ty: &ExtendedType,
        field: &Name,
    ) -> bool {
        let index = self
            .subgraphs
            .iter()
            .position(|s| s.name == subgraph.name)
            .unwrap_or_default();
        def.directives.has(subgraph.fed("shareable"))
            || ty.directives().has(subgraph.fed("shareable"))
            || self.key_fields[index].contains(&(ty.name().to_string(), field.to_string()))
    }

    /// Output types merge to the most general: nullable wherever one subgraph is nullable.
    fn merge_output_types(
        &mut self,
        coordinate: &str,
        types: &[&ast::Type],
        subgraphs: &[&str],
    ) -> Option<ast::Type> {
        let first = (*types.first()?).clone();
        let mut merged = first.clone();
        for (ty, subgraph) in types.iter().zip(subgraphs).skip(1) {
            match loosest(&merged, ty) {
                Some(t) => merged = t,
                None => {
                    self.error("FIELD_TYPE_MISMATCH", None, format!("Type of field \"{coordinate}\" is incompatible across subgraphs: it has type \"{first}\" in subgraph \"{}\" but type \"{ty}\" in subgraph \"{subgraph}\"", subgraphs[0]));
                    return None;
                }
            }
        }
        Some(merged)
    }

    fn merge_arguments(
        &mut self,
        coordinate: &str,
        defs: &[(&Subgraph, &FieldDefinition)],
    ) -> Vec<String> {
        let mut names: Vec<Name> = Vec::new();
        for (_, def) in defs {
            for argument in &def.arguments {
                push_unique(&mut names, argument.name.clone());
            }
        }
        let mut out = Vec::new();
        for name in names {
            let found: Vec<(&Subgraph, &Node<InputValueDefinition>)> = defs
                .iter()
                .filter_map(|(s, d)| d.argument_by_name(&name).map(|a| (*s, a)))
                .collect();
            if found.len() < defs.len() {
                if let Some((subgraph, _)) = found.iter().find(|(_, a)| a.is_required()) {
                    let missing: Vec<String> = defs
                        .iter()
                        .filter(|(_, d)| d.argument_by_name(&name).is_none())
                        .map(|(s, _)| format!("\"{}\"", s.name))
                        .collect();
                    self.error("REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH", None, format!("Argument \"{coordinate}({name}:)\" is required in some subgraphs but does not appear in all subgraphs: it is required in subgraph \"{}\" but does not appear in subgraph {}", subgraph.name, missing.join(" and ")));
                }
                continue;
            }
            out.push(self.input_value(&found));
        }
        out
    }

    /// An argument or input field: strictest type, first default, merged directives.
    fn input_value(&mut self, found: &[(&Subgraph, &Node<InputValueDefinition>)]) -> String {
        let mut ty = found[0].1.ty.as_ref().clone();
        for (_, value) in found.iter().skip(1) {
            if value.ty.is_non_null() && !ty.is_non_null() {
                ty = value.ty.as_ref().clone();
            }
        }
        let mut text = format!("{}: {ty}", found[0].1.name);
        if let Some(default) = found.iter().find_map(|(_, v)| v.default_value.as_ref()) {
            text.push_str(&format!(" = {default}"));
        }
        for directive in self.applied(
            found
                .iter()
                .map(|(s, v)| (*s, v.directives.iter().map(|d| &**d))),
        ) {
            text.push(' ');
            text.push_str(&directive);
        }
        text
    }

    fn merge_union(&mut self, occurrences: &[Occurrence], merged: &mut MergedType) {
        for occurrence in occurrences {
            if let ExtendedType::Union(u) = occurrence.ty {
                for member in &u.members {
                    push_unique(&mut merged.union_members, member.to_string());
                    merged.directives.push(format!(
                        "@join__unionMember(graph: {}, member: \"{member}\")",
                        occurrence.subgraph.graph_enum_value()
                    ));
                }
            }
        }
    }

    /// Output-only enums take every value; input-only ones the common values; enums used both
    /// ways must agree.
    fn merge_enum(&mut self, name: &str, occurrences: &[Occurrence], merged: &mut MergedType) {
        let (as_input, as_output) = self.usage.get(name).copied().unwrap_or((false, true));
        let values_of = |o: &Occurrence| match o.ty {
            ExtendedType::Enum(e) => e
                .values
                .values()
                .map(|v| v.as_ref().clone())
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let mut all: Vec<Name> = Vec::new();
        for occurrence in occurrences {
            for value in values_of(occurrence) {
                push_unique(&mut all, value.value.clone());
            }
        }
        for value in all {
            let having: Vec<(&Subgraph, ast::EnumValueDefinition)> = occurrences
                .iter()
                .filter_map(|o| {
                    values_of(o)
                        .into_iter()
                        .find(|v| v.value == value)
                        .map(|v| (o.subgraph, v))
                })
                .collect();
            let in_all = having.len() == occurrences.len();
            if !in_all && as_input && as_output {
                let missing: Vec<String> = occurrences
                    .iter()
                    .filter(|o| !having.iter().any(|(s, _)| s.name == o.subgraph.name))
                    .map(|o| format!("\"{}\"", o.subgraph.name))
                    .collect();
                let present: Vec<String> = having
                    .iter()
                    .map(|(s, _)| format!("\"{}\"", s.name))
                    .collect();
                self.error("ENUM_VALUE_MISMATCH", None, format!("Enum type \"{name}\" is used as both input type and output type, but value \"{value}\" is not defined in all the subgraphs defining \"{name}\": \"{value}\" is defined in subgraph {} but not in subgraph {}", present.join(" and "), missing.join(" and ")));
                continue;
            }
            if !in_all && as_input {
                continue;
            }
            let mut directives: Vec<String> = having
                .iter()
                .map(|(s, _)| format!("@join__enumValue(graph: {})", s.graph_enum_value()))
                .collect();
            directives.extend(
                self.applied(
                    having
                        .iter()
                        .map(|(s, v)| (*s, v.directives.iter().map(|d| &**d))),
                ),
            );
            merged.members.push(Member {
                name: value.to_string(),
                description: having
                    .iter()
                    .find_map(|(_, v)| v.description.as_ref().map(|d| d.to_string())),
                arguments: Vec::new(),
                ty: None,
                directives,
            });
        }
    }

    /// Input types keep the fields every subgraph has.
    fn merge_input(&mut self, name: &str, occurrences: &[Occurrence], merged: &mut MergedType) {
        let fields_of = |o: &Occurrence| match o.ty {
            ExtendedType::InputObject(i) => i
                .fields
                .iter()
                .map(|(n, f)| (n.clone(), f.node.clone()))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let mut order: Vec<Name> = Vec::new();
        for occurrence in occurrences {
            for (field, _) in fields_of(occurrence) {
                push_unique(&mut order, field);
            }
        }
        for field in order {
            let found: Vec<(&Subgraph, Node<InputValueDefinition>)> = occurrences
                .iter()
                .filter_map(|o| {
                    fields_of(o)
                        .into_iter()
                        .find(|(n, _)| *n == field)
                        .map(|(_, f)| (o.subgraph, f))
                })
                .collect();
            if found.len() < occurrences.len() {
                if let Some((subgraph, _)) = found.iter().find(|(_, f)| f.is_required()) {
                    self.error("REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH", Some(&subgraph.name), format!("Input object field \"{name}.{field}\" is required in some subgraphs but does not appear in all subgraphs"));
                }
                continue;
            }
            let refs: Vec<(&Subgraph, &Node<InputValueDefinition>)> =
                found.iter().map(|(s, f)| (*s, f)).collect();
            let text = self.input_value(&refs);
            let (head, ty) = text
                .split_once(": ")
                .map_or((text.clone(), String::new()), |(h, t)| {
                    (h.to_owned(), t.to_owned())
                });
            let differ = found.iter().any(|(_, f)| f.ty != found[0].1.ty);
            let directives = match differ {
                true => found
                    .iter()
                    .map(|(s, f)| {
                        format!(
                            "@join__field(graph: {}, type: \"{}\")",
                            s.graph_enum_value(),
                            f.ty
                        )
                    })
                    .collect(),
                false => Vec::new(),
            };
            merged.members.push(Member {
                name: head,
                description: found
                    .iter()
                    .find_map(|(_, f)| f.description.as_ref().map(|d| d.to_string())),
                arguments: Vec::new(),
                ty: Some(ty),
                directives,
            });
        }
        if merged.members.is_empty() {
            self.error("EMPTY_MERGED_INPUT_TYPE", None, format!("None of the fields of input object type \"{name}\" are consistently defined in all the subgraphs defining that type. As only fields common to all subgraphs are merged, this would result in an empty type."));
        }
    }

    /// `@tag`, `@inaccessible`, `@authenticated`, `@requiresScopes`, `@policy` and
    /// `@deprecated` as the supergraph carries them, merged over the subgraphs' definitions.
    fn applied<'d>(
        &mut self,
        definitions: impl Iterator<Item = (&'d Subgraph, impl Iterator<Item = &'d ast::Directive>)>,
    ) -> Vec<String> {
        let mut tags: Vec<String> = Vec::new();
        let mut flags: BTreeSet<&'static str> = BTreeSet::new();
        let mut scopes: Vec<Vec<String>> = Vec::new();
        let mut policies: Vec<Vec<String>> = Vec::new();
        let mut deprecated: Option<String> = None;
        let mut composed: Vec<String> = Vec::new();
        for (subgraph, directives) in definitions {
            for directive in directives {
                let name = directive.name.as_str();
                if name == subgraph.fed("tag") {
                    if let Some(tag) = directive
                        .specified_argument_by_name("name")
                        .and_then(|v| v.as_str())
                    {
                        push_unique(&mut tags, tag.to_owned());
                    }
                } else if name == subgraph.fed("inaccessible") {
                    flags.insert("inaccessible");
                } else if name == subgraph.fed("authenticated") {
                    flags.insert("authenticated");
                } else if name == subgraph.fed("requiresScopes") {
                    scopes = and_merge(scopes, alternatives(directive, "scopes"));
                } else if name == subgraph.fed("policy") {
                    policies = and_merge(policies, alternatives(directive, "policies"));
                } else if name == "deprecated" {
                    deprecated.get_or_insert_with(|| directive.to_string());
                } else if subgraph.composed.iter().any(|(n, _, _)| n == name) {
                    push_unique(&mut composed, directive.to_string());
                }
            }
        }
        let mut out = Vec::new();
        if let Some(d) = deprecated {
            out.push(d);
        }
        for flag in flags {
            self.features.insert(flag);
            out.push(format!("@{flag}"));
        }
        if !scopes.is_empty() {
            self.features.insert("requiresScopes");
            out.push(format!(
                "@requiresScopes(scopes: {})",
                print_alternatives(&scopes)
            ));
        }
        if !policies.is_empty() {
            self.features.insert("policy");
            out.push(format!(
                "@policy(policies: {})",
                print_alternatives(&policies)
            ));
        }
        if !tags.is_empty() {
            self.features.insert("tag");
        }
        out.extend(tags.iter().map(|t| format!("@tag(name: {})", quote(t))));
        out.extend(composed);
        out
    }

    fn check_key(
        &mut self,
        subgraph: &Subgraph,
        type_name: &Name,
        fields: &str,
        at: Option<apollo_compiler::parser::SourceSpan>,
    ) {
        if let Ok(set) = FieldSet::parse(&subgraph.schema, type_name.clone(), fields, "key.graphql")
        {
            for selection in &set.selection_set.selections {
                let Selection::Field(f) = selection else {
                    continue;
                };
                let kind = match subgraph
                    .schema
                    .types
                    .get(f.definition.ty.inner_named_type())
                {
                    Some(ExtendedType::Interface(_)) => "Interface",
                    Some(ExtendedType::Union(_)) => "Union",
                    _ => continue,
                };
                self.error_at("KEY_FIELDS_SELECT_INVALID_TYPE", subgraph, at, format!("On type \"{type_name}\", for @key(fields: {}): field \"{type_name}.{}\" is a {kind} type which is not allowed in @key", quote(fields), f.name));
                return;
            }
        }
        if let Err(e) =
            FieldSet::parse_and_validate(&subgraph.schema, type_name.clone(), fields, "key.graphql")
        {
            let message = format!(
                "On type \"{type_name}\", for @key(fields: {}): {}",
                quote(fields),
                first_line(&e.errors.to_string())
            );
            self.error_at("KEY_INVALID_FIELDS", subgraph, at, message);
        }
    }

    /// `@requires` and `@provides` must select `@external` fields that exist.
    fn check_field_sets(
        &mut self,
        subgraph: &Subgraph,
        def: &FieldDefinition,
        parent: &ExtendedType,
    ) {
        let checks = [
            (
                "requires",
                parent.name().clone(),
                "REQUIRES_INVALID_FIELDS",
                "REQUIRES_FIELDS_MISSING_EXTERNAL",
            ),
            (
                "provides",
                def.ty.inner_named_type().clone(),
                "PROVIDES_INVALID_FIELDS",
                "PROVIDES_FIELDS_MISSING_EXTERNAL",
            ),
        ];
        for (spec, on, invalid, not_external) in checks {
            let Some(directive) = def.directives.get(subgraph.fed(spec)) else {
                continue;
            };
            let Some(fields) = directive
                .specified_argument_by_name("fields")
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let at = directive.location();
            let context = format!(
                "On field \"{}.{}\", for @{spec}(fields: {})",
                parent.name(),
                def.name,
                quote(fields)
            );
            let set = match FieldSet::parse_and_validate(
                &subgraph.schema,
                on.clone(),
                fields,
                "fields.graphql",
            ) {
                Ok(set) => set,
                Err(e) => {
                    self.error_at(
                        invalid,
                        subgraph,
                        at,
                        format!("{context}: {}", first_line(&e.errors.to_string())),
                    );
                    continue;
                }
            };
            let mut local = Vec::new();
            local_leaves(subgraph, &set.selection_set, false, &mut local);
            for (on, field) in local {
                let message = format!(
                    "{context}: field \"{on}.{field}\" should not be part of a @{spec} since it is already provided by this subgraph (it is not marked @external)"
                );
                self.error_at(not_external, subgraph, at, message);
            }
        }
    }

    /// Every object implementing an interface in the supergraph has all its fields.
    fn check_interfaces(&mut self, types: &[MergedType]) {
        for object in types.iter().filter(|t| t.kind == Kind::Object) {
            for interface in &object.implements {
                let Some(interface) = types.iter().find(|t| &t.name == interface) else {
                    continue;
                };
                for field in &interface.members {
                    if !object.members.iter().any(|m| m.name == field.name) {
                        self.error("INTERFACE_FIELD_NO_IMPLEM", None, format!("Interface field \"{}.{}\" is declared in interface \"{}\" but is not implemented by type \"{}\"", interface.name, field.name, interface.name, object.name));
                    }
                }
            }
        }
    }

    /// A field is unsatisfiable when a subgraph reaches its type but neither resolves the field
    /// nor can jump, by keys it can supply (one or several jumps), to a subgraph that does.
    fn check_satisfiability(&mut self, names: &BTreeMap<String, Vec<Occurrence>>) {
        let index_of: HashMap<&str, usize> = self
            .subgraphs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut closures: HashMap<(&str, usize), Vec<usize>> = HashMap::new();
        let mut seen: std::collections::HashSet<(usize, &str)> = std::collections::HashSet::new();
        // Root fields start wherever they resolve; from there, every reachable type is checked.
        // Breadth first, so the path reported for a problem is a shortest one.
        let mut queue: std::collections::VecDeque<(usize, &str, Vec<String>)> =
            std::collections::VecDeque::new();
        for root in ["Query", "Mutation", "Subscription"] {
            for occurrence in names.get(root).into_iter().flatten() {
                let at = index_of[occurrence.subgraph.name.as_str()];
                for (field_name, field) in fields_of(occurrence.ty) {
                    let target = occurrence
                        .subgraph
                        .supergraph_type(field.ty.inner_named_type());
                    if let Some((name, _)) = names.get_key_value(target) {
                        queue.push_back((at, name.as_str(), vec![field_name.to_string()]));
                    }
                }
            }
        }
        let mut reported: BTreeSet<String> = BTreeSet::new();
        let mut unresolved: Vec<(&str, &Name, usize, Vec<String>)> = Vec::new();
        while let Some((at, type_name, path)) = queue.pop_front() {
            if !seen.insert((at, type_name)) {
                continue;
            }
            let occurrences = &names[type_name];
            let Some(here) = occurrences
                .iter()
                .position(|o| index_of[o.subgraph.name.as_str()] == at)
            else {
                continue;
            };
            if !matches!(occurrences[here].ty, ExtendedType::Object(_)) {
                continue;
            }
            let closure = closures
                .entry((type_name, here))
                .or_insert_with(|| jump_closure(here, occurrences))
                .clone();
            let mut all_fields: Vec<&Name> = Vec::new();
            for occurrence in occurrences {
                for field in fields_of(occurrence.ty).keys() {
                    push_unique(&mut all_fields, field);
                }
            }
            for field in all_fields {
                let resolver = closure.iter().copied().find(|&i| {
                    let o = &occurrences[i];
                    fields_of(o.ty)
                        .get(field)
                        .is_some_and(|f| !f.directives.has(o.subgraph.fed("external")))
                });
                match resolver {
                    Some(i) => {
                        let o = &occurrences[i];
                        let target = o
                            .subgraph
                            .supergraph_type(fields_of(o.ty)[field].ty.inner_named_type());
                        if let Some((name, _)) = names.get_key_value(target) {
                            let next = (index_of[o.subgraph.name.as_str()], name.as_str());
                            if !seen.contains(&next) {
                                let mut next_path = path.clone();
                                next_path.push(field.to_string());
                                queue.push_back((next.0, next.1, next_path));
                            }
                        }
                    }
                    None => unresolved.push((type_name, field, here, path.clone())),
                }
            }
        }
        // A shared path (shareable root fields, value types) may reach the type in a subgraph
        // that resolves the field: the planner then takes that route from the root.
        for (type_name, field, here, path) in unresolved {
            let occurrences = &names[type_name];
            let elsewhere = occurrences.iter().any(|o| {
                seen.contains(&(index_of[o.subgraph.name.as_str()], type_name))
                    && fields_of(o.ty)
                        .get(field)
                        .is_some_and(|f| !f.directives.has(o.subgraph.fed("external")))
            });
            let coordinate = format!("{type_name}.{field}");
            if elsewhere || !reported.insert(coordinate.clone()) {
                continue;
            }
            let from = &occurrences[here].subgraph.name;
            let query = path
                .iter()
                .rev()
                .fold(format!("{{ {field} }}"), |inner, step| {
                    format!("{{ {step} {inner} }}")
                });
            self.error("SATISFIABILITY_ERROR", None, format!("The supergraph API query `{query}` cannot be satisfied: from subgraph \"{from}\", no subgraph it can reach by a key it can provide resolves \"{coordinate}\"."));
        }
    }
}

fn kind_of(occurrence: &Occurrence) -> Kind {
    match occurrence.ty {
        ExtendedType::Object(_) => Kind::Object,
        ExtendedType::Interface(_) => Kind::Interface,
        ExtendedType::Union(_) => Kind::Union,
        ExtendedType::Enum(_) => Kind::Enum,
        ExtendedType::InputObject(_) => Kind::Input,
        ExtendedType::Scalar(_) => Kind::Scalar,
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Object => "an Object Type",
        Kind::Interface => "an Interface Type",
        Kind::Union => "a Union Type",
        Kind::Enum => "an Enum Type",
        Kind::Input => "an Input Object Type",
        Kind::Scalar => "a Scalar Type",
    }
}

fn fields_of(
    ty: &ExtendedType,
) -> &apollo_compiler::collections::IndexMap<
    Name,
    apollo_compiler::schema::Component<FieldDefinition>,
> {
    static EMPTY: std::sync::OnceLock<
        apollo_compiler::collections::IndexMap<
            Name,
            apollo_compiler::schema::Component<FieldDefinition>,
        >,
    > = std::sync::OnceLock::new();
    match ty {
        ExtendedType::Object(o) => &o.fields,
        ExtendedType::Interface(i) => &i.fields,
        _ => EMPTY.get_or_init(Default::default),
    }
}

/// Which enums are used as input (arguments, input fields) and as output (fields).
fn enum_usage(subgraphs: &[Subgraph]) -> HashMap<String, (bool, bool)> {
    let mut usage: HashMap<String, (bool, bool)> = HashMap::new();
    for subgraph in subgraphs {
        for ty in subgraph.schema.types.values() {
            match ty {
                ExtendedType::Object(_) | ExtendedType::Interface(_) => {
                    for field in fields_of(ty).values() {
                        usage
                            .entry(field.ty.inner_named_type().to_string())
                            .or_default()
                            .1 = true;
                        for argument in &field.arguments {
                            usage
                                .entry(argument.ty.inner_named_type().to_string())
                                .or_default()
                                .0 = true;
                        }
                    }
                }
                ExtendedType::InputObject(i) => {
                    for field in i.fields.values() {
                        usage
                            .entry(field.ty.inner_named_type().to_string())
                            .or_default()
                            .0 = true;
                    }
                }
                _ => {}
            }
        }
    }
    usage
}

/// The more general of two output types (nullable wins), or `None` when they differ in shape.
fn loosest(a: &ast::Type, b: &ast::Type) -> Option<ast::Type> {
    use ast::Type::*;
    Some(match (a, b) {
        (Named(x) | NonNullNamed(x), Named(y) | NonNullNamed(y)) if x == y => {
            if matches!((a, b), (NonNullNamed(_), NonNullNamed(_))) {
                a.clone()
            } else {
                Named(x.clone())
            }
        }
        (List(x) | NonNullList(x), List(y) | NonNullList(y)) => {
            let inner = loosest(x, y)?;
            if matches!((a, b), (NonNullList(_), NonNullList(_))) {
                NonNullList(Box::new(inner))
            } else {
                List(Box::new(inner))
            }
        }
        _ => return None,
    })
}

/// An `@external` declaration is compatible when it is as strict as, or stricter than, the field.
fn compatible(external: &ast::Type, merged: &ast::Type) -> bool {
    loosest(external, merged).is_some_and(|l| &l == merged)
}

fn alternatives(directive: &ast::Directive, argument: &str) -> Vec<Vec<String>> {
    let Some(ast::Value::List(outer)) = directive
        .specified_argument_by_name(argument)
        .map(|v| v.as_ref())
    else {
        return Vec::new();
    };
    outer
        .iter()
        .map(|inner| match inner.as_ref() {
            ast::Value::List(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Both requirements must hold: every pair of alternatives combined.
fn and_merge(current: Vec<Vec<String>>, next: Vec<Vec<String>>) -> Vec<Vec<String>> {
    if current.is_empty() {
        return next;
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    for a in &current {
        for b in &next {
            let mut combined = a.clone();
            for item in b {
                push_unique(&mut combined, item.clone());
            }
            if !out.contains(&combined) {
                out.push(combined);
            }
        }
    }
    out
}

fn print_alternatives(alternatives: &[Vec<String>]) -> String {
    let inner: Vec<String> = alternatives
        .iter()
        .map(|a| {
            format!(
                "[{}]",
                a.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    format!("[{}]", inner.join(", "))
}

pub(crate) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

fn push_unique<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

/// Indices of the occurrences an entity at `from` can reach through key jumps, one or several in
/// a row (`from` first).
fn jump_closure(from: usize, occurrences: &[Occurrence]) -> Vec<usize> {
    // Per occurrence, the top-level fields of each resolvable key.
    let keys: Vec<Vec<Vec<Name>>> = occurrences
        .iter()
        .map(|o| {
            o.ty.directives()
                .get_all(o.subgraph.fed("key"))
                .filter(|k| {
                    k.specified_argument_by_name("resolvable")
                        .and_then(|v| v.to_bool())
                        != Some(false)
                })
                .filter_map(|k| {
                    let fields = k.specified_argument_by_name("fields")?.as_str()?;
                    let set = FieldSet::parse(
                        &o.subgraph.schema,
                        o.ty.name().clone(),
                        fields,
                        "key.graphql",
                    )
                    .ok()?;
                    Some(
                        set.selection_set
                            .selections
                            .iter()
                            .filter_map(|s| match s {
                                Selection::Field(f) => Some(f.name.clone()),
                                _ => None,
                            })
                            .collect(),
                    )
                })
                .collect()
        })
        .collect();
    let resolves = |o: &Occurrence, field: &Name| {
        fields_of(o.ty)
            .get(field)
            .is_some_and(|d| !d.directives.has(o.subgraph.fed("external")))
    };
    let mut reached = vec![from];
    let mut i = 0;
    while i < reached.len() {
        let current = &occurrences[reached[i]];
        for (next, next_keys) in keys.iter().enumerate() {
            if !reached.contains(&next)
                && next_keys
                    .iter()
                    .any(|key| key.iter().all(|f| resolves(current, f)))
            {
                reached.push(next);
            }
        }
        i += 1;
    }
    reached
}

/// Every `(type, field)` a key of the subgraph selects, nested selections included.
fn key_fields(subgraph: &Subgraph) -> BTreeSet<(String, String)> {
    fn walk(set: &apollo_compiler::executable::SelectionSet, out: &mut BTreeSet<(String, String)>) {
        for selection in &set.selections {
            if let Selection::Field(f) = selection {
                out.insert((set.ty.to_string(), f.name.to_string()));
                walk(&f.selection_set, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    for (name, ty) in &subgraph.schema.types {
        for key in ty.directives().get_all(subgraph.fed("key")) {
            let Some(fields) = key
                .specified_argument_by_name("fields")
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            if let Ok(set) = FieldSet::parse(&subgraph.schema, name.clone(), fields, "key.graphql")
            {
                walk(&set.selection_set, &mut out);
            }
        }
    }
    out
}

/// Fields an `@interfaceObject` adds to an interface also exist on every implementation, resolved
/// through the interface (`@join__field` without a graph).
fn add_interface_object_fields(
    types: &mut [MergedType],
    names: &BTreeMap<String, Vec<Occurrence>>,
) {
    let mut additions: Vec<(String, Member)> = Vec::new();
    for interface in types.iter().filter(|t| t.kind == Kind::Interface) {
        let Some(occurrences) = names.get(&interface.name) else {
            continue;
        };
        let from_objects: Vec<&Occurrence> = occurrences
            .iter()
            .filter(|o| matches!(o.ty, ExtendedType::Object(_)))
            .collect();
        for field in &interface.members {
            let only_there = from_objects
                .iter()
                .any(|o| fields_of(o.ty).contains_key(field.name.as_str()))
                && !occurrences.iter().any(|o| {
                    matches!(o.ty, ExtendedType::Interface(_))
                        && fields_of(o.ty).contains_key(field.name.as_str())
                });
            if !only_there {
                continue;
            }
            for object in types
                .iter()
                .filter(|t| t.kind == Kind::Object && t.implements.contains(&interface.name))
            {
                if !object.members.iter().any(|m| m.name == field.name) {
                    let member = Member {
                        name: field.name.clone(),
                        description: None,
                        arguments: field.arguments.clone(),
                        ty: field.ty.clone(),
                        directives: vec!["@join__field".into()],
                    };
                    additions.push((object.name.clone(), member));
                }
            }
        }
    }
    for (object, member) in additions {
        if let Some(ty) = types.iter_mut().find(|t| t.name == object) {
            ty.members.push(member);
        }
    }
}

/// The leaf fields of a `@requires`/`@provides` field set that must be `@external` and are not:
/// a leaf must be, unless a field above it in the set is (or its type is); a field with a
/// selection may be the subgraph's own, its leaves are checked beneath it (as Apollo's
/// composition does).
fn local_leaves(
    subgraph: &Subgraph,
    set: &SelectionSet,
    external_above: bool,
    out: &mut Vec<(Name, Name)>,
) {
    let on = &set.ty;
    let type_is_external = subgraph
        .schema
        .types
        .get(on)
        .is_some_and(|t| t.directives().has(subgraph.fed("external")));
    for selection in &set.selections {
        match selection {
            Selection::Field(f) => {
                let external =
                    external_above || type_is_external || external_here(subgraph, on, &f.name);
                if f.selection_set.selections.is_empty() {
                    if !external {
                        out.push((on.clone(), f.name.clone()));
                    }
                } else {
                    local_leaves(subgraph, &f.selection_set, external, out);
                }
            }
            Selection::InlineFragment(f) => {
                local_leaves(subgraph, &f.selection_set, external_above, out)
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Whether `on.field` is `@external` in `subgraph`; for an interface's field, whether some
/// implementation's is (the interface's own field cannot carry `@external`).
fn external_here(subgraph: &Subgraph, on: &Name, field: &Name) -> bool {
    let external = subgraph.fed("external");
    let field_external = |type_name: &Name| {
        subgraph
            .schema
            .type_field(type_name, field)
            .is_ok_and(|f| f.directives.has(external))
    };
    field_external(on)
        || subgraph.schema.types.iter().any(|(name, ty)| {
            matches!(ty, ExtendedType::Object(o) if o.implements_interfaces.contains(on))
                && field_external(name)
        })
}
