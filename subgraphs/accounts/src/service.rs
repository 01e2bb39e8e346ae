//! The accounts service layer: every SeaORM query and command, no GraphQL types.

use std::collections::HashMap;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use async_graphql::dataloader::Loader;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use subgraph_kit::error::{check_len, conflict_on_unique};
use subgraph_kit::loader::index_by;
use subgraph_kit::{AppError, AppResult};

use crate::entity::user;

/// Upper bound on one list of users, whatever the caller asks.
pub const MAX_PAGE: u64 = 100;

/// Users by id, one `SELECT ... WHERE id IN (...)` per batch.
pub struct UserById(pub DatabaseConnection);

impl Loader<i32> for UserById {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, ids: &[i32]) -> AppResult<HashMap<i32, user::Model>> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(index_by(rows, |u| u.id))
    }
}

/// Users by username, one statement per batch.
pub struct UserByUsername(pub DatabaseConnection);

impl Loader<String> for UserByUsername {
    type Value = user::Model;
    type Error = AppError;

    async fn load(&self, usernames: &[String]) -> AppResult<HashMap<String, user::Model>> {
        let rows = user::Entity::find()
            .filter(user::Column::Username.is_in(usernames.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(index_by(rows, |u| u.username.clone()))
    }
}

/// Up to `limit` users with an id above `after`, in id order.
pub async fn list(
    db: &DatabaseConnection,
    after: Option<i32>,
    limit: u64,
) -> AppResult<Vec<user::Model>> {
    let mut query = user::Entity::find().order_by_asc(user::Column::Id);
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    Ok(query.limit(limit).all(db).await?)
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub name: Option<&'a str>,
}

/// Validates and stores a new user with a hashed password.
pub async fn sign_up(db: &DatabaseConnection, new: NewUser<'_>) -> AppResult<user::Model> {
    validate_username(new.username)?;
    check_len("password", new.password, 8, 128)?;
    if let Some(name) = new.name {
        check_len("name", name, 1, 100)?;
    }
    let row = user::ActiveModel {
        username: Set(new.username.to_owned()),
        name: Set(new.name.map(str::to_owned)),
        birthday: Set(None),
        email: Set(Some(format!("{}@mosaic.dev", new.username))),
        password_hash: Set(hash_password(new.password)?),
        scopes: Set(String::new()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    };
    user::Entity::insert(row)
        .exec_with_returning(db)
        .await
        .map_err(|err| conflict_on_unique(err, || format!("username `{}` is taken", new.username)))
}

/// The user whose password matches; one error for unknown user and wrong password alike.
pub async fn login(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
) -> AppResult<user::Model> {
    let invalid = || AppError::Unauthenticated;
    if username.len() > 32 || password.len() > 128 {
        return Err(invalid());
    }
    let user = user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    let hash = PasswordHash::new(&user.password_hash).map_err(|err| {
        tracing::error!(%err, user = user.id, "stored password hash is unreadable");
        AppError::Internal
    })?;
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .map_err(|_| invalid())?;
    Ok(user)
}

fn validate_username(username: &str) -> AppResult<()> {
    check_len("username", username, 3, 32)?;
    if !username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(AppError::bad_input(
            "`username` may only hold lowercase letters, digits and `_`",
        ));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| {
            tracing::error!(%err, "password hashing failed");
            AppError::Internal
        })
}
