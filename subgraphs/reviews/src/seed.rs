//! Deterministic demo reviews: three per demo product, spread over all demo users.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait};
use subgraph_kit::AppResult;
use subgraph_kit::demo::{PRODUCT_COUNT, REVIEW_COUNT, USERS, upc};

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

pub async fn seed(db: &DatabaseConnection) -> AppResult<()> {
    if review::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp");
    let users = USERS.len() as i32;
    let rows = (1..=REVIEW_COUNT).map(|n| {
        let author = &USERS[((n - 1) % users) as usize];
        // 7 and 24 are coprime: every product gets exactly three reviews.
        let product = (n * 7) % PRODUCT_COUNT + 1;
        review::ActiveModel {
            id: Set(n),
            product_upc: Set(upc(product)),
            author_id: Set(author.id),
            author_username: Set(author.username.to_owned()),
            body: Set(format!(
                "{} Review {n} of product {product}.",
                OPENINGS[n as usize % OPENINGS.len()]
            )),
            rating: Set(n % 5 + 1),
            created_at: Set(start + chrono::Duration::hours(n.into())),
        }
    });
    review::Entity::insert_many(rows).exec(db).await?;
    subgraph_kit::db::sync_id_sequence(db, "reviews").await?;
    Ok(())
}
