//! The reviews subgraph: what users say about products. It owns `Review`, adds `reviews` to `User`
//! and `Product`, provides authors' usernames without a trip to accounts (`@provides`), and
//! streams new reviews to subscribers.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::Schema;
use sea_orm::DatabaseConnection;
use service::{ReviewById, ReviewsByAuthor, ReviewsByProduct};
use subgraph_kit::demo::Dataset;
use subgraph_kit::loader::BatchLoader;
use subgraph_kit::{AppResult, Builder, Subgraph};

use graphql::{Mutation, Query, Subscription};

pub struct Reviews;

impl Subgraph for Reviews {
    const NAME: &'static str = "reviews";
    const DEFAULT_PORT: u16 = 4004;
    type Migrator = reviews_migration::Migrator;
    type Query = Query;
    type Mutation = Mutation;
    type Subscription = Subscription;

    fn schema_builder() -> Builder<Self> {
        Schema::build(Query, Mutation, Subscription).register_output_type::<graphql::Node>()
    }

    fn with_loaders(builder: Builder<Self>, db: &DatabaseConnection) -> Builder<Self> {
        builder
            .data(BatchLoader::new(ReviewById(db.clone())))
            .data(BatchLoader::new(ReviewsByAuthor(db.clone())))
            .data(BatchLoader::new(ReviewsByProduct(db.clone())))
    }

    async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
        seed::seed(db, dataset).await
    }
}
