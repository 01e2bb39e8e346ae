use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Reviews::Table)
                    .col(pk_auto(Reviews::Id))
                    .col(string_len(Reviews::ProductUpc, 64))
                    .col(integer(Reviews::AuthorId))
                    // Kept with the review so that `Review.author @provides(fields: "username")`
                    // needs no call to accounts.
                    .col(string_len(Reviews::AuthorUsername, 32))
                    .col(string_len(Reviews::Body, 2000))
                    .col(integer(Reviews::Rating))
                    .col(timestamp_with_time_zone(Reviews::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_reviews_product_upc", Reviews::ProductUpc),
            ("idx_reviews_author_id", Reviews::AuthorId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Reviews::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reviews::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Reviews {
    Table,
    Id,
    ProductUpc,
    AuthorId,
    AuthorUsername,
    Body,
    Rating,
    CreatedAt,
}
