//! The inventory service layer: every SeaORM query and command, no GraphQL types.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
};
use subgraph_kit::error::{check_len, check_range};
use subgraph_kit::loader::index_by;
use subgraph_kit::{AppError, AppResult};

use crate::entity::stock;

/// The most one restock may add.
pub const MAX_RESTOCK: i32 = 1_000_000;

/// Stock quantities by product code, one statement per batch. Codes the warehouse has never
/// stocked are absent (quantity zero).
pub struct QuantityByUpc(pub DatabaseConnection);

impl Loader<String> for QuantityByUpc {
    type Value = i32;
    type Error = AppError;

    async fn load(&self, upcs: &[String]) -> AppResult<HashMap<String, i32>> {
        let rows = stock::Entity::find()
            .filter(stock::Column::Upc.is_in(upcs.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(index_by(rows, |s| s.upc.clone())
            .into_iter()
            .map(|(upc, row)| (upc, row.quantity))
            .collect())
    }
}

/// Adds `quantity` units of `upc` (creating its stock row if needed); returns the new quantity.
pub async fn restock(db: &DatabaseConnection, upc: &str, quantity: i32) -> AppResult<i32> {
    check_len("upc", upc, 1, 64)?;
    check_range("quantity", quantity, 1, MAX_RESTOCK)?;
    let txn = db.begin().await?;
    let row = stock::ActiveModel {
        upc: Set(upc.to_owned()),
        quantity: Set(quantity),
        updated_at: Set(chrono::Utc::now()),
    };
    stock::Entity::insert(row)
        .on_conflict(
            OnConflict::column(stock::Column::Upc)
                .value(
                    stock::Column::Quantity,
                    Expr::col((stock::Entity, stock::Column::Quantity)).add(quantity),
                )
                .update_column(stock::Column::UpdatedAt)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let total = stock::Entity::find_by_id(upc)
        .one(&txn)
        .await?
        .map(|row| row.quantity)
        .ok_or(AppError::Internal)?;
    txn.commit().await?;
    Ok(total)
}

/// Shipping cost in cents: free above 1000, otherwise half the weight in grams.
pub fn shipping_estimate(price: i32, weight: i32) -> i32 {
    if price > 1000 { 0 } else { weight / 2 }
}
