//! The Federation authorization directives, enforced before planning.
//!
//! `@authenticated`, `@requiresScopes(scopes: [[...]])` and `@policy(policies: [[...]])` on fields
//! and types of the supergraph decide what each caller may see. A field the caller may not see is
//! cut from the operation that gets planned (so no subgraph is ever asked for it), reads as
//! `null`, and gets an `UNAUTHORIZED_FIELD_OR_TYPE` error at its path (`@` standing for every
//! item of a list). A field returning a protected type is protected too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use apollo_compiler::executable::{Field, Fragment, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema, ast, name};
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::config::PolicyRule;

/// What one field or type demands; every non-empty part must hold.
#[derive(Debug, Default, Clone)]
struct Requirement {
    authenticated: bool,
    /// Any inner list whose scopes the caller all has.
    scopes: Vec<Vec<String>>,
    /// Any inner list whose policies all hold.
    policies: Vec<Vec<String>>,
}

/// The caller as the directives see it.
pub struct Caller<'a> {
    pub identity: Option<&'a Identity>,
    pub policies: &'a BTreeMap<String, PolicyRule>,
}

impl Caller<'_> {
    /// The weakest caller: what it may not see, nobody may see without checks.
    pub const ANONYMOUS: Caller<'static> = Caller {
        identity: None,
        policies: &BTreeMap::new(),
    };

    fn policy(&self, name: &str) -> bool {
        let (Some(identity), Some(rule)) = (self.identity, self.policies.get(name)) else {
            return false;
        };
        rule.scopes.iter().all(|s| identity.scopes.contains(s))
            && rule
                .claims
                .iter()
                .all(|(claim, want)| match identity.claims.get(claim) {
                    Some(Value::String(have)) => have == want,
                    Some(other) => serde_json::from_str::<Value>(want).is_ok_and(|w| *other == w),
                    None => false,
                })
    }
}

impl Requirement {
    /// Both this and `other` must hold.
    fn and(&mut self, other: &Requirement) {
        self.authenticated |= other.authenticated;
        self.scopes = all_of(&self.scopes, &other.scopes);
        self.policies = all_of(&self.policies, &other.policies);
    }

    fn allows(&self, caller: &Caller<'_>) -> bool {
        let Some(identity) = caller.identity else {
            return !self.authenticated && self.scopes.is_empty() && self.policies.is_empty();
        };
        let scopes = self.scopes.is_empty()
            || self
                .scopes
                .iter()
                .any(|all| all.iter().all(|s| identity.scopes.contains(s)));
        let policies = self.policies.is_empty()
            || self
                .policies
                .iter()
                .any(|all| all.iter().all(|p| caller.policy(p)));
        scopes && policies
    }
}

/// `any of a` and `any of b`, as one "any of" list: every pairing of an inner list of each.
fn all_of(a: &[Vec<String>], b: &[Vec<String>]) -> Vec<Vec<String>> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_vec(),
        (_, true) => a.to_vec(),
        _ => a
            .iter()
            .flat_map(|x| b.iter().map(move |y| x.iter().chain(y).cloned().collect()))
            .collect(),
    }
}

/// The directives of one supergraph, by type and by field.
#[derive(Debug, Default)]
pub struct Rules {
    types: HashMap<Name, Requirement>,
    fields: HashMap<(Name, Name), Requirement>,
}

/// What a caller may not see in one operation.
#[derive(Debug, Default)]
pub struct Denied {
    /// `Type.field` coordinates and types cut from the operation.
    fields: BTreeSet<(Name, Name)>,
    types: BTreeSet<Name>,
    /// The cut field selections of the checked document, by address: the response writes
    /// `null` there whatever a subgraph sent.
    selections: HashSet<usize>,
    /// One error per place in the operation.
    pub errors: Vec<Value>,
}

impl Denied {
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Whether `field` (a selection of the checked document) was cut.
    pub fn covers(&self, field: &Field) -> bool {
        self.selections.contains(&(field as *const Field as usize))
    }

