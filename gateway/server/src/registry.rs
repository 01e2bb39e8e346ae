//! The schema registry's files: a Rover-style `supergraph.yaml` naming each subgraph's routing URL
//! and where its SDL comes from (a file, or live from the subgraph's `_service { sdl }`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mosaic_composition::SubgraphInput;
use serde::Deserialize;

/// `supergraph.yaml`, as Rover's `supergraph compose --config` reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupergraphConfig {
    /// e.g. `=2.7.1`; accepted and ignored: Mosaic composes any Federation v2.x subgraph.
    #[serde(default)]
    pub federation_version: Option<String>,
    pub subgraphs: BTreeMap<String, SubgraphConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubgraphConfig {
    /// Where the gateway sends this subgraph's fetches [default: `schema.subgraph_url`].
    #[serde(default)]
    pub routing_url: Option<String>,
    pub schema: SchemaSource,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSource {
    /// An SDL file, relative to the config file.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// A running subgraph to ask for `_service { sdl }`.
    #[serde(default)]
    pub subgraph_url: Option<String>,
}

/// Reads the config and every subgraph's SDL.
pub async fn load(config: &Path) -> anyhow::Result<Vec<SubgraphInput>> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let parsed: SupergraphConfig = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("{} is not a supergraph config", config.display()))?;
    let base = config.parent().unwrap_or(Path::new("."));
    let client = reqwest::Client::new();
    let mut inputs = Vec::new();
    for (name, subgraph) in parsed.subgraphs {
        let sdl = match (&subgraph.schema.file, &subgraph.schema.subgraph_url) {
            (Some(file), _) => {
                let path = base.join(file);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("subgraph `{name}`: reading {}", path.display()))?
            }
            (None, Some(url)) => introspect(&client, url)
                .await
                .with_context(|| format!("subgraph `{name}`: fetching its SDL from {url}"))?,
            (None, None) => {
                anyhow::bail!("subgraph `{name}`: `schema` needs `file` or `subgraph_url`")
            }
        };
        let url = subgraph
            .routing_url
            .or(subgraph.schema.subgraph_url)
            .with_context(|| format!("subgraph `{name}`: no `routing_url`"))?;
        inputs.push(SubgraphInput { name, url, sdl });
    }
    Ok(inputs)
}

async fn introspect(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let response: serde_json::Value = client
        .post(url)
        .json(&serde_json::json!({ "query": "{ _service { sdl } }" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    response
        .pointer("/data/_service/sdl")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .context("the response has no `data._service.sdl`")
}
