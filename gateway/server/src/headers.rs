//! Which client headers reach each subgraph: the verified token as `Authorization: Bearer`
//! whatever header or cookie it came in (the subgraphs verify it again; an unverified
//! `authorization` header never passes), then the configured rules for all subgraphs and for
//! each one.

use axum::http::HeaderMap;
use reqwest::header::{self, HeaderName, HeaderValue};

use crate::auth::Identity;
use crate::config::{HeaderRule, HeadersConfig};

/// The rules of each graph, by graph id.
pub struct Propagation {
    per_graph: Vec<Vec<HeaderRule>>,
}

impl Propagation {
    /// Rules for `graphs` (names in graph-id order); a rule naming an unknown subgraph is an error.
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
                config.all.iter().chain(own).cloned().collect()
            })
            .collect();
        for rule in config.all.iter().chain(config.subgraphs.values().flatten()) {
            let valid = match rule {
                HeaderRule::Propagate { named, rename } => {
                    HeaderName::try_from(rename.as_deref().unwrap_or(named)).is_ok()
                }
                HeaderRule::Insert { name, value } => {
                    HeaderName::try_from(name).is_ok() && HeaderValue::try_from(value).is_ok()
                }
            };
            anyhow::ensure!(valid, "headers: {rule:?} is not a valid header");
        }
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
                        HeaderRule::Propagate { named, rename } => {
                            let (Some(value), Ok(name)) = (
                                incoming.get(named.as_str()),
                                HeaderName::try_from(rename.as_deref().unwrap_or(named)),
                            ) else {
                                continue;
                            };
                            out.insert(name, value.clone());
                        }
                        HeaderRule::Insert { name, value } => {
                            if let (Ok(name), Ok(value)) =
                                (HeaderName::try_from(name), HeaderValue::try_from(value))
                            {
                                out.insert(name, value);
                            }
                        }
                    }
                }
                out
            })
            .collect()
    }
}
