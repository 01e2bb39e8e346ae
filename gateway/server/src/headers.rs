//! Which client headers reach each subgraph: the verified token as `Authorization: Bearer`
//! whatever header or cookie it came in (the subgraphs verify it again; an unverified
//! `authorization` header never passes), then the configured rules for all subgraphs and for
//! each one.

use anyhow::Context as _;
use axum::http::HeaderMap;
use reqwest::header::{self, HeaderName, HeaderValue};

use crate::auth::Identity;
use crate::config::{HeaderRule, HeadersConfig};

/// A [`HeaderRule`] with its names and values parsed, once, when the gateway is built.
enum Rule {
    Propagate {
        from: HeaderName,
        to: HeaderName,
    },
    Insert {
        name: HeaderName,
        value: HeaderValue,
    },
}

impl Rule {
    fn parse(rule: &HeaderRule) -> anyhow::Result<Self> {
        let name = |text: &str| HeaderName::try_from(text).with_context(|| format!("`{text}`"));
        Ok(match rule {
            HeaderRule::Propagate { named, rename } => Self::Propagate {
                from: name(named)?,
                to: name(rename.as_deref().unwrap_or(named))?,
            },
            HeaderRule::Insert { name: n, value } => Self::Insert {
                name: name(n)?,
                value: HeaderValue::try_from(value).with_context(|| format!("`{value}`"))?,
            },
        })
    }
}

/// The rules of each graph, by graph id.
pub struct Propagation {
    per_graph: Vec<Vec<Rule>>,
}

impl Propagation {
    /// Rules for `graphs` (names in graph-id order); a rule naming an unknown subgraph or an
    /// invalid header is an error.
    pub fn new(config: &HeadersConfig, graphs: &[&str]) -> anyhow::Result<Self> {
        if let Some(unknown) = config
            .subgraphs
            .keys()
            .find(|n| !graphs.contains(&n.as_str()))
        {
            anyhow::bail!("headers.subgraphs names `{unknown}`, which is not in the supergraph");
        }
        let per_graph = graphs
            .iter()
            .map(|name| {
                let own = config.subgraphs.get(*name).into_iter().flatten();
                config.all.iter().chain(own).map(Rule::parse).collect()
            })
            .collect::<anyhow::Result<_>>()
            .context("headers: not a valid header")?;
        Ok(Self { per_graph })
    }

    /// The headers each graph gets for a request carrying `incoming` from `identity`.
    pub fn apply(
        &self,
        incoming: &HeaderMap,
        identity: Option<&Identity>,
    ) -> Vec<reqwest::header::HeaderMap> {
        let bearer =
            identity.and_then(|i| HeaderValue::try_from(format!("Bearer {}", i.token)).ok());
        self.per_graph
            .iter()
            .map(|rules| {
                let mut out = reqwest::header::HeaderMap::new();
                if let Some(value) = &bearer {
                    out.insert(header::AUTHORIZATION, value.clone());
                }
                if let Some(id) = incoming.get(crate::http::REQUEST_ID) {
                    out.insert(crate::http::REQUEST_ID, id.clone());
                }
                for rule in rules {
                    match rule {
                        Rule::Propagate { from, to } => {
                            if let Some(value) = incoming.get(from) {
                                out.insert(to.clone(), value.clone());
                            }
                        }
                        Rule::Insert { name, value } => {
                            out.insert(name.clone(), value.clone());
                        }
                    }
                }
                out
            })
            .collect()
    }
}
