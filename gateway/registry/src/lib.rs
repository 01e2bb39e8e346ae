//! Registry checks: what a proposed schema change does to the API clients see.
//!
//! [`diff`] compares two API schemas and classifies each change the way schema-registry tools do
//! (breaking / dangerous / safe); [`check_operations`] validates known client operations against
//! the proposed API schema.

mod diff;

pub use diff::{Change, Severity, diff};

use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde::Serialize;

/// A known client operation that no longer validates.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenOperation {
    /// Where the operation came from (e.g. its file).
    pub source: String,
    pub errors: Vec<String>,
}

/// Validates each `(source, text)` operation document against `schema`.
pub fn check_operations(
    schema: &Valid<Schema>,
    operations: &[(String, String)],
) -> Vec<BrokenOperation> {
    operations
        .iter()
        .filter_map(|(source, text)| {
            let errors =
                ExecutableDocument::parse_and_validate(schema, text, source.as_str()).err()?;
            Some(BrokenOperation {
                source: source.clone(),
                errors: errors.errors.iter().map(|d| d.error.to_string()).collect(),
            })
        })
        .collect()
}
