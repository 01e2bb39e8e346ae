//! What every Mosaic subgraph shares, so that the four domain crates only hold their domain.
//!
//! A subgraph implements [`Subgraph`] (name, port, migrator, schema, seed) and gets from this crate
//! its command line ([`cli`]), its database bootstrap ([`db`]), who is calling ([`caller`]), stable
//! error codes ([`error`]), an event bus for subscriptions ([`bus`]) and its HTTP + websocket server
//! ([`server`]).

pub mod bus;
pub mod caller;
pub mod cli;
pub mod db;
pub mod demo;
pub mod error;
pub mod graphql;
pub mod loader;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

pub use bus::{EventBus, LocalBus};
pub use caller::{Auth, Caller};
pub use error::{AppError, AppResult};

/// Everything a running subgraph's resolvers need, handed to [`Subgraph::app`].
#[derive(Clone)]
pub struct Context {
    pub db: DatabaseConnection,
    pub auth: Arc<Auth>,
    pub bus: Arc<dyn EventBus>,
}

/// One domain subgraph: the seam between the shared bootstrap and the domain code.
pub trait Subgraph: 'static {
    /// Service name, also the file name of its SDL under `schema/`.
    const NAME: &'static str;
    /// Port it listens on by default (on 127.0.0.1).
    const DEFAULT_PORT: u16;
    /// The subgraph's own migrations.
    type Migrator: MigratorTrait;

    /// The subgraph's GraphQL API, served at `/graphql` (HTTP and websocket).
    fn router(ctx: Context) -> axum::Router;

    /// The Federation v2 SDL the subgraph serves in `_service { sdl }`.
    fn sdl() -> String;

    /// Loads the deterministic demo data into an empty database; does nothing otherwise.
    fn seed(db: &DatabaseConnection) -> impl Future<Output = AppResult<()>> + Send;
}
