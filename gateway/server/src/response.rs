//! Shaping the response: the merged subgraph data projected onto the client's selections and
//! written straight into the response bytes, in the client's order, with its aliases and only
//! what it asked for. A `null` in a non-null position bubbles up to the nearest nullable parent,
//! as the GraphQL spec says: that parent's bytes are cut back and `null` written instead.

use std::rc::Rc;

use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema, ast};

use crate::authorization::Denied;
// Response keys and type names are GraphQL names: written as they are, nothing to escape.
use crate::tree::{FastMap, KeyId, ObjId, Step, Tree, Val, write_raw_str};
use serde_json::{Map, Value, json};

/// A non-null field came out null: its parent must become null too.
struct Bubble;

/// An object's fields by response key, as CollectFields groups them, with the key's id in the
/// tree and the definition of the fields' named type: both looked up once per grouping.
type Grouped<'a> = Vec<(
    &'a Name,
    Option<KeyId>,
    Vec<&'a Node<Field>>,
    Option<&'a ExtendedType>,
)>;

pub struct Projection<'a> {
    pub schema: &'a Valid<Schema>,
    pub document: &'a ExecutableDocument,
    pub variables: &'a Map<String, Value>,
    /// Errors already reported (by subgraphs): a null they explain gets no second error.
    pub known_errors: &'a [Value],
    /// Fields the caller may not see: `null` whatever the subgraphs sent.
    pub denied: Option<&'a Denied>,
    pub new_errors: Vec<Value>,
    /// Grouped fields by the addresses of the fields they come from and of the runtime type's
    /// name: every object of a list groups the same way, so each grouping is done once. The
    /// groupings are kept for the whole projection, so no address is reused while cached.
    grouped: FastMap<(usize, usize), Rc<Grouped<'a>>>,
}

impl<'a> Projection<'a> {
    /// A projection with no errors reported yet.
    pub fn new(
        schema: &'a Valid<Schema>,
        document: &'a ExecutableDocument,
        variables: &'a Map<String, Value>,
    ) -> Self {
        Self {
            schema,
            document,
            variables,
            known_errors: &[],
            denied: None,
            new_errors: Vec::new(),
            grouped: FastMap::default(),
        }
    }

    /// Writes the response's `data` value (from `tree`'s root) into `out`: an object, or `null`
    /// when a non-null root field is null.
    pub fn write_data(&mut self, operation: &'a Operation, tree: &Tree, out: &mut Vec<u8>) {
        let root = operation.selection_set.ty.clone();
        let mut grouped = Vec::new();
        self.collect_fields(&operation.selection_set, &root, &mut grouped);
        self.identify(&mut grouped, tree);
        let start = out.len();
        if self
            .object(&grouped, &root, tree, tree.root, &mut Vec::new(), out)
            .is_err()
        {
            out.truncate(start);
            out.extend_from_slice(b"null");
        }
    }

