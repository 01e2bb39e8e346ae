//! Deterministic demo stock for every demo product; every fifth one is sold out.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait};
use subgraph_kit::AppResult;
use subgraph_kit::demo::{Dataset, upc};

use crate::entity::stock;

pub async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
    if stock::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp");
    let rows = (1..=dataset.product_count()).map(|n| stock::ActiveModel {
        upc: Set(upc(n)),
        quantity: Set(if n % 5 == 0 { 0 } else { (n * 13) % 40 + 1 }),
        updated_at: Set(at),
    });
    stock::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}
