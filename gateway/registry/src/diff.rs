//! API schema changes and their severity.
//!
//! Breaking: a valid operation may now fail or get an unexpected null. Dangerous: operations still
//! validate but may behave differently (a new enum value a client cannot handle, a changed
//! default). Safe: additions nobody can notice.

use apollo_compiler::ast::{FieldDefinition, InputValueDefinition, Type};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Node, Schema};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Breaking,
    Dangerous,
    Safe,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub severity: Severity,
    /// Stable name of the kind of change, e.g. `FIELD_REMOVED`.
    pub code: &'static str,
    /// Schema coordinate: `Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`.
    pub coordinate: String,
    pub message: String,
}

/// Every change from `old` to `new`, most severe first.
pub fn diff(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, old_ty) in old.types.iter().filter(|(_, t)| !t.is_built_in()) {
        match new.types.get(name) {
            None => changes.push(change(
                Severity::Breaking,
                "TYPE_REMOVED",
                name.as_str(),
                format!("Type `{name}` was removed"),
            )),
            Some(new_ty) if kind(old_ty) != kind(new_ty) => changes.push(change(
                Severity::Breaking,
                "TYPE_KIND_CHANGED",
                name.as_str(),
                format!("`{name}` changed from {} to {}", kind(old_ty), kind(new_ty)),
            )),
            Some(new_ty) => diff_type(name.as_str(), old_ty, new_ty, &mut changes),
        }
    }
    for name in new.types.keys().filter(|n| !old.types.contains_key(*n)) {
        if !new.types[name].is_built_in() {
            changes.push(change(
                Severity::Safe,
                "TYPE_ADDED",
                name.as_str(),
                format!("Type `{name}` was added"),
            ));
        }
    }
    changes.sort_by(|a, b| (a.severity, &a.coordinate).cmp(&(b.severity, &b.coordinate)));
    changes
}

fn change(severity: Severity, code: &'static str, coordinate: &str, message: String) -> Change {
    Change {
        severity,
        code,
        coordinate: coordinate.to_owned(),
        message,
    }
}

fn kind(ty: &ExtendedType) -> &'static str {
    match ty {
        ExtendedType::Object(_) => "an object type",
        ExtendedType::Interface(_) => "an interface",
        ExtendedType::Union(_) => "a union",
        ExtendedType::Enum(_) => "an enum",
        ExtendedType::InputObject(_) => "an input type",
        ExtendedType::Scalar(_) => "a scalar",
    }
}

fn diff_type(name: &str, old: &ExtendedType, new: &ExtendedType, out: &mut Vec<Change>) {
    match (old, new) {
        (ExtendedType::Object(o), ExtendedType::Object(n)) => {
            diff_fields(name, &o.fields, &n.fields, out);
            diff_members(
                name,
                "interface",
                o.implements_interfaces.iter().map(|i| i.to_string()),
                n.implements_interfaces.iter().map(|i| i.to_string()),
                Severity::Breaking,
                Severity::Safe,
                out,
            );
        }
        (ExtendedType::Interface(o), ExtendedType::Interface(n)) => {
            diff_fields(name, &o.fields, &n.fields, out)
        }
        (ExtendedType::Union(o), ExtendedType::Union(n)) => {
            diff_members(
                name,
                "member",
                o.members.iter().map(|m| m.to_string()),
                n.members.iter().map(|m| m.to_string()),
                Severity::Breaking,
                Severity::Dangerous,
                out,
            );
        }
        (ExtendedType::Enum(o), ExtendedType::Enum(n)) => {
            diff_members(
                name,
                "value",
                o.values.keys().map(|v| v.to_string()),
                n.values.keys().map(|v| v.to_string()),
                Severity::Breaking,
                Severity::Dangerous,
                out,
            );
        }
        (ExtendedType::InputObject(o), ExtendedType::InputObject(n)) => {
            for (field, old_field) in &o.fields {
                let coordinate = format!("{name}.{field}");
                match n.fields.get(field) {
                    None => out.push(change(
                        Severity::Breaking,
                        "INPUT_FIELD_REMOVED",
                        &coordinate,
                        format!("Input field `{coordinate}` was removed"),
                    )),
                    Some(new_field) => diff_input_value(&coordinate, old_field, new_field, out),
                }
            }
            for (field, new_field) in n.fields.iter().filter(|(f, _)| !o.fields.contains_key(*f)) {
                let coordinate = format!("{name}.{field}");
                let (severity, code) = if new_field.is_required() {
                    (Severity::Breaking, "REQUIRED_INPUT_FIELD_ADDED")
                } else {
                    (Severity::Safe, "OPTIONAL_INPUT_FIELD_ADDED")
                };
                out.push(change(
                    severity,
                    code,
                    &coordinate,
                    format!("Input field `{coordinate}` was added"),
                ));
            }
        }
        _ => {}
    }
}

