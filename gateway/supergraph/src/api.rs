//! The API schema: the supergraph minus federation machinery and `@inaccessible` elements.
//! Clients are validated and introspected against it, never against the supergraph itself.

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Schema, ast};

use crate::SupergraphError;

/// Directives that stay visible to clients.
const KEPT_DIRECTIVES: &[&str] = &["deprecated", "specifiedBy", "oneOf", "skip", "include"];

pub fn api_schema(supergraph: &Valid<Schema>) -> Result<Valid<Schema>, SupergraphError> {
    let mut schema = supergraph.clone().into_inner();
    schema.schema_definition.make_mut().directives.clear();
    schema
        .directive_definitions
        .retain(|name, def| KEPT_DIRECTIVES.contains(&name.as_str()) || def.is_built_in());
    schema.types.retain(|name, ty| {
        !(name.starts_with("join__")
            || name.starts_with("link__")
            || ty.directives().has("inaccessible"))
    });
    for ty in schema.types.values_mut() {
        strip_type(ty);
    }
    schema
        .validate()
        .map_err(|e| SupergraphError::Invalid(format!("API schema: {}", e.errors)))
}

fn strip_type(ty: &mut ExtendedType) {
    match ty {
        ExtendedType::Object(o) => {
            let o = o.make_mut();
            o.directives.retain(|d| keep(&d.name));
            o.fields.retain(|_, f| !f.directives.has("inaccessible"));
            for field in o.fields.values_mut() {
                let field = field.make_mut();
                field.directives.retain(|d| keep(&d.name));
                strip_arguments(&mut field.arguments);
            }
        }
        ExtendedType::Interface(i) => {
            let i = i.make_mut();
            i.directives.retain(|d| keep(&d.name));
            i.fields.retain(|_, f| !f.directives.has("inaccessible"));
            for field in i.fields.values_mut() {
                let field = field.make_mut();
                field.directives.retain(|d| keep(&d.name));
                strip_arguments(&mut field.arguments);
            }
        }
        ExtendedType::Union(u) => {
            let u = u.make_mut();
            u.directives.retain(|d| keep(&d.name));
        }
        ExtendedType::Enum(e) => {
            let e = e.make_mut();
            e.directives.retain(|d| keep(&d.name));
            e.values.retain(|_, v| !v.directives.has("inaccessible"));
            for value in e.values.values_mut() {
                value.make_mut().directives.retain(|d| keep(&d.name));
            }
        }
        ExtendedType::InputObject(input) => {
            let input = input.make_mut();
            input.directives.retain(|d| keep(&d.name));
            input
                .fields
                .retain(|_, f| !f.directives.has("inaccessible"));
            for field in input.fields.values_mut() {
                field.make_mut().directives.retain(|d| keep(&d.name));
            }
        }
        ExtendedType::Scalar(s) => s.make_mut().directives.retain(|d| keep(&d.name)),
    }
}

fn strip_arguments(arguments: &mut Vec<apollo_compiler::Node<ast::InputValueDefinition>>) {
    arguments.retain(|a| !a.directives.has("inaccessible"));
    for argument in arguments {
        argument.make_mut().directives.retain(|d| keep(&d.name));
    }
}

fn keep(name: &str) -> bool {
    KEPT_DIRECTIVES.contains(&name)
}
