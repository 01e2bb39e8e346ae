//! The Mosaic gateway: serves one GraphQL API over a Federation v2 supergraph.
//!
//! One module per step of a request: [`http`] (transport) → [`pipeline`] (parse, validate, plan
//! with a cache) → [`execute`] (subgraph fetches) → [`response`] (shaping). [`serve`] starts it
//! and swaps in a new supergraph when its file changes.

pub mod auth;
pub mod authorization;
pub mod config;
pub mod dedup;
pub mod entities;
pub mod execute;
pub mod headers;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod pipeline;
pub mod playground;
pub mod registry;
pub mod response;
pub mod serve;
pub mod transport;
pub mod tree;
pub mod upstream;
pub mod ws;
