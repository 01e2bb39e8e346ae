//! The query planner: a client operation over a supergraph → a [`QueryPlan`] of subgraph fetches.
//!
//! Pure: no I/O, no async, no HTTP types. The plan is plain data with a pretty-printer, so it is
//! snapshot-tested, cached, shown by `mosaic plan` and executed by the gateway's executor.

mod build;
mod conflicts;
mod plan;
mod selection;

pub use build::{PlanError, plan};
pub use plan::{EntityInput, FetchNode, PathSegment, PlanNode, QueryPlan, Rename, Requires};
pub use selection::{Selection, Selections};
