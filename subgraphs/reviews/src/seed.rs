//! Deterministic reviews, spread evenly over the data set's users and products.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait};
use subgraph_kit::AppResult;
use subgraph_kit::demo::{Dataset, upc};

use crate::entity::review;

const OPENINGS: &[&str] = &[
    "Exactly as described.",
    "Sturdy and well made.",
    "Good value for the price.",
    "Arrived late but works fine.",
    "Would buy again.",
    "Not what I expected.",
    "Looks great in the living room.",
];

pub async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
    if review::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp");
    let users = dataset.users();
    let rows = (1..=dataset.review_count()).map(|n| {
        let author = &users[(n - 1) as usize % users.len()];
        let product = dataset.reviewed_product(n);
        review::ActiveModel {
            id: Set(n),
            product_upc: Set(upc(product)),
            author_id: Set(author.id),
            author_username: Set(author.username.to_owned()),
            body: Set(dataset.review_body(n, OPENINGS[n as usize % OPENINGS.len()])),
            rating: Set(n % 5 + 1),
            created_at: Set(start + chrono::Duration::hours(n.into())),
        }
    });
    review::Entity::insert_many(rows).exec(db).await?;
    subgraph_kit::db::sync_id_sequence(db, "reviews").await?;
    Ok(())
}
