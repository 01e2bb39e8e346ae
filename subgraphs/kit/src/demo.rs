//! The demo graph's shared identities: the users and product codes that several subgraphs seed
//! consistently (accounts owns users; reviews stores their ids and usernames; products, inventory
//! and reviews agree on the product codes).

pub struct DemoUser {
    pub id: i32,
    pub username: &'static str,
    pub name: &'static str,
    pub birthday: i32,
    /// Space-separated scopes granted at login.
    pub scopes: &'static str,
}

/// Every demo user's password, for trying `login` locally.
pub const DEMO_PASSWORD: &str = "mosaic-demo";

pub const USERS: &[DemoUser] = &[
    DemoUser {
        id: 1,
        username: "ada",
        name: "Ada Lovelace",
        birthday: 1815,
        scopes: "products:write inventory:write read:email",
    },
    DemoUser {
        id: 2,
        username: "alan",
        name: "Alan Turing",
        birthday: 1912,
        scopes: "",
    },
    DemoUser {
        id: 3,
        username: "grace",
        name: "Grace Hopper",
        birthday: 1906,
        scopes: "",
    },
    DemoUser {
        id: 4,
        username: "edsger",
        name: "Edsger Dijkstra",
        birthday: 1930,
        scopes: "",
    },
    DemoUser {
        id: 5,
        username: "barbara",
        name: "Barbara Liskov",
        birthday: 1939,
        scopes: "",
    },
    DemoUser {
        id: 6,
        username: "donald",
        name: "Donald Knuth",
        birthday: 1938,
        scopes: "",
    },
    DemoUser {
        id: 7,
        username: "margaret",
        name: "Margaret Hamilton",
        birthday: 1936,
        scopes: "",
    },
    DemoUser {
        id: 8,
        username: "tony",
        name: "Tony Hoare",
        birthday: 1934,
        scopes: "",
    },
    DemoUser {
        id: 9,
        username: "frances",
        name: "Frances Allen",
        birthday: 1932,
        scopes: "",
    },
    DemoUser {
        id: 10,
        username: "john",
        name: "John Backus",
        birthday: 1924,
        scopes: "",
    },
    DemoUser {
        id: 11,
        username: "radia",
        name: "Radia Perlman",
        birthday: 1951,
        scopes: "",
    },
    DemoUser {
        id: 12,
        username: "ken",
        name: "Ken Thompson",
        birthday: 1943,
        scopes: "",
    },
];

/// How many demo products there are; their codes are `"1"` to `"24"`.
pub const PRODUCT_COUNT: i32 = 24;

/// How many demo reviews there are: three per product.
pub const REVIEW_COUNT: i32 = PRODUCT_COUNT * 3;

/// The product code of demo product `n` (1-based).
pub fn upc(n: i32) -> String {
    n.to_string()
}
