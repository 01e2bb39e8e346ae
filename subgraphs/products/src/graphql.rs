//! The products GraphQL API: resolvers only; data access lives in `service`.

use async_graphql::{Context, InputObject, Object, ResultExt, SimpleObject};
use subgraph_kit::graphql::{PageInfo, caller, db, page_size, paginate};
use subgraph_kit::loader::BatchLoader;

use crate::entity::product;
use crate::service::{self, NewProduct, ProductByUpc};

/// An item of the catalog.
pub struct Product(product::Model);

#[Object(tag = "catalog")]
impl Product {
    /// Universal product code: the product's key.
    async fn upc(&self) -> &str {
        &self.0.upc
    }

    async fn name(&self) -> Option<&str> {
        Some(&self.0.name)
    }

    /// Price in cents.
    async fn price(&self) -> Option<i32> {
        Some(self.0.price)
    }

    /// Weight in grams.
    async fn weight(&self) -> Option<i32> {
        Some(self.0.weight)
    }

    /// Purchase cost in cents: composed for other subgraphs, never shown to clients.
    #[graphql(inaccessible)]
    async fn cost(&self) -> i32 {
        self.0.cost
    }
}

/// One page of products.
#[derive(SimpleObject)]
pub struct ProductPage {
    pub nodes: Vec<Product>,
    pub page_info: PageInfo,
}

#[derive(InputObject)]
pub struct ProductInput {
    pub upc: String,
    pub name: String,
    pub price: i32,
    pub weight: i32,
    #[graphql(default)]
    pub cost: i32,
}

impl From<ProductInput> for NewProduct {
    fn from(input: ProductInput) -> Self {
        Self {
            upc: input.upc,
            name: input.name,
            price: input.price,
            weight: input.weight,
            cost: input.cost,
        }
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The first `first` products of the catalog (at most 100).
    #[graphql(tag = "catalog")]
    async fn top_products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 5)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Product>> {
        let limit = page_size(first.unwrap_or(5), service::MAX_PAGE).extend()?;
        Ok(service::top(db(ctx), limit)
            .await
            .extend()?
            .into_iter()
            .map(Product)
            .collect())
    }

    async fn product(
        &self,
        ctx: &Context<'_>,
        upc: String,
    ) -> async_graphql::Result<Option<Product>> {
        let loader = ctx.data_unchecked::<BatchLoader<ProductByUpc>>();
        Ok(loader.load_one(upc).await.extend()?.map(Product))
    }

    /// Products page by page, in code order.
    async fn products_page(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ProductPage> {
        let limit = page_size(first.unwrap_or(20), service::MAX_PAGE).extend()?;
        let rows = service::page(db(ctx), after.as_deref(), limit + 1)
            .await
            .extend()?;
        let (rows, page_info) = paginate(rows, limit, |p| p.upc.clone());
        Ok(ProductPage {
            nodes: rows.into_iter().map(Product).collect(),
            page_info,
        })
    }

    #[graphql(entity)]
    async fn find_product_by_upc(
        &self,
        ctx: &Context<'_>,
        upc: String,
    ) -> async_graphql::Result<Option<Product>> {
        self.product(ctx, upc).await
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds a product to the catalog. Needs the `products:write` scope.
    #[graphql(requires_scopes = "products:write")]
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: ProductInput,
    ) -> async_graphql::Result<Product> {
        let created = self.create_products(ctx, vec![input]).await?;
        Ok(created
            .into_iter()
            .next()
            .expect("one input makes one product"))
    }

    /// Adds up to 100 products at once, all or none. Needs the `products:write` scope.
    #[graphql(requires_scopes = "products:write")]
    async fn create_products(
        &self,
        ctx: &Context<'_>,
        input: Vec<ProductInput>,
    ) -> async_graphql::Result<Vec<Product>> {
        caller(ctx).require_scope("products:write").extend()?;
        let new = input.into_iter().map(NewProduct::from).collect();
        Ok(service::create(db(ctx), new)
            .await
            .extend()?
            .into_iter()
            .map(Product)
            .collect())
    }

    /// Changes a product's price; null when no product has that code. Needs `products:write`.
    #[graphql(requires_scopes = "products:write")]
    async fn update_product_price(
        &self,
        ctx: &Context<'_>,
        upc: String,
        price: i32,
    ) -> async_graphql::Result<Option<Product>> {
        caller(ctx).require_scope("products:write").extend()?;
        Ok(service::set_price(db(ctx), &upc, price)
            .await
            .extend()?
            .map(Product))
    }
}
