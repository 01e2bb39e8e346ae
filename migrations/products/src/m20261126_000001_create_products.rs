use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(string_len(Products::Upc, 64).primary_key())
                    .col(string_len(Products::Name, 200))
                    .col(integer(Products::Price))
                    .col(integer(Products::Weight))
                    .col(integer(Products::Cost))
                    .col(timestamp_with_time_zone(Products::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // `topProducts` lists the newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_products_created_at")
                    .table(Products::Table)
                    .col(Products::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Products::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Upc,
    Name,
    Price,
    Weight,
    Cost,
    CreatedAt,
}
