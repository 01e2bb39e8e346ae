//! Composition: Federation v2 subgraph schemas → one supergraph in the standard `link`/`join`
//! SDL that Apollo Router, Apollo Gateway, Hive Gateway and Mosaic's gateway load.
//!
//! Pure and total: it returns every diagnostic it finds (each with a federation error code such
//! as `INVALID_FIELD_SHARING`, the subgraph and a message) instead of stopping at the first.
//! Steps: [`subgraph`] reads each SDL with its federation directives, [`merge`] merges types and
//! validates them, [`emit`] prints the supergraph.

mod emit;
mod fingerprint;
mod merge;
mod subgraph;

pub use fingerprint::fingerprint;
pub use subgraph::SubgraphInput;

/// A problem that stops composition, with the code the federation ecosystem uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    /// The subgraph it is about, when there is one.
    pub subgraph: Option<String>,
    /// `file:line:column` in that subgraph's SDL, when one place is to blame.
    pub location: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.code)?;
        if let Some(subgraph) = &self.subgraph {
            write!(f, "[{subgraph}] ")?;
        }
        if let Some(location) = &self.location {
            write!(f, "({location}) ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// Composes `subgraphs` (any order; they are sorted by name) into a supergraph SDL.
pub fn compose(subgraphs: &[SubgraphInput]) -> Result<String, Vec<Diagnostic>> {
    if subgraphs.is_empty() {
        return Err(vec![Diagnostic {
            location: None,
            code: "NO_SUBGRAPHS",
            subgraph: None,
            message: "there are no subgraphs to compose".into(),
        }]);
    }
    let mut inputs: Vec<&SubgraphInput> = subgraphs.iter().collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut errors = Vec::new();
    for pair in inputs.windows(2) {
        if pair[0].name == pair[1].name {
            errors.push(Diagnostic {
                location: None,
                code: "INVALID_SUBGRAPH_NAME",
                subgraph: Some(pair[0].name.clone()),
                message: "two subgraphs have this name".into(),
            });
        }
    }
    let parsed: Vec<_> = inputs
        .iter()
        .filter_map(|input| {
            subgraph::Subgraph::parse(input)
                .map_err(|e| errors.extend(e))
                .ok()
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let merged = merge::merge(&parsed)?;
    Ok(emit::emit(&parsed, &merged))
}
