//! Shaping the response: the merged subgraph data projected onto the client's selections, in
//! their order, with their aliases and only what they asked for; a `null` in a non-null position
//! bubbles up to the nearest nullable parent, as the GraphQL spec says.

use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema, ast};
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
    pub new_errors: Vec<Value>,
}

impl<'a> Projection<'a> {
    /// The response's `data`: an object, or `null` when a non-null root field is null.
    pub fn data(&mut self, operation: &Operation, merged: &Value) -> Value {
        let root = operation.selection_set.ty.clone();
        let empty = Map::new();
        let object = merged.as_object().unwrap_or(&empty);
        let mut path = Vec::new();
        match self.object(&[&operation.selection_set], &root, object, &mut path, true) {
            Ok(map) => Value::Object(map),
            Err(Bubble) => Value::Null,
        }
    }

    fn object(
        &mut self,
        sets: &[&SelectionSet],
        runtime_type: &Name,
        object: &Map<String, Value>,
        path: &mut Vec<Value>,
        is_root: bool,
    ) -> Result<Map<String, Value>, Bubble> {
        let mut grouped: Vec<(Name, Vec<&Node<Field>>)> = Vec::new();
        for set in sets {
            self.collect_fields(set, runtime_type, &mut grouped);
        }
        let mut out = Map::with_capacity(grouped.len());
        for (key, fields) in grouped {
            let field = fields[0];
            let value = if field.name == "__typename" {
                Value::String(runtime_type.to_string())
            } else if is_root && (field.name == "__schema" || field.name == "__type") {
                self.introspection
                    .and_then(|i| i.get(key.as_str()))
                    .cloned()
                    .unwrap_or(Value::Null)
            } else {
                path.push(Value::String(key.to_string()));
                let result = self.complete(
                    &field.definition.ty,
                    &fields,
                    object.get(key.as_str()),
                    path,
                );
                path.pop();
                result?
            };
            out.insert(key.to_string(), value);
        }
        Ok(out)
    }

    fn complete(
        &mut self,
        ty: &ast::Type,
        fields: &[&Node<Field>],
        value: Option<&Value>,
        path: &mut Vec<Value>,
    ) -> Result<Value, Bubble> {
        match ty {
            ast::Type::NonNullNamed(name) => {
                let named = self.named(name, fields, value, path);
                self.non_null(named, path)
            }
            ast::Type::NonNullList(inner) => {
                let list = self.list(inner, fields, value, path);
                self.non_null(list, path)
            }
            ast::Type::Named(name) => {
                Ok(self.named(name, fields, value, path).unwrap_or(Value::Null))
            }
            ast::Type::List(inner) => {
                Ok(self.list(inner, fields, value, path).unwrap_or(Value::Null))
            }
        }
    }

    fn non_null(&mut self, result: Result<Value, Bubble>, path: &[Value]) -> Result<Value, Bubble> {
        match result {
            Ok(Value::Null) => {
                self.null_error(path);
                Err(Bubble)
            }
            other => other,
        }
    }

    fn list(
        &mut self,
        inner: &ast::Type,
        fields: &[&Node<Field>],
        value: Option<&Value>,
        path: &mut Vec<Value>,
    ) -> Result<Value, Bubble> {
        let Some(Value::Array(items)) = value else {
            return Ok(Value::Null);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            path.push(Value::from(i));
            let result = self.complete(inner, fields, Some(item), path);
            path.pop();
            out.push(result?);
        }
        Ok(Value::Array(out))
    }

    fn named(
        &mut self,
        name: &Name,
        fields: &[&Node<Field>],
        value: Option<&Value>,
        path: &mut Vec<Value>,
    ) -> Result<Value, Bubble> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Value::Null);
        };
        let runtime = match self.schema.types.get(name) {
            Some(ExtendedType::Object(_)) => name.clone(),
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                match value
                    .get("__typename")
                    .and_then(Value::as_str)
                    .and_then(|t| Name::new(t).ok())
                {
                    Some(runtime) => runtime,
                    None => return Ok(Value::Null),
                }
            }
            _ => return Ok(value.clone()), // scalars and enums pass through
        };
        let Some(object) = value.as_object() else {
            return Ok(Value::Null);
        };
        let sets: Vec<&SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
        self.object(&sets, &runtime, object, path, false)
            .map(Value::Object)
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
        let explained = self.known_errors.iter().chain(&self.new_errors).any(|e| {
            e.get("path")
                .and_then(Value::as_array)
                .is_some_and(|p| p.starts_with(path) || path.starts_with(p))
        });
        if !explained {
            self.new_errors.push(json!({
                "message": "Cannot return null for non-nullable field",
                "path": path,
            }));
        }
    }
}
