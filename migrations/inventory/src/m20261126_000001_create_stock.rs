use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Stock::Table)
                    .col(string_len(Stock::Upc, 64).primary_key())
                    .col(integer(Stock::Quantity).check(Expr::col(Stock::Quantity).gte(0)))
                    .col(timestamp_with_time_zone(Stock::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Stock::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Stock {
    Table,
    Upc,
    Quantity,
    UpdatedAt,
}
