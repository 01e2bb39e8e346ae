//! What every Mosaic subgraph shares, so that the four domain crates only hold their domain.
//!
//! A subgraph implements [`Subgraph`] (name, port, migrator, schema, seed) and gets from this crate
//! its command line ([`cli`]), its database bootstrap ([`db`]), who is calling ([`caller`]), stable
//! error codes ([`error`]), an event bus for subscriptions ([`bus`]), an optional response cache
//! ([`cache`]) and its HTTP + websocket server ([`server`]).

pub mod bus;
pub mod cache;
pub mod caller;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod loader;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;
use std::sync::Arc;

use async_graphql::{ObjectType, SchemaBuilder, SubscriptionType};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

pub use bus::{EventBus, LocalBus, NatsBus};
pub use caller::{Auth, Caller};
pub use error::{AppError, AppResult};

/// Everything a running subgraph needs, handed to [`Subgraph::app`].
#[derive(Clone)]
pub struct Context {
    pub db: DatabaseConnection,
    pub auth: Arc<Auth>,
    pub bus: Arc<dyn EventBus>,
    /// Answers to read-only operations, when `--response-cache-seconds` is set.
    pub cache: Option<Arc<cache::ResponseCache>>,
}

/// The root types of a subgraph's schema.
pub type Builder<S> =
    SchemaBuilder<<S as Subgraph>::Query, <S as Subgraph>::Mutation, <S as Subgraph>::Subscription>;

/// One domain subgraph: the seam between the shared bootstrap and the domain code. The kit turns
/// it into a schema ([`server::schema`]), a router ([`server::router`]) and an SDL ([`server::sdl`]).
pub trait Subgraph: 'static {
    /// Service name, also the file name of its SDL under `schema/`.
    const NAME: &'static str;
    /// Port it listens on by default (on 127.0.0.1).
    const DEFAULT_PORT: u16;
    /// The subgraph's own migrations.
    type Migrator: MigratorTrait;
    type Query: ObjectType + 'static;
    type Mutation: ObjectType + 'static;
    type Subscription: SubscriptionType + 'static;

    /// The root types, plus any type no field reaches (e.g. an interface), without data.
    fn schema_builder() -> Builder<Self>;

    /// Adds the subgraph's DataLoaders; the pool, `Arc<Auth>` and the bus are added by the kit.
    fn with_loaders(builder: Builder<Self>, db: &DatabaseConnection) -> Builder<Self>;

    /// Loads the deterministic `dataset` into an empty database; does nothing otherwise.
    fn seed(
        db: &DatabaseConnection,
        dataset: demo::Dataset,
    ) -> impl Future<Output = AppResult<()>> + Send;
}
