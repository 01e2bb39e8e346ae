//! Deterministic catalog: products `"1"` to `"24"` (the demo) or `"5"` (the benchmark data).

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait};
use subgraph_kit::AppResult;
use subgraph_kit::demo::{Dataset, upc};

use crate::entity::product;

const NAMES: &[&str] = &[
    "Table",
    "Couch",
    "Chair",
    "Lamp",
    "Desk",
    "Bookshelf",
    "Rug",
    "Mirror",
    "Wardrobe",
    "Bed",
    "Stool",
    "Bench",
    "Cabinet",
    "Dresser",
    "Nightstand",
    "Sofa",
    "Armchair",
    "Ottoman",
    "Shelf",
    "Sideboard",
    "Futon",
    "Hammock",
    "Cushion",
    "Clock",
];

pub async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
    if product::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp");
    let rows = (1..=dataset.product_count()).map(|n| {
        let price = 100 + (n * 397) % 1900;
        product::ActiveModel {
            upc: Set(upc(n)),
            name: Set(NAMES[(n - 1) as usize % NAMES.len()].to_owned()),
            price: Set(price),
            weight: Set(50 + (n * 211) % 950),
            cost: Set(price * 3 / 5),
            created_at: Set(start + chrono::Duration::minutes(n.into())),
        }
    });
    product::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}
