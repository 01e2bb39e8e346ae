//! The inventory subgraph: stock levels. It extends `Product` with `inStock`, `quantity` and a
//! `shippingEstimate` computed from the catalog's price and weight (`@requires`), and streams
//! stock changes to subscribers.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::Schema;
use subgraph_kit::{AppResult, Context, Subgraph};

pub use graphql::{Mutation, Query, Subscription};

pub type InventorySchema = Schema<Query, Mutation, Subscription>;

pub struct Inventory;

impl Subgraph for Inventory {
    const NAME: &'static str = "inventory";
    const DEFAULT_PORT: u16 = 4003;
    type Migrator = inventory_migration::Migrator;

    fn router(ctx: Context) -> axum::Router {
        subgraph_kit::server::graphql_router(graphql::schema(ctx.clone()), ctx.auth)
    }

    fn sdl() -> String {
        subgraph_kit::server::federation_sdl(&graphql::schema_builder().finish())
    }

    async fn seed(db: &sea_orm::DatabaseConnection) -> AppResult<()> {
        seed::seed(db).await
    }
}
