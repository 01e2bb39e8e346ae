//! The accounts GraphQL API: resolvers only; data access lives in `service`.

use async_graphql::{Context, ID, Object, ResultExt, SimpleObject};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use subgraph_kit::graphql::{PageInfo, authenticated, caller, db, page_size, paginate};
use subgraph_kit::loader::BatchLoader;
use subgraph_kit::{AppError, Auth};

use crate::entity::user;
use crate::service::{self, NewUser, UserById, UserByUsername};

/// A user of the shop. Resolvable by `id` and by `username` (two `@key`s).
pub struct User(user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn username(&self) -> Option<&str> {
        Some(&self.0.username)
    }

    /// Year of birth.
    async fn birthday(&self) -> Option<i32> {
        self.0.birthday
    }

    /// Visible to the user themself and to callers holding `read:email`; the gateway asks for
    /// a signed-in caller, this resolver for the rest (it depends on whose email it is).
    #[graphql(directive = authenticated::apply())]
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let caller = caller(ctx);
        if caller.user_id().ok() != Some(self.0.id) {
            caller.require_scope("read:email").extend()?;
        }
        Ok(self.0.email.as_deref())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One page of users.
#[derive(SimpleObject)]
pub struct UserPage {
    pub nodes: Vec<User>,
    pub page_info: PageInfo,
}

/// A signed-in session: the bearer token and who it belongs to.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub user: User,
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in caller, or null when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match caller(ctx).user_id() {
            Ok(id) => load_by_id(ctx, id).await,
            Err(_) => Ok(None),
        }
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<User>> {
        match id.parse::<i32>() {
            Ok(id) => load_by_id(ctx, id).await,
            Err(_) => Ok(None),
        }
    }

    /// The first 100 users.
    async fn users(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<User>> {
        let rows = service::list(db(ctx), None, service::MAX_PAGE)
            .await
            .extend()?;
        Ok(rows.into_iter().map(User).collect())
    }

    /// Users page by page, in id order.
    async fn users_page(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UserPage> {
        let limit = page_size(first.unwrap_or(20), service::MAX_PAGE).extend()?;
        let after = after
            .map(|cursor| cursor.parse::<i32>())
            .transpose()
            .map_err(|_| AppError::bad_input("`after` is not a cursor from this list"))
            .extend()?;
        let rows = service::list(db(ctx), after, limit + 1).await.extend()?;
        let (rows, page_info) = paginate(rows, limit, |u| u.id.to_string());
        Ok(UserPage {
            nodes: rows.into_iter().map(User).collect(),
            page_info,
        })
    }

    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<User>> {
        self.user(ctx, id).await
    }

    #[graphql(entity)]
    async fn find_user_by_username(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        let loader = ctx.data_unchecked::<BatchLoader<UserByUsername>>();
        Ok(loader.load_one(username).await.extend()?.map(User))
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account and signs it in.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
        name: Option<String>,
    ) -> async_graphql::Result<AuthPayload> {
        let new = NewUser {
            username: &username,
            password: &password,
            name: name.as_deref(),
        };
        let user = service::sign_up(db(ctx), new).await.extend()?;
        Ok(session(ctx, user))
    }

    /// Signs in with a username and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let user = service::login(db(ctx), &username, &password)
            .await
            .extend()?;
        Ok(session(ctx, user))
    }
}

async fn load_by_id(ctx: &Context<'_>, id: i32) -> async_graphql::Result<Option<User>> {
    let loader = ctx.data_unchecked::<BatchLoader<UserById>>();
    Ok(loader.load_one(id).await.extend()?.map(User))
}

fn session(ctx: &Context<'_>, user: user::Model) -> AuthPayload {
    let token = ctx
        .data_unchecked::<Arc<Auth>>()
        .issue(user.id, &user.username, &user.scopes);
    AuthPayload {
        token,
        user: User(user),
    }
}
