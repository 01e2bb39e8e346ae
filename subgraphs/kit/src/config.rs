//! Settings files: YAML with `${VAR}` / `${VAR:-default}` expanded from the environment first.
//! The gateway's config and the subgraphs' share this reading.

use anyhow::Context as _;
use serde::de::DeserializeOwned;

/// Reads `path` as YAML into `T` (every key optional when `T` has defaults; unknown keys refused
/// by name when `T` says so).
pub fn read_yaml<T: DeserializeOwned + Default>(path: &std::path::Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    parse_yaml(&text).with_context(|| format!("config {}", path.display()))
}

pub fn parse_yaml<T: DeserializeOwned + Default>(text: &str) -> anyhow::Result<T> {
    let expanded = expand_env(text)?;
    if expanded.trim().is_empty() {
        return Ok(T::default());
    }
    Ok(serde_yaml_ng::from_str(&expanded)?)
}

/// Replaces `${VAR}` and `${VAR:-default}` outside comment lines; an unset variable without a
/// default is an error.
pub fn expand_env(text: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.trim_start().starts_with('#') {
            true => out.push_str(line),
            false => expand_line(line, &mut out)?,
        }
    }
    Ok(out)
}

fn expand_line(line: &str, out: &mut String) -> anyhow::Result<()> {
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').context("unterminated `${` in the config")?;
        let (name, default) = match after[..end].split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (&after[..end], None),
        };
        match (std::env::var(name), default) {
            (Ok(value), _) => out.push_str(&value),
            (Err(_), Some(default)) => out.push_str(default),
            (Err(_), None) => anyhow::bail!("the config uses `${{{name}}}`, which is not set"),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}
