//! The selections a fetch sends to one subgraph: built up field by field while planning, merged
//! by response key, then printed as the subgraph operation's text.

use std::fmt::Write;

use apollo_compiler::{Name, Node, ast};
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Selections(pub Vec<Selection>);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum Selection {
    Field {
        #[serde(skip_serializing_if = "Option::is_none")]
        alias: Option<Name>,
        name: Name,
        #[serde(skip)]
        arguments: Vec<Node<ast::Argument>>,
        #[serde(skip)]
        directives: ast::DirectiveList,
        #[serde(skip_serializing_if = "Option::is_none")]
        selections: Option<Selections>,
    },
    InlineFragment {
        #[serde(rename = "typeCondition", skip_serializing_if = "Option::is_none")]
        type_condition: Option<Name>,
        #[serde(skip)]
        directives: ast::DirectiveList,
        selections: Selections,
    },
}

impl Selection {
    pub fn leaf(name: Name) -> Self {
        Self::Field {
            alias: None,
            name,
            arguments: Vec::new(),
            directives: ast::DirectiveList::new(),
            selections: None,
        }
    }

    pub fn typename() -> Self {
        Self::leaf(Name::new_static_unchecked("__typename"))
    }

    /// Whether `other` selects the same thing and can be merged into `self`.
    fn same_slot(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::Field {
                    alias: a1,
                    name: n1,
                    arguments: ar1,
                    directives: d1,
                    ..
                },
                Self::Field {
                    alias: a2,
                    name: n2,
                    arguments: ar2,
                    directives: d2,
                    ..
                },
            ) => a1 == a2 && n1 == n2 && ar1 == ar2 && d1 == d2,
            (
                Self::InlineFragment {
                    type_condition: t1,
                    directives: d1,
                    ..
                },
                Self::InlineFragment {
                    type_condition: t2,
                    directives: d2,
                    ..
                },
            ) => t1 == t2 && d1 == d2,
            _ => false,
        }
    }

    fn children_mut(&mut self) -> Option<&mut Selections> {
        match self {
            Self::Field { selections, .. } => selections.as_mut(),
            Self::InlineFragment { selections, .. } => Some(selections),
        }
    }

    fn into_children(self) -> Option<Selections> {
        match self {
            Self::Field { selections, .. } => selections,
            Self::InlineFragment { selections, .. } => Some(selections),
        }
    }
}

impl Selections {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `selection`, merging it into an existing one for the same slot.
    pub fn add(&mut self, selection: Selection) {
        match self.0.iter_mut().find(|s| s.same_slot(&selection)) {
            Some(existing) => {
                if let (Some(into), Some(from)) =
                    (existing.children_mut(), selection.into_children())
                {
                    into.merge(from);
                }
            }
            None => self.0.push(selection),
        }
    }

    pub fn merge(&mut self, other: Selections) {
        for selection in other.0 {
            self.add(selection);
        }
    }

    /// GraphQL text, `{ ... }` included.
    pub fn write(&self, out: &mut String) {
        out.push('{');
        for (i, selection) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match selection {
                Selection::Field {
                    alias,
                    name,
                    arguments,
                    directives,
                    selections,
                } => {
                    if let Some(alias) = alias {
                        let _ = write!(out, "{alias}: ");
                    }
                    out.push_str(name);
                    if !arguments.is_empty() {
                        out.push('(');
                        for (j, argument) in arguments.iter().enumerate() {
                            if j > 0 {
                                out.push_str(", ");
                            }
                            let _ = write!(out, "{}: {}", argument.name, argument.value);
                        }
                        out.push(')');
                    }
                    write_directives(out, directives);
                    if let Some(selections) = selections {
                        out.push(' ');
                        selections.write(out);
                    }
                }
                Selection::InlineFragment {
                    type_condition,
                    directives,
                    selections,
                } => {
                    out.push_str("...");
                    if let Some(type_condition) = type_condition {
                        let _ = write!(out, " on {type_condition}");
                    }
                    write_directives(out, directives);
                    out.push(' ');
                    selections.write(out);
                }
            }
        }
        out.push('}');
    }

    /// Names of the variables the selections use, in first-use order.
    pub fn variables(&self, found: &mut Vec<Name>) {
        for selection in &self.0 {
            match selection {
                Selection::Field {
                    arguments,
                    directives,
                    selections,
                    ..
                } => {
                    for argument in arguments {
                        value_variables(&argument.value, found);
                    }
                    directive_variables(directives, found);
                    if let Some(selections) = selections {
                        selections.variables(found);
                    }
                }
                Selection::InlineFragment {
                    directives,
                    selections,
                    ..
                } => {
                    directive_variables(directives, found);
                    selections.variables(found);
                }
            }
        }
    }
}

fn write_directives(out: &mut String, directives: &ast::DirectiveList) {
    for directive in directives.iter() {
        let _ = write!(out, " {directive}");
    }
}

fn directive_variables(directives: &ast::DirectiveList, found: &mut Vec<Name>) {
    for directive in directives.iter() {
        for argument in &directive.arguments {
            value_variables(&argument.value, found);
        }
    }
}

fn value_variables(value: &ast::Value, found: &mut Vec<Name>) {
    match value {
        ast::Value::Variable(name) if !found.contains(name) => found.push(name.clone()),
        ast::Value::List(items) => items.iter().for_each(|v| value_variables(v, found)),
        ast::Value::Object(fields) => fields.iter().for_each(|(_, v)| value_variables(v, found)),
        _ => {}
    }
}
