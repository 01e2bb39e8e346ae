//! The inventory subgraph: stock levels. It extends `Product` with `inStock`, `quantity` and a
//! `shippingEstimate` computed from the catalog's price and weight (`@requires`), and streams
//! stock changes to subscribers.

mod entity;
mod graphql;
mod seed;
mod service;

use async_graphql::Schema;
use sea_orm::DatabaseConnection;
use service::QuantityByUpc;
use subgraph_kit::demo::Dataset;
use subgraph_kit::loader::BatchLoader;
use subgraph_kit::{AppResult, Builder, Subgraph};

use graphql::{Mutation, Query, Subscription};

pub struct Inventory;

impl Subgraph for Inventory {
    const NAME: &'static str = "inventory";
    const DEFAULT_PORT: u16 = 4003;
    type Migrator = inventory_migration::Migrator;
    type Query = Query;
    type Mutation = Mutation;
    type Subscription = Subscription;

    fn schema_builder() -> Builder<Self> {
        Schema::build(Query, Mutation, Subscription)
    }

    fn with_loaders(builder: Builder<Self>, db: &DatabaseConnection) -> Builder<Self> {
        builder.data(BatchLoader::new(QuantityByUpc(db.clone())))
    }

    async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
        seed::seed(db, dataset).await
    }
}
