//! Shaping the response: the merged subgraph data projected onto the client's selections and
//! written straight into the response bytes, in the client's order, with its aliases and only
//! what it asked for. A `null` in a non-null position bubbles up to the nearest nullable parent,
//! as the GraphQL spec says: that parent's bytes are cut back and `null` written instead.

use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema, ast};

use crate::authorization::Denied;
use serde_json::{Map, Value, json};

/// A non-null field came out null: its parent must become null too.
struct Bubble;

pub struct Projection<'a> {
    pub schema: &'a Valid<Schema>,
    pub document: &'a ExecutableDocument,
    pub variables: &'a Map<String, Value>,
    /// Introspection results for `__schema`/`__type` root fields, by response key.
    pub introspection: Option<&'a Map<String, Value>>,
    /// Errors already reported (by subgraphs): a null they explain gets no second error.
    pub known_errors: &'a [Value],
    /// Fields the caller may not see: `null` whatever the subgraphs sent.
    pub denied: Option<&'a Denied>,
    pub new_errors: Vec<Value>,
}

impl<'a> Projection<'a> {
    /// A projection with no introspection results and no errors reported yet.
    pub fn new(
        schema: &'a Valid<Schema>,
        document: &'a ExecutableDocument,
        variables: &'a Map<String, Value>,
    ) -> Self {
        Self {
            schema,
            document,
            variables,
            introspection: None,
            known_errors: &[],
            denied: None,
            new_errors: Vec::new(),
        }
    }

    /// Writes the response's `data` value into `out`: an object, or `null` when a non-null root
    /// field is null.
    pub fn write_data(&mut self, operation: &Operation, merged: &Value, out: &mut Vec<u8>) {
        let root = operation.selection_set.ty.clone();
        let empty = Map::new();
        let object = merged.as_object().unwrap_or(&empty);
        let start = out.len();
        if self
            .object(
                &[&operation.selection_set],
                &root,
                object,
                &mut Vec::new(),
                true,
                out,
            )
            .is_err()
        {
            out.truncate(start);
            out.extend_from_slice(b"null");
        }
    }

    fn object(
        &mut self,
        sets: &[&SelectionSet],
        runtime_type: &Name,
        object: &Map<String, Value>,
        path: &mut Vec<Value>,
        is_root: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Bubble> {
        let mut grouped: Vec<(Name, Vec<&Node<Field>>)> = Vec::new();
        for set in sets {
            self.collect_fields(set, runtime_type, &mut grouped);
        }
        out.push(b'{');
        for (i, (key, fields)) in grouped.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, key);
            out.push(b':');
            let field = fields[0];
            if field.name == "__typename" {
                write_str(out, runtime_type);
                continue;
            }
            let source = match is_root && (field.name == "__schema" || field.name == "__type") {
                _ if self
                    .denied
                    .is_some_and(|d| fields.iter().any(|f| d.covers(f))) =>
                {
                    None
                }
                true => self.introspection,
                false => Some(object),
            };
            path.push(Value::String(key.to_string()));
            let result = self.complete(
                &field.definition.ty,
                fields,
                source.and_then(|o| o.get(key.as_str())),
                path,
                out,
            );
            path.pop();
            result?;
        }
        out.push(b'}');
        Ok(())
    }

    fn complete(
        &mut self,
        ty: &ast::Type,
        fields: &[&Node<Field>],
        value: Option<&Value>,
        path: &mut Vec<Value>,
        out: &mut Vec<u8>,
    ) -> Result<(), Bubble> {
        let start = out.len();
        let written = match ty {
            ast::Type::NonNullNamed(name) | ast::Type::Named(name) => {
                self.named(name, fields, value, path, out)
            }
            ast::Type::NonNullList(inner) | ast::Type::List(inner) => {
                self.list(inner, fields, value, path, out)
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
    fn list(
        &mut self,
        inner: &ast::Type,
        fields: &[&Node<Field>],
        value: Option<&Value>,
        path: &mut Vec<Value>,
        out: &mut Vec<u8>,
    ) -> Result<bool, Bubble> {
        let Some(Value::Array(items)) = value else {
            out.extend_from_slice(b"null");
            return Ok(false);
        };
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            path.push(Value::from(i));
            let result = self.complete(inner, fields, Some(item), path, out);
            path.pop();
            result?;
        }
        out.push(b']');
        Ok(true)
    }

    /// Writes a named-type value; `Ok(false)` when it wrote `null`.
    fn named(
        &mut self,
        name: &Name,
        fields: &[&Node<Field>],
        value: Option<&Value>,
        path: &mut Vec<Value>,
        out: &mut Vec<u8>,
    ) -> Result<bool, Bubble> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            out.extend_from_slice(b"null");
            return Ok(false);
        };
        let runtime = match self.schema.types.get(name) {
            Some(ExtendedType::Object(_)) => name.clone(),
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                // An object of a type clients cannot see (`@inaccessible`) reads as null.
                let visible = value
                    .get("__typename")
                    .and_then(Value::as_str)
                    .and_then(|t| Name::new(t).ok())
                    .filter(|t| self.schema.types.contains_key(t));
                match visible {
                    Some(runtime) => runtime,
                    None => {
                        out.extend_from_slice(b"null");
                        return Ok(false);
                    }
                }
            }
            // Enum values outside the API schema (`@inaccessible`) read as null.
            Some(ExtendedType::Enum(e))
                if !value.as_str().is_some_and(|v| e.values.contains_key(v)) =>
            {
                out.extend_from_slice(b"null");
                return Ok(false);
            }
            // Scalars and enums pass through as the subgraph serialised them.
            _ => {
                serde_json::to_writer(&mut *out, value)
                    .expect("writing JSON to memory cannot fail");
                return Ok(true);
            }
        };
        let Some(object) = value.as_object() else {
            out.extend_from_slice(b"null");
            return Ok(false);
        };
        let sets: Vec<&SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
        self.object(&sets, &runtime, object, path, false, out)
            .map(|()| true)
    }

    /// The spec's CollectFields: fields by response key, fragments that apply to `runtime_type`.
    fn collect_fields<'s>(
        &self,
        set: &'s SelectionSet,
        runtime_type: &Name,
        grouped: &mut Vec<(Name, Vec<&'s Node<Field>>)>,
    ) where
        'a: 's,
    {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.response_key();
                    match grouped.iter_mut().find(|(k, _)| k == key) {
                        Some((_, fields)) => fields.push(field),
                        None => grouped.push((key.clone(), vec![field])),
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
    fn null_error(&mut self, path: &[Value]) {
        // `@` in a known error's path (an operation path, e.g. authorization's) is any index.
        let same = |a: &Value, b: &Value| a == b || (a == "@" && b.is_number());
        let explained = self.known_errors.iter().chain(&self.new_errors).any(|e| {
            e.get("path")
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().zip(path).all(|(a, b)| same(a, b)))
        });
        if !explained {
            self.new_errors.push(json!({
                "message": "Cannot return null for non-nullable field",
                "path": path,
            }));
        }
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing JSON to memory cannot fail");
}
