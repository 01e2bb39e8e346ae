//! The gateway driven by real third-party clients in Node against one fresh `mosaic dev`: the
//! `graphql-ws` library (`tests/js`) and the GraphiQL playground in headless Chromium
//! (`web-playground/tests`).
//!
//! Each Node project's dependencies are installed with `npm ci` when missing. Without Node or
//! Chromium the suites are skipped with a message; CI sets `MOSAIC_REQUIRE_NODE_TESTS=1`, which
//! turns a skip into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Dev;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn required() -> bool {
    std::env::var("MOSAIC_REQUIRE_NODE_TESTS").is_ok_and(|v| v == "1")
}

/// Whether `program --version` runs; a skip (or, when required, a failure) otherwise.
fn available(program: &str, why: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found || !required(), "{program} is required for {why}");
    if !found {
        eprintln!("SKIPPED {why}: `{program}` is not installed");
    }
    found
}

fn npm(project: &Path, args: &[&str], envs: &[(&str, String)]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(project)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .status()
        .expect("running npm");
    assert!(
        status.success(),
        "npm {args:?} failed in {}",
        project.display()
    );
}

fn install(project: &Path) {
    if !project.join("node_modules").exists() {
        npm(project, &["ci", "--no-audit", "--no-fund"], &[]);
    }
}

#[test]
fn graphql_ws_client_and_playground_in_chromium() {
    if !available("node", "the Node client suites") {
        return;
    }
    let dev = Dev::start("clients");
    let url = format!("http://127.0.0.1:{}", dev.gateway);

    let clients = root().join("tests/js");
    install(&clients);
    npm(&clients, &["test"], &[("MOSAIC_GATEWAY_URL", url.clone())]);

    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !available(&chromium, "the playground browser test") {
        return;
    }
    let playground = root().join("web-playground");
    install(&playground);
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground");
    npm(
        &playground,
        &["test"],
        &[
            ("MOSAIC_GATEWAY_URL", url),
            ("MOSAIC_SCREENSHOT_DIR", screenshots.display().to_string()),
            ("CHROMIUM_PATH", chromium),
        ],
    );
    assert!(screenshots.join("playground.png").exists());
}
