//! The products subgraph: the catalog. It owns the `Product` entity (name, price, weight) and its
//! writes, which need the `products:write` scope.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::{EmptySubscription, Schema};
use sea_orm::DatabaseConnection;
use service::ProductByUpc;
use subgraph_kit::demo::Dataset;
use subgraph_kit::loader::BatchLoader;
use subgraph_kit::{AppResult, Builder, Subgraph};

use graphql::{Mutation, Query};

pub struct Products;

impl Subgraph for Products {
    const NAME: &'static str = "products";
    const DEFAULT_PORT: u16 = 4002;
    type Migrator = products_migration::Migrator;
    type Query = Query;
    type Mutation = Mutation;
    type Subscription = EmptySubscription;

    fn schema_builder() -> Builder<Self> {
        Schema::build(Query, Mutation, EmptySubscription)
    }

    fn with_loaders(builder: Builder<Self>, db: &DatabaseConnection) -> Builder<Self> {
        builder.data(BatchLoader::new(ProductByUpc(db.clone())))
    }

    async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
        seed::seed(db, dataset).await
    }
}
