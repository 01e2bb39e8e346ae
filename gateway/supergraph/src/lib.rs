//! A Federation v2 supergraph as an immutable model for planning and validation.
//!
//! Input is the standard `link`/`join` supergraph SDL that Apollo's and Mosaic's composition
//! produce. From its `@join__*` directives this crate answers the planner's questions: which
//! subgraphs can resolve a field, by which keys an entity can be fetched from a subgraph, what a
//! field `@requires` or `@provides`. It also derives the API schema clients see.

mod api;
mod model;

pub use api::api_schema;
pub use model::{FieldSource, Graph, GraphId, Key, Supergraph, SupergraphError};
