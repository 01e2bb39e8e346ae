//! The reviews subgraph: what users say about products. It owns `Review`, adds `reviews` to `User`
//! and `Product`, provides authors' usernames without a trip to accounts (`@provides`), and
//! streams new reviews to subscribers.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::Schema;
use subgraph_kit::{AppResult, Context, Subgraph};

pub use graphql::{Mutation, Query, Subscription};

pub type ReviewsSchema = Schema<Query, Mutation, Subscription>;

pub struct Reviews;

impl Subgraph for Reviews {
    const NAME: &'static str = "reviews";
    const DEFAULT_PORT: u16 = 4004;
    type Migrator = reviews_migration::Migrator;

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
