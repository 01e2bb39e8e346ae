//! The products subgraph: the catalog. It owns the `Product` entity (name, price, weight) and its
//! writes, which need the `products:write` scope.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{AppResult, Context, Subgraph};

pub use graphql::{Mutation, Query};

pub type ProductsSchema = Schema<Query, Mutation, EmptySubscription>;

pub struct Products;

impl Subgraph for Products {
    const NAME: &'static str = "products";
    const DEFAULT_PORT: u16 = 4002;
    type Migrator = products_migration::Migrator;

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