    /// Identifies the cut, for caching the plan of what is left.
    pub fn signature(&self) -> String {
        let fields = self.fields.iter().map(|(t, f)| format!("{t}.{f}"));
        fields
            .chain(self.types.iter().map(|t| t.to_string()))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Rules {
    /// Reads the directives, under whatever names the supergraph's `@link`s give them, and
    /// spreads them across abstract types so no path around them exists: a field of an
    /// interface carries the rules of that field on every implementation (and the other way
    /// round), and an abstract type carries the rules of every type it may turn out to be.
    pub fn from_supergraph(schema: &Schema) -> Self {
        let mut rules = Self::declared(schema);
        let implementers = schema.implementers_map();
        for (type_name, ty) in &schema.types {
            let possible: Vec<&Name> = match ty {
                ExtendedType::Interface(_) => implementers
                    .get(type_name)
                    .map(|i| i.objects.iter().chain(&i.interfaces).collect())
                    .unwrap_or_default(),
                ExtendedType::Union(u) => u.members.iter().map(|m| &m.name).collect(),
                _ => continue,
            };
            for member in possible {
                rules.link(type_name, member, ty);
            }
        }
        rules
    }

    /// Makes `abstract_type` and its possible type `member` share their rules.
    fn link(&mut self, abstract_type: &Name, member: &Name, ty: &ExtendedType) {
        if let Some(requirement) = self.types.get(member).cloned() {
            self.types
                .entry(abstract_type.clone())
                .or_default()
                .and(&requirement);
        }
        let ExtendedType::Interface(interface) = ty else {
            return;
        };
        for field in interface.fields.keys() {
            let on_interface = self
                .fields
                .get(&(abstract_type.clone(), field.clone()))
                .cloned();
            let on_member = self.fields.get(&(member.clone(), field.clone())).cloned();
            let mut both = on_interface.clone().unwrap_or_default();
            if let Some(on_member) = &on_member {
                both.and(on_member);
            }
            if on_interface.is_some() || on_member.is_some() {
                self.fields
                    .insert((abstract_type.clone(), field.clone()), both.clone());
                self.fields.insert((member.clone(), field.clone()), both);
            }
        }
    }

    /// The directives as written.
    fn declared(schema: &Schema) -> Self {
        let names = DirectiveNames::from_links(schema);
        let mut rules = Self::default();
        for (type_name, ty) in &schema.types {
            if let Some(requirement) = names.requirement(ty.directives().iter().map(|d| &d.node)) {
                rules.types.insert(type_name.clone(), requirement);
            }
            let fields: Vec<(&Name, &ast::FieldDefinition)> = match ty {
                ExtendedType::Object(o) => o.fields.iter().map(|(n, f)| (n, &***f)).collect(),
                ExtendedType::Interface(i) => i.fields.iter().map(|(n, f)| (n, &***f)).collect(),
                _ => Vec::new(),
            };
            for (field_name, field) in fields {
                if let Some(requirement) = names.requirement(field.directives.iter()) {
                    rules
                        .fields
                        .insert((type_name.clone(), field_name.clone()), requirement);
                }
            }
        }
        rules
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty()
    }

    /// What `caller` may not see of `operation`.
    pub fn check(
        &self,
        document: &ExecutableDocument,
        selection_set: &SelectionSet,
        caller: &Caller<'_>,
    ) -> Denied {
        let mut denied = Denied::default();
        if !self.is_empty() {
            let mut walk = Walk {
                rules: self,
                document,
                caller,
                denied: &mut denied,
                path: Vec::new(),
            };
            walk.selection_set(selection_set);
        }
        denied
    }
}

struct Walk<'a, 'c> {
    rules: &'a Rules,
    document: &'a ExecutableDocument,
    caller: &'a Caller<'c>,
    denied: &'a mut Denied,
    path: Vec<Value>,
}

impl Walk<'_, '_> {
    fn type_allowed(&self, type_name: &Name) -> bool {
        self.rules
            .types
            .get(type_name)
            .is_none_or(|r| r.allows(self.caller))
    }

    fn deny(&mut self) {
        self.denied.errors.push(json!({
            "message": "Unauthorized field or type",
            "path": self.path,
            "extensions": { "code": "UNAUTHORIZED_FIELD_OR_TYPE" },
        }));
    }

    fn selection_set(&mut self, set: &SelectionSet) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if field.name.starts_with("__") {
                        continue;
                    }
                    self.path
                        .push(Value::String(field.response_key().to_string()));
                    let returns = field.definition.ty.inner_named_type();
                    // The parent's own rule matters at the root (`type Mutation @authenticated`);
                    // below, the field that returned the parent was checked already.
                    let allowed = self
                        .rules
                        .fields
                        .get(&(set.ty.clone(), field.name.clone()))
                        .is_none_or(|r| r.allows(self.caller))
                        && self.type_allowed(returns)
                        && self.type_allowed(&set.ty);
                    if allowed {
                        let lists = list_depth(&field.definition.ty);
                        (0..lists).for_each(|_| self.path.push(json!("@")));
                        self.selection_set(&field.selection_set);
                        (0..lists).for_each(|_| {
                            self.path.pop();
                        });
                    } else {
                        self.denied
                            .fields
                            .insert((set.ty.clone(), field.name.clone()));
                        let address = &**field as *const Field as usize;
                        self.denied.selections.insert(address);
                        for ty in [returns, &set.ty] {
                            if !self.type_allowed(ty) {
                                self.denied.types.insert(ty.clone());
                            }
                        }
                        self.deny();
                    }
                    self.path.pop();
                }
                Selection::InlineFragment(inline) => {
                    self.fragment(inline.type_condition.as_ref(), &inline.selection_set)
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        self.fragment(Some(fragment.type_condition()), &fragment.selection_set)
                    }
                }
            }
        }
    }

    fn fragment(&mut self, condition: Option<&Name>, set: &SelectionSet) {
        match condition {
            Some(ty) if !self.type_allowed(ty) => {
                self.denied.types.insert(ty.clone());
                self.deny();
            }
            _ => self.selection_set(set),
        }
    }
}

