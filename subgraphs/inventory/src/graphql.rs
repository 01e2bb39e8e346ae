//! The inventory GraphQL API: resolvers only; data access lives in `service`.

use async_graphql::{Context, Object, ResultExt, Subscription as SubscriptionMacro};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use subgraph_kit::bus::{publish_json, subscribe_json};
use subgraph_kit::graphql::{bus, caller, db};
use subgraph_kit::loader::BatchLoader;

use crate::service::{self, QuantityByUpc};

const STOCK_CHANGED: &str = "inventory.stock_changed";

/// The warehouse's view of a catalog product.
#[derive(Clone, Serialize, Deserialize)]
pub struct Product {
    upc: String,
    quantity: i32,
    /// From the representation, for `shippingEstimate`.
    price: Option<i32>,
    weight: Option<i32>,
}

#[Object]
impl Product {
    async fn upc(&self) -> &str {
        &self.upc
    }

    #[graphql(external)]
    async fn price(&self) -> Option<i32> {
        self.price
    }

    #[graphql(external)]
    async fn weight(&self) -> Option<i32> {
        self.weight
    }

    async fn in_stock(&self) -> bool {
        self.quantity > 0
    }

    /// Units on hand.
    async fn quantity(&self) -> i32 {
        self.quantity
    }

    /// Shipping cost in cents, from the catalog's price and weight.
    #[graphql(requires = "price weight")]
    async fn shipping_estimate(&self) -> Option<i32> {
        Some(service::shipping_estimate(self.price?, self.weight?))
    }
}

pub struct Query;

#[Object]
impl Query {
    #[graphql(entity)]
    async fn find_product_by_upc(
        &self,
        ctx: &Context<'_>,
        #[graphql(key)] upc: String,
        price: Option<i32>,
        weight: Option<i32>,
    ) -> async_graphql::Result<Product> {
        let loader = ctx.data_unchecked::<BatchLoader<QuantityByUpc>>();
        let quantity = loader.load_one(upc.clone()).await.extend()?.unwrap_or(0);
        Ok(Product {
            upc,
            quantity,
            price,
            weight,
        })
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds units to a product's stock. Needs the `inventory:write` scope.
    #[graphql(requires_scopes = "inventory:write")]
    async fn restock(
        &self,
        ctx: &Context<'_>,
        upc: String,
        quantity: i32,
    ) -> async_graphql::Result<Product> {
        caller(ctx).require_scope("inventory:write").extend()?;
        let quantity = service::restock(db(ctx), &upc, quantity).await.extend()?;
        let product = Product {
            upc,
            quantity,
            price: None,
            weight: None,
        };
        publish_json(bus(ctx), STOCK_CHANGED, &product);
        Ok(product)
    }
}

pub struct Subscription;

#[SubscriptionMacro]
impl Subscription {
    /// Stock changes after they are committed, for one product or (without `upc`) all.
    async fn stock_changed(
        &self,
        ctx: &Context<'_>,
        upc: Option<String>,
    ) -> impl Stream<Item = Product> + use<> {
        subscribe_json::<Product>(bus(ctx), STOCK_CHANGED).filter(move |product| {
            std::future::ready(upc.as_ref().is_none_or(|upc| *upc == product.upc))
        })
    }
}
