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

/// Every `NAME.graphql` file of `dir` as subgraph `NAME`, routed to `url_template` with `{name}`
/// replaced.
pub fn load_dir(dir: &Path, url_template: &str) -> anyhow::Result<Vec<SubgraphInput>> {
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "graphql") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sdl = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        inputs.push(SubgraphInput {
            url: url_template.replace("{name}", &name),
            name,
            sdl,
        });
    }
    anyhow::ensure!(
        !inputs.is_empty(),
        "{} holds no .graphql files",
        dir.display()
    );
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

/// What `mosaic check` found about a proposed subgraph schema.
#[derive(Debug, serde::Serialize)]
pub struct CheckReport {
    pub subgraph: String,
    /// Composition errors with the proposed schema (then nothing else is checked).
    pub composition_errors: Vec<String>,
    /// API schema changes, most severe first.
    pub changes: Vec<mosaic_registry::Change>,
    pub broken_operations: Vec<mosaic_registry::BrokenOperation>,
}

impl CheckReport {
    /// Safe to deploy: it composes, breaks no client and no known operation.
    pub fn passed(&self) -> bool {
        self.composition_errors.is_empty()
            && self.broken_operations.is_empty()
            && !self
                .changes
                .iter()
                .any(|c| c.severity == mosaic_registry::Severity::Breaking)
    }
}

/// Checks `proposed_sdl` as the new schema of `subgraph` in the registry `config`.
pub async fn check(
    config: &Path,
    subgraph: &str,
    proposed_sdl: String,
    operations: &[(String, String)],
) -> anyhow::Result<CheckReport> {
    let current = load(config).await?;
    let mut proposed = current.clone();
    let slot = proposed
        .iter_mut()
        .find(|s| s.name == subgraph)
        .with_context(|| format!("`{subgraph}` is not a subgraph of {}", config.display()))?;
    slot.sdl = proposed_sdl;
    let mut report = CheckReport {
        subgraph: subgraph.to_owned(),
        composition_errors: Vec::new(),
        changes: Vec::new(),
        broken_operations: Vec::new(),
    };
    let new_sdl = match mosaic_composition::compose(&proposed) {
        Ok(sdl) => sdl,
        Err(errors) => {
            report.composition_errors = errors.iter().map(|e| e.to_string()).collect();
            return Ok(report);
        }
    };
    let old_sdl = mosaic_composition::compose(&current).map_err(|errors| {
        anyhow::anyhow!(
            "the registry itself does not compose: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let old = mosaic_supergraph::Supergraph::parse(&old_sdl)?;
    let new = mosaic_supergraph::Supergraph::parse(&new_sdl)?;
    report.changes = mosaic_registry::diff(&old.api_schema, &new.api_schema);
    report.broken_operations = mosaic_registry::check_operations(&new.api_schema, operations);
    Ok(report)
}

/// Every `.graphql` file in `path` (a file, or a folder searched recursively), with its text.
pub fn read_operations(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    if path.is_file() {
        found.push((path.display().to_string(), std::fs::read_to_string(path)?));
        return Ok(found);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            found.extend(read_operations(&entry)?);
        } else if entry
            .extension()
            .is_some_and(|x| x == "graphql" || x == "gql")
        {
            found.push((
                entry.display().to_string(),
                std::fs::read_to_string(&entry)?,
            ));
        }
    }
    Ok(found)
}