fn list_depth(ty: &ast::Type) -> usize {
    match ty {
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => 1 + list_depth(inner),
        _ => 0,
    }
}

/// `document` without what `denied` cuts; a selection left empty keeps only `__typename`.
pub fn cut(document: &ExecutableDocument, schema: &Schema, denied: &Denied) -> ExecutableDocument {
    let fragments: HashMap<Name, Node<Fragment>> = document
        .fragments
        .iter()
        .map(|(n, f)| (n.clone(), f.clone()))
        .collect();
    let mut out = document.clone();
    let operations = out.operations.anonymous.iter_mut();
    for operation in operations.chain(out.operations.named.values_mut()) {
        cut_set(
            &mut operation.make_mut().selection_set,
            schema,
            denied,
            &fragments,
        );
    }
    for fragment in out.fragments.values_mut() {
        cut_set(
            &mut fragment.make_mut().selection_set,
            schema,
            denied,
            &fragments,
        );
    }
    out
}

fn cut_set(
    set: &mut SelectionSet,
    schema: &Schema,
    denied: &Denied,
    fragments: &HashMap<Name, Node<Fragment>>,
) {
    let parent = set.ty.clone();
    set.selections.retain_mut(|selection| match selection {
        Selection::Field(field) => {
            let returns = field.definition.ty.inner_named_type();
            if denied
                .fields
                .contains(&(parent.clone(), field.name.clone()))
                || denied.types.contains(returns)
            {
                return false;
            }
            cut_set(
                &mut field.make_mut().selection_set,
                schema,
                denied,
                fragments,
            );
            true
        }
        Selection::InlineFragment(inline) => {
            if inline
                .type_condition
                .as_ref()
                .is_some_and(|t| denied.types.contains(t))
            {
                return false;
            }
            cut_set(
                &mut inline.make_mut().selection_set,
                schema,
                denied,
                fragments,
            );
            true
        }
        Selection::FragmentSpread(spread) => fragments
            .get(&spread.fragment_name)
            .is_none_or(|f| !denied.types.contains(f.type_condition())),
    });
    if set.selections.is_empty()
        && let Ok(typename) = set.new_field(schema, name!("__typename"))
    {
        set.push(typename);
    }
}