    fn object(
        &mut self,
        grouped: &Grouped<'a>,
        runtime_type: &Name,
        tree: &Tree,
        object: ObjId,
        path: &mut Vec<Step<'a>>,
        out: &mut Vec<u8>,
    ) -> Result<(), Bubble> {
        out.push(b'{');
        for (i, (key, id, fields, definition)) in grouped.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_raw_str(out, key.as_bytes());
            out.push(b':');
            let field = fields[0];
            if field.name == "__typename" {
                write_raw_str(out, runtime_type.as_bytes());
                continue;
            }
            let denied = self
                .denied
                .is_some_and(|d| fields.iter().any(|f| d.covers(f)));
            let value = match denied {
                true => None,
                false => id.and_then(|id| tree.get_id(object, id)),
            };
            path.push(Step::Key(key.as_str()));
            let ty = &field.definition.ty;
            let result = self.complete(ty, *definition, fields, tree, value, path, out);
            path.pop();
            result?;
        }
        out.push(b'}');
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn complete(
        &mut self,
        ty: &ast::Type,
        definition: Option<&'a ExtendedType>,
        fields: &[&'a Node<Field>],
        tree: &Tree,
        value: Option<Val>,
        path: &mut Vec<Step<'a>>,
        out: &mut Vec<u8>,
    ) -> Result<(), Bubble> {
        let start = out.len();
        let written = match ty {
            ast::Type::NonNullNamed(name) | ast::Type::Named(name) => {
                self.named(name, definition, fields, tree, value, path, out)
            }
            ast::Type::NonNullList(inner) | ast::Type::List(inner) => {
                self.list(inner, definition, fields, tree, value, path, out)
            }
        };
        match (ty.is_non_null(), written) {
            (true, Ok(false)) => {
                self.null_error(path);
                Err(Bubble)
            }
            (true, Err(Bubble)) => Err(Bubble),
            (false, Err(Bubble)) => {
                out.truncate(start);
                out.extend_from_slice(b"null");
                Ok(())
            }
            (_, Ok(_)) => Ok(()),
        }
    }

    /// Writes a list; `Ok(false)` when it wrote `null`.
    #[allow(clippy::too_many_arguments)]
    fn list(
        &mut self,
        inner: &ast::Type,
        definition: Option<&'a ExtendedType>,
        fields: &[&'a Node<Field>],
        tree: &Tree,
        value: Option<Val>,
        path: &mut Vec<Step<'a>>,
        out: &mut Vec<u8>,
    ) -> Result<bool, Bubble> {
        let Some(Val::List(list)) = value else {
            out.extend_from_slice(b"null");
            return Ok(false);
        };
        out.push(b'[');
        for (i, item) in tree.items(list).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            path.push(Step::Index(i));
            let result = self.complete(inner, definition, fields, tree, Some(*item), path, out);
            path.pop();
            result?;
        }
        out.push(b']');
        Ok(true)
    }

    /// Whether the selections of `fields` depend on their object's type: `__typename`, or a
    /// fragment on a type other than `abstract_type`.
    fn needs_object_type(&self, fields: &[&Node<Field>], abstract_type: &Name) -> bool {
        fields
            .iter()
            .any(|f| self.depends_on_type(&f.selection_set, abstract_type))
    }

    fn depends_on_type(&self, set: &SelectionSet, abstract_type: &Name) -> bool {
        let other = |t: Option<&Name>| t.is_some_and(|t| t != abstract_type);
        set.selections.iter().any(|selection| match selection {
            Selection::Field(f) => f.name == "__typename",
            Selection::InlineFragment(f) => {
                other(f.type_condition.as_ref())
                    || self.depends_on_type(&f.selection_set, abstract_type)
            }
            Selection::FragmentSpread(spread) => self
                .document
                .fragments
                .get(&spread.fragment_name)
                .is_some_and(|f| {
                    other(Some(f.type_condition()))
                        || self.depends_on_type(&f.selection_set, abstract_type)
                }),
        })
    }

    /// Writes a named-type value; `Ok(false)` when it wrote `null`.
    #[allow(clippy::too_many_arguments)]
    fn named(
        &mut self,
        name: &Name,
        definition: Option<&'a ExtendedType>,
        fields: &[&'a Node<Field>],
        tree: &Tree,
        value: Option<Val>,
        path: &mut Vec<Step<'a>>,
        out: &mut Vec<u8>,
    ) -> Result<bool, Bubble> {
        let Some(value) = value.filter(|v| !matches!(v, Val::Null)) else {
            out.extend_from_slice(b"null");
            return Ok(false);
        };
        let schema = self.schema;
        let runtime = match definition {
            Some(ExtendedType::Object(_)) => name,
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                // An object of a type clients cannot see (`@inaccessible`) reads as null. An
                // `@interfaceObject` answer names the interface itself until the interface's
                // subgraph tells its object type: it reads as null too when that type was
                // needed (for `__typename` or a fragment) and never came.
                let visible = match value {
                    Val::Obj(object) => tree
                        .get_str(object, "__typename")
                        .and_then(|t| std::str::from_utf8(t).ok())
                        .and_then(|t| schema.types.get_key_value(t))
                        .filter(|(t, ty)| {
                            (ty.is_object() && schema.is_subtype(name, t))
                                || (*t == name && !self.needs_object_type(fields, name))
                        })
                        .map(|(name, _)| name),
                    _ => None,
                };
                match visible {
                    Some(runtime) => runtime,
                    None => {
                        out.extend_from_slice(b"null");
                        return Ok(false);
                    }
                }
            }
            // Enum values outside the API schema (`@inaccessible`) read as null.
            Some(ExtendedType::Enum(e)) => {
                let known = match value {
                    Val::Str(raw) => {
                        std::str::from_utf8(tree.bytes(raw)).is_ok_and(|v| e.values.contains_key(v))
                    }
                    _ => false,
                };
                if !known {
                    out.extend_from_slice(b"null");
                    return Ok(false);
                }
                tree.write(value, out);
                return Ok(true);
            }
            // Scalars pass through as the subgraph serialised them.
            _ => {
                tree.write(value, out);
                return Ok(true);
            }
        };
        let Val::Obj(object) = value else {
            out.extend_from_slice(b"null");
            return Ok(false);
        };
        let grouped = self.grouped(fields, runtime, tree);
        self.object(&grouped, runtime, tree, object, path, out)
            .map(|()| true)
    }

    /// The grouped sub-fields of `fields` on `runtime_type`, computed once per projection.
    fn grouped(
        &mut self,
        fields: &[&'a Node<Field>],
        runtime_type: &Name,
        tree: &Tree,
    ) -> Rc<Grouped<'a>> {
        let key = (
            fields.as_ptr() as usize,
            runtime_type.as_str().as_ptr() as usize,
        );
        if let Some(hit) = self.grouped.get(&key) {
            return hit.clone();
        }
        let mut grouped = Vec::new();
        for field in fields {
            self.collect_fields(&field.selection_set, runtime_type, &mut grouped);
        }
        self.identify(&mut grouped, tree);
        let grouped = Rc::new(grouped);
        self.grouped.insert(key, grouped.clone());
        grouped
    }

    /// Looks up, once for every object they are read from, the response keys in the tree and
    /// the fields' named types in the schema.
    fn identify(&self, grouped: &mut Grouped<'a>, tree: &Tree) {
        for (key, id, fields, definition) in grouped {
            *id = tree.key_id(key);
            *definition = self
                .schema
                .types
                .get(fields[0].definition.ty.inner_named_type());
        }
    }

    /// The spec's CollectFields: fields by response key, fragments that apply to `runtime_type`.
    fn collect_fields(
        &self,
        set: &'a SelectionSet,
        runtime_type: &Name,
        grouped: &mut Grouped<'a>,
    ) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.response_key();
                    match grouped.iter_mut().find(|(k, ..)| *k == key) {
                        Some((_, _, fields, _)) => fields.push(field),
                        None => grouped.push((key, None, vec![field], None)),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.applies(c, runtime_type));
                    if applies && self.included(&fragment.directives) {
                        self.collect_fields(&fragment.selection_set, runtime_type, grouped);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let Some(fragment) = self.document.fragments.get(&spread.fragment_name) else {
                        continue;
                    };
                    if self.applies(fragment.type_condition(), runtime_type)
                        && self.included(&spread.directives)
                    {
                        self.collect_fields(&fragment.selection_set, runtime_type, grouped);
                    }
                }
            }
        }
    }

    fn applies(&self, condition: &Name, runtime_type: &Name) -> bool {
        condition == runtime_type || self.schema.is_subtype(condition, runtime_type)
    }

    /// `@skip(if:)` and `@include(if:)`, with variables.
    fn included(&self, directives: &ast::DirectiveList) -> bool {
        let flag = |name: &str| {
            directives
                .get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .map(|v| match v.as_ref() {
                    ast::Value::Boolean(b) => *b,
                    ast::Value::Variable(var) => self
                        .variables
                        .get(var.as_str())
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    _ => false,
                })
        };
        flag("skip") != Some(true) && flag("include") != Some(false)
    }

    /// Reports a null in a non-null position, unless an error on or under its path explains it.
    fn null_error(&mut self, path: &[Step]) {
        let path: Vec<Value> = path.iter().map(Step::to_json).collect();
        // `@` in a known error's path (an operation path, e.g. authorization's) is any index.
        let same = |a: &Value, b: &Value| a == b || (a == "@" && b.is_number());
        let explained = self.known_errors.iter().chain(&self.new_errors).any(|e| {
            e.get("path")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().zip(&path).all(|(a, b)| same(a, b)))
        });
        if !explained {
            self.new_errors.push(json!({
                "message": "Cannot return null for non-nullable field",
                "path": path,
            }));
        }
    }
}
