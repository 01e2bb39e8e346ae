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

/// Which data `--seed` loads. Every subgraph must be seeded with the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// The demo graph: 12 users, 24 products, 72 short reviews (3 per product, 6 per user).
    #[default]
    Demo,
    /// Shaped like the public gateway benchmarks' data, so that numbers compare: 6 users,
    /// 5 products, 12 reviews of 140 to 850 characters (2 per user). The canonical benchmark
    /// query then answers about 90 KB, as theirs does, instead of the demo's 312 KB.
    Bench,
}

impl Dataset {
    /// The users, a prefix of [`USERS`] so that ids and usernames agree across data sets.
    pub fn users(self) -> &'static [DemoUser] {
        match self {
            Dataset::Demo => USERS,
            Dataset::Bench => &USERS[..6],
        }
    }

    /// How many products there are; their codes are `"1"` to `"N"`.
    pub fn product_count(self) -> i32 {
        match self {
            Dataset::Demo => 24,
            Dataset::Bench => 5,
        }
    }

    /// How many reviews there are, authored in turn by every user.
    pub fn review_count(self) -> i32 {
        match self {
            Dataset::Demo => self.product_count() * 3,
            Dataset::Bench => self.users().len() as i32 * 2,
        }
    }

    /// The product review `n` (1-based) is about. 7 is coprime with both product counts, so
    /// reviews spread evenly (exactly three per demo product).
    pub fn reviewed_product(self, n: i32) -> i32 {
        (n * 7) % self.product_count() + 1
    }

    /// The body of review `n`, starting with `opening`.
    pub fn review_body(self, n: i32, opening: &str) -> String {
        let product = self.reviewed_product(n);
        let mut body = format!("{opening} Review {n} of product {product}.");
        if self == Dataset::Bench {
            let len = 140 + (n as usize * 263) % 710;
            while body.len() < len {
                body.push(' ');
                body.push_str(FILLER);
            }
            body.truncate(len);
        }
        body
    }
}

/// Text that pads benchmark reviews to their length (ASCII, so any byte length cuts cleanly).
const FILLER: &str = "Solid build, honest materials and a finish that has held up through a year of daily use; \
     assembly took an evening and the instructions were clear.";

/// The product code of demo product `n` (1-based).
pub fn upc(n: i32) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_reviews_are_two_per_user_and_benchmark_sized() {
        let bench = Dataset::Bench;
        assert_eq!(bench.review_count(), 12);
        let lengths: Vec<usize> = (1..=12)
            .map(|n| bench.review_body(n, "Good.").len())
            .collect();
        assert!(
            lengths.iter().all(|l| (140..=850).contains(l)),
            "{lengths:?}"
        );
        let mut per_product = vec![0; bench.product_count() as usize];
        for n in 1..=12 {
            per_product[(bench.reviewed_product(n) - 1) as usize] += 1;
        }
        assert!(per_product.iter().all(|&c| c >= 2), "{per_product:?}");
    }

    #[test]
    fn demo_products_have_three_reviews_each() {
        let demo = Dataset::Demo;
        let mut per_product = vec![0; demo.product_count() as usize];
        for n in 1..=demo.review_count() {
            per_product[(demo.reviewed_product(n) - 1) as usize] += 1;
        }
        assert!(per_product.iter().all(|&c| c == 3));
        assert_eq!(demo.review_body(1, "Fine."), "Fine. Review 1 of product 8.");
    }
}