/// The link-given names of the three directives.
struct DirectiveNames {
    authenticated: Name,
    requires_scopes: Name,
    policy: Name,
}

impl DirectiveNames {
    fn from_links(schema: &Schema) -> Self {
        let mut names = Self {
            authenticated: name!("authenticated"),
            requires_scopes: name!("requiresScopes"),
            policy: name!("policy"),
        };
        for link in schema.schema_definition.directives.get_all("link") {
            let arg = |n: &str| link.specified_argument_by_name(n).and_then(|v| v.as_str());
            let (Some(url), Some(alias)) = (arg("url"), arg("as")) else {
                continue;
            };
            let Ok(alias) = Name::new(alias) else {
                continue;
            };
            if url.contains("/authenticated/") {
                names.authenticated = alias;
            } else if url.contains("/requiresScopes/") {
                names.requires_scopes = alias;
            } else if url.contains("/policy/") {
                names.policy = alias;
            }
        }
        names
    }

    fn requirement<'d>(
        &self,
        directives: impl Iterator<Item = &'d Node<ast::Directive>>,
    ) -> Option<Requirement> {
        let mut requirement = Requirement::default();
        let mut any = false;
        for directive in directives {
            if directive.name == self.authenticated {
                requirement.authenticated = true;
            } else if directive.name == self.requires_scopes {
                requirement
                    .scopes
                    .extend(nested_strings(directive, "scopes"));
            } else if directive.name == self.policy {
                requirement
                    .policies
                    .extend(nested_strings(directive, "policies"));
            } else {
                continue;
            }
            any = true;
        }
        any.then_some(requirement)
    }
}

