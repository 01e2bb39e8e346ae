//! The reviews GraphQL API: resolvers only; data access lives in `service`.

use async_graphql::{Context, ID, Interface, Object, ResultExt, Subscription as SubscriptionMacro};
use futures::{Stream, StreamExt};
use subgraph_kit::bus::{publish_json, subscribe_json};
use subgraph_kit::graphql::{authenticated, bus, caller, db, page_size};
use subgraph_kit::loader::BatchLoader;
use subgraph_kit::{AppError, Caller};

use crate::entity::review;
use crate::service::{self, NewReview, ReviewById, ReviewsByAuthor, ReviewsByProduct};

const REVIEW_ADDED: &str = "reviews.review_added";

/// Anything with a stable, graph-wide id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Review(Review),
}

/// What a user wrote about a product.
pub struct Review(review::Model);

#[Object]
impl Review {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    /// From 1 to 5.
    async fn rating(&self) -> i32 {
        self.0.rating
    }

    /// The author, with their username at hand (no trip to accounts for it).
    #[graphql(provides = "username")]
    async fn author(&self) -> User {
        User {
            id: self.0.author_id,
            username: Some(self.0.author_username.clone()),
        }
    }

    async fn product(&self) -> Product {
        Product {
            upc: self.0.product_upc.clone(),
        }
    }
}

/// A user, as far as reviews know them.
pub struct User {
    id: i32,
    username: Option<String>,
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    #[graphql(external)]
    async fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Reviews this user wrote, oldest first.
    async fn reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Review>> {
        let loader = ctx.data_unchecked::<BatchLoader<ReviewsByAuthor>>();
        let rows = loader.load_one(self.id).await.extend()?.unwrap_or_default();
        Ok(rows.into_iter().map(Review).collect())
    }
}

/// A product, as far as reviews know it.
pub struct Product {
    upc: String,
}

#[Object]
impl Product {
    async fn upc(&self) -> &str {
        &self.upc
    }

    /// Reviews of this product, oldest first.
    async fn reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Review>> {
        Ok(self
            .load_reviews(ctx)
            .await?
            .into_iter()
            .map(Review)
            .collect())
    }

    /// How many reviews the product has. Counted here since reviews took it over from products.
    #[graphql(override_from = "products")]
    async fn reviews_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(i32::try_from(self.load_reviews(ctx).await?.len()).unwrap_or(i32::MAX))
    }
}

impl Product {
    async fn load_reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<review::Model>> {
        let loader = ctx.data_unchecked::<BatchLoader<ReviewsByProduct>>();
        Ok(loader
            .load_one(self.upc.clone())
            .await
            .extend()?
            .unwrap_or_default())
    }
}

pub struct Query;

#[Object]
impl Query {
    async fn review(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Review>> {
        let Ok(id) = id.parse::<i32>() else {
            return Ok(None);
        };
        let loader = ctx.data_unchecked::<BatchLoader<ReviewById>>();
        Ok(loader.load_one(id).await.extend()?.map(Review))
    }

    /// The newest reviews, newest first (at most 100).
    async fn latest_reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Review>> {
        let limit = page_size(first.unwrap_or(10), service::MAX_PAGE).extend()?;
        Ok(service::latest(db(ctx), limit)
            .await
            .extend()?
            .into_iter()
            .map(Review)
            .collect())
    }

    #[graphql(entity)]
    async fn find_review_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Review>> {
        self.review(ctx, id).await
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        let id = id
            .parse::<i32>()
            .map_err(|_| AppError::bad_input("`id` is not a user id"))
            .extend()?;
        Ok(User { id, username: None })
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Product {
        Product { upc }
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Reviews a product as the signed-in caller.
    #[graphql(directive = authenticated::apply())]
    async fn add_review(
        &self,
        ctx: &Context<'_>,
        upc: String,
        body: String,
        rating: i32,
    ) -> async_graphql::Result<Review> {
        let Caller::User { id, username, .. } = caller(ctx) else {
            return Err(AppError::Unauthenticated).extend();
        };
        let new = NewReview {
            upc: &upc,
            body: &body,
            rating,
            author_id: *id,
            author_username: username,
        };
        let review = service::add(db(ctx), new).await.extend()?;
        publish_json(bus(ctx), REVIEW_ADDED, &review);
        Ok(Review(review))
    }

    /// Deletes one of the caller's own reviews; false when there is no such review.
    #[graphql(directive = authenticated::apply())]
    async fn delete_review(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let author = caller(ctx).user_id().extend()?;
        let Ok(id) = id.parse::<i32>() else {
            return Ok(false);
        };
        service::delete(db(ctx), id, author).await.extend()
    }
}

pub struct Subscription;

#[SubscriptionMacro]
impl Subscription {
    /// Reviews as they are written, for one product or (without `upc`) all.
    async fn review_added(
        &self,
        ctx: &Context<'_>,
        upc: Option<String>,
    ) -> impl Stream<Item = Review> + use<> {
        subscribe_json::<review::Model>(bus(ctx), REVIEW_ADDED)
            .filter(move |review| {
                std::future::ready(upc.as_ref().is_none_or(|upc| *upc == review.product_upc))
            })
            .map(Review)
    }
}
