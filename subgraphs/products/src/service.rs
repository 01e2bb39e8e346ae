//! The products service layer: every SeaORM query and command, no GraphQL types.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use subgraph_kit::error::{check_len, check_range, conflict_on_unique};
use subgraph_kit::loader::index_by;
use subgraph_kit::{AppError, AppResult};

use crate::entity::product;

/// Upper bound on one list of products, and on one batch of new products.
pub const MAX_PAGE: u64 = 100;
const MAX_PRICE: i32 = 100_000_000;

/// Products by code, one `SELECT ... WHERE upc IN (...)` per batch.
pub struct ProductByUpc(pub DatabaseConnection);

impl Loader<String> for ProductByUpc {
    type Value = product::Model;
    type Error = AppError;

    async fn load(&self, upcs: &[String]) -> AppResult<HashMap<String, product::Model>> {
        let rows = product::Entity::find()
            .filter(product::Column::Upc.is_in(upcs.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(index_by(rows, |p| p.upc.clone()))
    }
}

/// The first `limit` products of the catalog, oldest first.
pub async fn top(db: &DatabaseConnection, limit: u64) -> AppResult<Vec<product::Model>> {
    Ok(product::Entity::find()
        .order_by_asc(product::Column::CreatedAt)
        .order_by_asc(product::Column::Upc)
        .limit(limit)
        .all(db)
        .await?)
}

/// Up to `limit` products with a code after `after`, in code order.
pub async fn page(
    db: &DatabaseConnection,
    after: Option<&str>,
    limit: u64,
) -> AppResult<Vec<product::Model>> {
    let mut query = product::Entity::find().order_by_asc(product::Column::Upc);
    if let Some(after) = after {
        query = query.filter(product::Column::Upc.gt(after));
    }
    Ok(query.limit(limit).all(db).await?)
}

pub struct NewProduct {
    pub upc: String,
    pub name: String,
    pub price: i32,
    pub weight: i32,
    pub cost: i32,
}

impl NewProduct {
    fn validate(&self) -> AppResult<()> {
        check_len("upc", &self.upc, 1, 64)?;
        check_len("name", &self.name, 1, 200)?;
        check_range("price", self.price, 0, MAX_PRICE)?;
        check_range("weight", self.weight, 0, 1_000_000)?;
        check_range("cost", self.cost, 0, MAX_PRICE)
    }
}

/// Adds products in one transaction: all are stored, or none (e.g. when one code is taken).
pub async fn create(
    db: &DatabaseConnection,
    products: Vec<NewProduct>,
) -> AppResult<Vec<product::Model>> {
    if products.is_empty() || products.len() as u64 > MAX_PAGE {
        return Err(AppError::bad_input(format!(
            "give 1 to {MAX_PAGE} products"
        )));
    }
    for product in &products {
        product.validate()?;
    }
    let txn = db.begin().await?;
    let mut created = Vec::with_capacity(products.len());
    for new in products {
        let upc = new.upc.clone();
        let row = product::ActiveModel {
            upc: Set(new.upc),
            name: Set(new.name),
            price: Set(new.price),
            weight: Set(new.weight),
            cost: Set(new.cost),
            created_at: Set(chrono::Utc::now()),
        };
        let model = row
            .insert(&txn)
            .await
            .map_err(|err| conflict_on_unique(err, || format!("product `{upc}` already exists")))?;
        created.push(model);
    }
    txn.commit().await?;
    Ok(created)
}

/// Sets a product's price; `None` when no product has that code.
pub async fn set_price(
    db: &DatabaseConnection,
    upc: &str,
    price: i32,
) -> AppResult<Option<product::Model>> {
    check_range("price", price, 0, MAX_PRICE)?;
    let Some(found) = product::Entity::find_by_id(upc).one(db).await? else {
        return Ok(None);
    };
    let mut row: product::ActiveModel = found.into();
    row.price = Set(price);
    Ok(Some(row.update(db).await?))
}