/// `[[String]]` argument values.
fn nested_strings(directive: &ast::Directive, argument: &str) -> Vec<Vec<String>> {
    let Some(outer) = directive
        .specified_argument_by_name(argument)
        .and_then(|v| v.as_list())
    else {
        return Vec::new();
    };
    outer
        .iter()
        .map(|inner| match inner.as_list() {
            Some(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            None => inner.as_str().map(str::to_owned).into_iter().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::validation::Valid;
    use mosaic_supergraph::Supergraph;

    const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../composition/tests/cases");

    fn supergraph(case: &str) -> Supergraph {
        let sdl = std::fs::read_to_string(format!("{CASES}/{case}/supergraph.graphql"))
            .expect("a composition fixture");
        Supergraph::parse(&sdl).expect("a valid supergraph")
    }

    /// The error paths `identity` gets for `query`, and the cut operation's text.
    fn denied(
        supergraph: &Supergraph,
        query: &str,
        identity: Option<&Identity>,
        policies: &BTreeMap<String, PolicyRule>,
    ) -> (Vec<String>, String) {
        let schema = &supergraph.api_schema;
        let document: Valid<ExecutableDocument> =
            ExecutableDocument::parse_and_validate(schema, query, "q.graphql").expect("valid");
        let operation = document.operations.get(None).expect("one operation");
        let rules = Rules::from_supergraph(&supergraph.schema);
        let caller = Caller { identity, policies };
        let denied = rules.check(&document, &operation.selection_set, &caller);
        let paths = denied
            .errors
            .iter()
            .map(|e| e["path"].to_string())
            .collect();
        let cut = cut(&document, schema, &denied);
        (
            paths,
            cut.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    fn identity(scopes: &[&str], claims: Value) -> Identity {
        Identity {
            claims: claims.as_object().cloned().unwrap_or_default(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            token: String::new(),
        }
    }

    /// A rule on one implementation's field also guards that field read through the interface.
    #[test]
    fn rules_cross_interfaces_and_fragments() {
        let sdl = std::fs::read_to_string(format!(
            "{CASES}/interface-implemented-in-two-subgraphs/supergraph.graphql"
        ))
        .expect("a composition fixture")
        .replace(
            "@link(url: \"https://specs.apollo.dev/link/v1.0\")",
            "@link(url: \"https://specs.apollo.dev/link/v1.0\")\n  \
             @link(url: \"https://specs.apollo.dev/authenticated/v0.1\", for: SECURITY)",
        )
        .replace(
            "  isbn: String\n",
            "  isbn: String @authenticated\n  secret: String\n",
        )
        .replace(
            "  runtime: Int\n",
            "  runtime: Int\n  secret: String @authenticated\n",
        )
        .replace(
            "  title: String!\n}",
            "  title: String!\n  secret: String\n}",
        ) + "\ndirective @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n";
        let graph = Supergraph::parse(&sdl).expect("a valid supergraph");
        let none = BTreeMap::new();
        let check = |query| denied(&graph, query, None, &none).0;
        // Through the interface: `Film.secret` is protected, so `Media.secret` is too.
        assert_eq!(
            check("{ media { title secret } }"),
            [r#"["media","@","secret"]"#]
        );
        // Through fragments, inline and named.
        assert_eq!(
            check("{ media { ... on Book { isbn } } }"),
            [r#"["media","@","isbn"]"#]
        );
        let named = "{ media { ...B } } fragment B on Book { isbn }";
        assert_eq!(check(named), [r#"["media","@","isbn"]"#]);
        let signed_in = identity(&[], json!({}));
        assert!(denied(&graph, named, Some(&signed_in), &none).0.is_empty());
    }

    #[test]
    fn requires_scopes_is_any_of_all() {
        let graph = supergraph("requires-scopes");
        let query = r#"{ user(id: "1") { id email salary } }"#;
        let none = BTreeMap::new();
        let (paths, cut) = denied(&graph, query, None, &none);
        assert_eq!(paths, [r#"["user","email"]"#, r#"["user","salary"]"#]);
        assert_eq!(cut, r#"{ user(id: "1") { id } }"#);
        let reader = identity(&["read:email", "read:pii"], json!({}));
        let (paths, _) = denied(&graph, query, Some(&reader), &none);
        assert_eq!(paths, [r#"["user","salary"]"#]);
        let partial = identity(&["read:email", "admin"], json!({}));
        let (paths, _) = denied(&graph, query, Some(&partial), &none);
        assert_eq!(paths.len(), 2, "neither inner list is complete");
    }

    #[test]
    fn policies_come_from_config_and_protect_types() {
        let graph = supergraph("policy");
        let query = r#"{ invoice(id: "1") { amount pdfUrl } }"#;
        let policies = BTreeMap::from([
            (
                "billing_reader".to_owned(),
                PolicyRule {
                    scopes: vec!["billing".into()],
                    claims: BTreeMap::new(),
                },
            ),
            (
                "admin".to_owned(),
                PolicyRule {
                    scopes: Vec::new(),
                    claims: BTreeMap::from([("role".to_owned(), "admin".to_owned())]),
                },
            ),
        ]);
        // The `Invoice` type needs `billing_reader`: the whole field goes.
        let nobody = identity(&[], json!({}));
        let (paths, cut) = denied(&graph, query, Some(&nobody), &policies);
        assert_eq!(paths, [r#"["invoice"]"#]);
        assert_eq!(cut, "{ __typename }");
        // A billing reader sees the invoice, but `pdfUrl` also needs `document_access` or admin.
        let reader = identity(&["billing"], json!({}));
        let (paths, _) = denied(&graph, query, Some(&reader), &policies);
        assert_eq!(paths, [r#"["invoice","pdfUrl"]"#]);
        let admin = identity(&["billing"], json!({ "role": "admin" }));
        let (paths, _) = denied(&graph, query, Some(&admin), &policies);
        assert!(paths.is_empty());
    }
}
