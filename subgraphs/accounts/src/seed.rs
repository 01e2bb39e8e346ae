//! Deterministic demo users (see `subgraph_kit::demo`), all with the demo password.

use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait};
use subgraph_kit::AppResult;
use subgraph_kit::demo::{DEMO_PASSWORD, Dataset};

use crate::entity::user;
use crate::service::hash_password;

pub async fn seed(db: &DatabaseConnection, dataset: Dataset) -> AppResult<()> {
    if user::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    // One hash for all: seeding stays fast, and these are public demo credentials anyway.
    let password_hash = hash_password(DEMO_PASSWORD)?;
    let created_at = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp");
    let rows = dataset.users().iter().map(|u| user::ActiveModel {
        id: Set(u.id),
        username: Set(u.username.to_owned()),
        name: Set(Some(u.name.to_owned())),
        birthday: Set(Some(u.birthday)),
        email: Set(Some(format!("{}@mosaic.dev", u.username))),
        password_hash: Set(password_hash.clone()),
        scopes: Set(u.scopes.to_owned()),
        created_at: Set(created_at),
    });
    user::Entity::insert_many(rows).exec(db).await?;
    subgraph_kit::db::sync_id_sequence(db, "users").await?;
    Ok(())
}
