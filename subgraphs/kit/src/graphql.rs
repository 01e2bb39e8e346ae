//! GraphQL pieces every subgraph's resolvers use: context accessors and cursor pagination.

use async_graphql::{Context, SchemaBuilder, SimpleObject};
use sea_orm::DatabaseConnection;

use std::sync::Arc;

use crate::cache::CallerRead;
use crate::{AppError, AppResult, Caller, EventBus};

/// The database pool the schema was built with.
pub fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

/// The request's verified caller (anonymous when the transport set none). Resolvers read it only
/// through here: the response cache relies on knowing whether an answer depended on it.
pub fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    static ANONYMOUS: Caller = Caller::Anonymous;
    if let Some(read) = ctx.data_opt::<Arc<CallerRead>>() {
        read.mark();
    }
    ctx.data_opt::<Caller>().unwrap_or(&ANONYMOUS)
}

/// Cursor-paginated list metadata. `@shareable`: several subgraphs serve paginated lists.
#[derive(SimpleObject, Debug, PartialEq, Eq)]
#[graphql(shareable)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// Pass as `after` to get the next page.
    pub end_cursor: Option<String>,
}

/// The row limit for a page of `first` items, refused outside `1..=max`.
pub fn page_size(first: i32, max: u64) -> AppResult<u64> {
    u64::try_from(first)
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| AppError::bad_input(format!("`first` must be between 1 and {max}")))
}

/// Cuts `rows`, fetched with one row more than `limit`, into a page and its [`PageInfo`].
pub fn paginate<T>(
    mut rows: Vec<T>,
    limit: u64,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, PageInfo) {
    let has_next_page = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let end_cursor = rows.last().map(cursor);
    (
        rows,
        PageInfo {
            has_next_page,
            end_cursor,
        },
    )
}

/// The event bus the schema was built with.
pub fn bus<'a>(ctx: &Context<'a>) -> &'a dyn EventBus {
    ctx.data_unchecked::<Arc<dyn EventBus>>().as_ref()
}

// `@authenticated` (Federation v2.5): the gateway shows the field only to signed-in callers.
// async-graphql has no attribute for it, so it is a type directive; `server::sdl` imports it
// from the federation `@link` instead of defining it. (A doc comment here would become the
// directive's description in the SDL.)
#[async_graphql::TypeDirective(
    name = "authenticated",
    location = "FieldDefinition",
    location = "Object"
)]
pub fn authenticated() {}

/// Every subgraph schema's common settings: Federation v2 (`_service`, `_entities`),
/// subscriptions listed in the SDL so the gateway can plan them, and bounds on operation size.
pub fn federated<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
    S: async_graphql::SubscriptionType + 'static,
{
    builder
        .enable_federation()
        .enable_subscription_in_federation()
        .limit_depth(MAX_DEPTH)
        .limit_recursive_depth(MAX_DEPTH)
}

/// Deep enough for any real client (the benchmark query nests 12 levels), shallow enough that a
/// hostile query cannot make the resolver tree explode.
const MAX_DEPTH: usize = 32;
