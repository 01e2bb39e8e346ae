//! The `reviews` table.

pub mod review {
    use sea_orm::entity::prelude::*;
    use serde::{Deserialize, Serialize};

    /// Serialisable: new reviews travel over the event bus as they are.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
    #[sea_orm(table_name = "reviews")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub product_upc: String,
        pub author_id: i32,
        /// Copied from the author's token when the review is written.
        pub author_username: String,
        pub body: String,
        pub rating: i32,
        pub created_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
