//! Operation limits, checked on the parsed document before validation so that a hostile
//! operation costs no more than its walk: depth, height (selections visited once fragments are
//! expanded), aliases and root fields. The walk stops at the first bound it crosses, so fragment
//! "bombs" (fragments spreading each other many times) end early.

use std::collections::HashMap;

use apollo_compiler::ast::{self, Definition, Document, Selection};

use crate::config::LimitsConfig;

/// The bound an operation crossed; each has its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("the operation is nested deeper than {0} fields")]
    Depth(usize),
    #[error("the operation has more than {0} selections (fragments expanded)")]
    Height(usize),
    #[error("the operation uses more than {0} aliases")]
    Aliases(usize),
    #[error("the operation has more than {0} root fields")]
    RootFields(usize),
}

impl LimitExceeded {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Depth(_) => "MAX_DEPTH_LIMIT",
            Self::Height(_) => "MAX_HEIGHT_LIMIT",
            Self::Aliases(_) => "MAX_ALIASES_LIMIT",
            Self::RootFields(_) => "MAX_ROOT_FIELDS_LIMIT",
        }
    }
}

/// Checks every operation of `document` (validation picks the one to run later).
pub fn check(document: &Document, limits: &LimitsConfig) -> Result<(), LimitExceeded> {
    let fragments: HashMap<&str, &ast::FragmentDefinition> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::FragmentDefinition(f) => Some((f.name.as_str(), &**f)),
            _ => None,
        })
        .collect();
    for definition in &document.definitions {
        if let Definition::OperationDefinition(operation) = definition {
            let mut walk = Walk {
                limits,
                fragments: &fragments,
                height: 0,
                aliases: 0,
                spread_depth: 0,
            };
            let roots = walk.count_roots(&operation.selection_set)?;
            if roots > limits.max_root_fields {
                return Err(LimitExceeded::RootFields(limits.max_root_fields));
            }
            walk.selections(&operation.selection_set, 0)?;
        }
    }
    Ok(())
}

struct Walk<'a> {
    limits: &'a LimitsConfig,
    fragments: &'a HashMap<&'a str, &'a ast::FragmentDefinition>,
    height: usize,
    aliases: usize,
    /// Fragment spreads being expanded inside one another (cycles are caught here, before
    /// validation would report them).
    spread_depth: usize,
}

impl Walk<'_> {
    fn selections(&mut self, set: &[Selection], depth: usize) -> Result<(), LimitExceeded> {
        for selection in set {
            // Every selection visited counts, spreads too: a chain of fragments that each spread
            // the next many times (even to a fragment that does not exist) runs out here.
            self.height += 1;
            if self.height > self.limits.max_height {
                return Err(LimitExceeded::Height(self.limits.max_height));
            }
            match selection {
                Selection::Field(field) => {
                    if field.alias.is_some() {
                        self.aliases += 1;
                        if self.aliases > self.limits.max_aliases {
                            return Err(LimitExceeded::Aliases(self.limits.max_aliases));
                        }
                    }
                    if !field.selection_set.is_empty() {
                        if depth + 1 >= self.limits.max_depth {
                            return Err(LimitExceeded::Depth(self.limits.max_depth));
                        }
                        self.selections(&field.selection_set, depth + 1)?;
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.selections(&inline.selection_set, depth)?
                }
                Selection::FragmentSpread(spread) => {
                    self.spread(spread, |walk, set| walk.selections(set, depth))?
                }
            }
        }
        Ok(())
    }

    /// Root fields, counted through fragments on the root type.
    fn count_roots(&mut self, set: &[Selection]) -> Result<usize, LimitExceeded> {
        let mut count = 0;
        for selection in set {
            count += match selection {
                Selection::Field(_) => 1,
                Selection::InlineFragment(inline) => self.count_roots(&inline.selection_set)?,
                Selection::FragmentSpread(spread) => {
                    let mut inner = 0;
                    self.spread(spread, |walk, set| {
                        inner = walk.count_roots(set)?;
                        Ok(())
                    })?;
                    inner
                }
            };
            if count > self.limits.max_root_fields {
                return Err(LimitExceeded::RootFields(self.limits.max_root_fields));
            }
        }
        Ok(count)
    }

    fn spread(
        &mut self,
        spread: &ast::FragmentSpread,
        mut then: impl FnMut(&mut Self, &[Selection]) -> Result<(), LimitExceeded>,
    ) -> Result<(), LimitExceeded> {
        let Some(fragment) = self.fragments.get(spread.fragment_name.as_str()) else {
            return Ok(()); // validation reports the unknown fragment
        };
        if self.spread_depth >= self.limits.max_depth {
            return Err(LimitExceeded::Depth(self.limits.max_depth));
        }
        self.spread_depth += 1;
        let result = then(self, &fragment.selection_set);
        self.spread_depth -= 1;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str) -> Result<(), LimitExceeded> {
        let document = Document::parse(query, "q.graphql").expect("parses");
        let limits = LimitsConfig {
            max_depth: 4,
            max_height: 20,
            max_aliases: 2,
            max_root_fields: 2,
            ..LimitsConfig::default()
        };
        check(&document, &limits)
    }

    #[test]
    fn each_bound_has_its_error() {
        assert_eq!(run("{ a { b { c } } }"), Ok(()));
        assert_eq!(
            run("{ a { b { c { d { e } } } } }"),
            Err(LimitExceeded::Depth(4))
        );
        assert_eq!(run("{ x: a y: a z: a }"), Err(LimitExceeded::RootFields(2)));
        assert_eq!(
            run("{ a { x: b y: b z: b } }"),
            Err(LimitExceeded::Aliases(2))
        );
        let bomb = "{ a { ...F0 } } fragment F0 on T { ...F1 ...F1 } fragment F1 on T { ...F2 ...F2 } \
                    fragment F2 on T { ...F3 ...F3 } fragment F3 on T { b c d e f g h }";
        assert_eq!(run(bomb), Err(LimitExceeded::Height(20)));
        let cycle = "{ a { ...F } } fragment F on T { b ...G } fragment G on T { c ...F }";
        assert!(run(cycle).is_err());
        let chain: String = (0..30)
            .map(|i| {
                format!(
                    "fragment A{i} on T {{ {} }} ",
                    format!("...A{} ", i + 1).repeat(10)
                )
            })
            .collect();
        let unknown_bomb = format!("{{ a {{ ...A0 }} }} {chain}");
        assert!(run(&unknown_bomb).is_err());
    }
}