fn diff_fields(
    name: &str,
    old: &apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<FieldDefinition>,
    >,
    new: &apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<FieldDefinition>,
    >,
    out: &mut Vec<Change>,
) {
    for (field, old_field) in old {
        let coordinate = format!("{name}.{field}");
        let Some(new_field) = new.get(field) else {
            out.push(change(
                Severity::Breaking,
                "FIELD_REMOVED",
                &coordinate,
                format!("Field `{coordinate}` was removed"),
            ));
            continue;
        };
        if old_field.ty != new_field.ty {
            let severity = if output_narrowed(&old_field.ty, &new_field.ty) {
                Severity::Safe
            } else {
                Severity::Breaking
            };
            out.push(change(
                severity,
                "FIELD_TYPE_CHANGED",
                &coordinate,
                format!(
                    "Field `{coordinate}` changed type from `{}` to `{}`",
                    old_field.ty, new_field.ty
                ),
            ));
        }
        for argument in &old_field.arguments {
            let arg_coordinate = format!("{coordinate}({}:)", argument.name);
            match new_field.argument_by_name(&argument.name) {
                None => out.push(change(
                    Severity::Breaking,
                    "ARGUMENT_REMOVED",
                    &arg_coordinate,
                    format!("Argument `{arg_coordinate}` was removed"),
                )),
                Some(new_argument) => {
                    diff_input_value(&arg_coordinate, argument, new_argument, out)
                }
            }
        }
        for argument in new_field
            .arguments
            .iter()
            .filter(|a| old_field.argument_by_name(&a.name).is_none())
        {
            let arg_coordinate = format!("{coordinate}({}:)", argument.name);
            let (severity, code) = if argument.is_required() {
                (Severity::Breaking, "REQUIRED_ARGUMENT_ADDED")
            } else {
                (Severity::Safe, "OPTIONAL_ARGUMENT_ADDED")
            };
            out.push(change(
                severity,
                code,
                &arg_coordinate,
                format!("Argument `{arg_coordinate}` was added"),
            ));
        }
    }
    for field in new.keys().filter(|f| !old.contains_key(*f)) {
        let coordinate = format!("{name}.{field}");
        out.push(change(
            Severity::Safe,
            "FIELD_ADDED",
            &coordinate,
            format!("Field `{coordinate}` was added"),
        ));
    }
}

/// An argument or input field: its type may only get looser, its default only stay.
fn diff_input_value(
    coordinate: &str,
    old: &Node<InputValueDefinition>,
    new: &Node<InputValueDefinition>,
    out: &mut Vec<Change>,
) {
    if old.ty != new.ty {
        let severity = if output_narrowed(&new.ty, &old.ty) {
            Severity::Safe
        } else {
            Severity::Breaking
        };
        out.push(change(
            severity,
            "INPUT_TYPE_CHANGED",
            coordinate,
            format!(
                "`{coordinate}` changed type from `{}` to `{}`",
                old.ty, new.ty
            ),
        ));
    }
    if old.default_value != new.default_value {
        let show = |v: &Option<Node<apollo_compiler::ast::Value>>| {
            v.as_ref().map_or("none".to_owned(), |v| v.to_string())
        };
        out.push(change(
            Severity::Dangerous,
            "DEFAULT_VALUE_CHANGED",
            coordinate,
            format!(
                "`{coordinate}` default changed from {} to {}",
                show(&old.default_value),
                show(&new.default_value)
            ),
        ));
    }
}

/// `new` is `old` with some nullable positions made non-null (so a reader gets no surprise).
fn output_narrowed(old: &Type, new: &Type) -> bool {
    match (old, new) {
        (Type::Named(a) | Type::NonNullNamed(a), Type::NonNullNamed(b)) => a == b,
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::List(a) | Type::NonNullList(a), Type::NonNullList(b)) => output_narrowed(a, b),
        (Type::List(a), Type::List(b)) => output_narrowed(a, b),
        _ => false,
    }
}

fn diff_members(
    name: &str,
    what: &str,
    old: impl Iterator<Item = String>,
    new: impl Iterator<Item = String>,
    removed: Severity,
    added: Severity,
    out: &mut Vec<Change>,
) {
    let old: Vec<String> = old.collect();
    let new: Vec<String> = new.collect();
    let code = |verb: &str| -> &'static str {
        match (what, verb) {
            ("value", "removed") => "ENUM_VALUE_REMOVED",
            ("value", _) => "ENUM_VALUE_ADDED",
            ("member", "removed") => "UNION_MEMBER_REMOVED",
            ("member", _) => "UNION_MEMBER_ADDED",
            (_, "removed") => "INTERFACE_REMOVED",
            _ => "INTERFACE_ADDED",
        }
    };
    for item in old.iter().filter(|i| !new.contains(i)) {
        out.push(change(
            removed,
            code("removed"),
            &format!("{name}.{item}"),
            format!("{what} `{item}` was removed from `{name}`"),
        ));
    }
    for item in new.iter().filter(|i| !old.contains(i)) {
        out.push(change(
            added,
            code("added"),
            &format!("{name}.{item}"),
            format!("{what} `{item}` was added to `{name}`"),
        ));
    }
}
