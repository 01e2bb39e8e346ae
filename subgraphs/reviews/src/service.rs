//! The reviews service layer: every SeaORM query and command, no GraphQL types.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use subgraph_kit::error::{check_len, check_range};
use subgraph_kit::loader::{group_by, index_by};
use subgraph_kit::{AppError, AppResult};

use crate::entity::review;

/// Upper bound on one list of latest reviews.
pub const MAX_PAGE: u64 = 100;

/// Reviews by id, one statement per batch.
pub struct ReviewById(pub DatabaseConnection);

impl Loader<i32> for ReviewById {
    type Value = review::Model;
    type Error = AppError;

    async fn load(&self, ids: &[i32]) -> AppResult<HashMap<i32, review::Model>> {
        let rows = review::Entity::find()
            .filter(review::Column::Id.is_in(ids.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(index_by(rows, |r| r.id))
    }
}

/// Each author's reviews, oldest first, one statement per batch of authors.
pub struct ReviewsByAuthor(pub DatabaseConnection);

impl Loader<i32> for ReviewsByAuthor {
    type Value = Vec<review::Model>;
    type Error = AppError;

    async fn load(&self, author_ids: &[i32]) -> AppResult<HashMap<i32, Vec<review::Model>>> {
        let rows = review::Entity::find()
            .filter(review::Column::AuthorId.is_in(author_ids.iter().copied()))
            .order_by_asc(review::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group_by(author_ids, rows, |r| r.author_id))
    }
}

/// Each product's reviews, oldest first, one statement per batch of products.
pub struct ReviewsByProduct(pub DatabaseConnection);

impl Loader<String> for ReviewsByProduct {
    type Value = Vec<review::Model>;
    type Error = AppError;

    async fn load(&self, upcs: &[String]) -> AppResult<HashMap<String, Vec<review::Model>>> {
        let rows = review::Entity::find()
            .filter(review::Column::ProductUpc.is_in(upcs.iter().cloned()))
            .order_by_asc(review::Column::Id)
            .all(&self.0)
            .await?;
        Ok(group_by(upcs, rows, |r| r.product_upc.clone()))
    }
}

/// The newest `limit` reviews, newest first.
pub async fn latest(db: &DatabaseConnection, limit: u64) -> AppResult<Vec<review::Model>> {
    Ok(review::Entity::find()
        .order_by_desc(review::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

pub struct NewReview<'a> {
    pub upc: &'a str,
    pub body: &'a str,
    pub rating: i32,
    pub author_id: i32,
    pub author_username: &'a str,
}

/// Validates and stores a review.
pub async fn add(db: &DatabaseConnection, new: NewReview<'_>) -> AppResult<review::Model> {
    check_len("upc", new.upc, 1, 64)?;
    check_len("body", new.body.trim(), 1, 2000)?;
    check_range("rating", new.rating, 1, 5)?;
    let row = review::ActiveModel {
        product_upc: Set(new.upc.to_owned()),
        author_id: Set(new.author_id),
        author_username: Set(new.author_username.to_owned()),
        body: Set(new.body.trim().to_owned()),
        rating: Set(new.rating),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    Ok(review::Entity::insert(row).exec_with_returning(db).await?)
}

/// Deletes a review written by `author_id`. `false` when there is no such review.
pub async fn delete(db: &DatabaseConnection, id: i32, author_id: i32) -> AppResult<bool> {
    let Some(found) = review::Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    if found.author_id != author_id {
        return Err(AppError::Forbidden(
            "only its author may delete a review".into(),
        ));
    }
    found.delete(db).await?;
    Ok(true)
}
