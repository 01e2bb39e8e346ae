//! Migrations of the reviews subgraph's database. Migrations never import the subgraph's entity
//! models: each one is frozen history, written against the tables as they were.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_reviews;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261126_000001_create_reviews::Migration)]
    }
}
