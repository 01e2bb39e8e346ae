//! The accounts subgraph: users, sign-up and login. It owns the `User` entity and signs the JWTs
//! every other subgraph (and later the gateway) verifies.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::{EmptySubscription, Schema};
use sea_orm::DatabaseConnection;
use service::{UserById, UserByUsername};
use subgraph_kit::demo::Dataset;
use subgraph_kit::loader::BatchLoader;
use subgraph_kit::{AppResult, Builder, Subgraph};

use graphql::{Mutation, Query};

pub struct Accounts;

impl Subgraph for Accounts {
    const NAME: &'static str = "accounts";
    const DEFAULT_PORT: u16 = 4001;
    type Migrator = accounts_migration::Migrator;
    type Query = Query;
    type Mutation = Mutation;
    type Subscription = EmptySubscription;

    fn schema_builder() -> Builder<Self> {
        Schema::build(Query, Mutation, EmptySubscription)
    }

    fn with_loaders(builder: Builder<Self>, db: &DatabaseConnection) -> Builder<Self> {
        builder
            .data(BatchLoader::new(UserById(db.clone())))
            .data(BatchLoader::new(UserByUsername(db.clone())))
    }

    async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
        seed::seed(db, dataset).await
    }
}
