//! The accounts subgraph: users, sign-up and login. It owns the `User` entity and signs the JWTs
//! every other subgraph (and later the gateway) verifies.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::{EmptySubscription, Schema};
use subgraph_kit::{AppResult, Context, Subgraph};

pub use graphql::{Mutation, Query};

pub type AccountsSchema = Schema<Query, Mutation, EmptySubscription>;

pub struct Accounts;

impl Subgraph for Accounts {
    const NAME: &'static str = "accounts";
    const DEFAULT_PORT: u16 = 4001;
    type Migrator = accounts_migration::Migrator;

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
