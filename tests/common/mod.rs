//! Helpers shared by the end-to-end tests: processes that die with the test, free ports, and
//! GraphQL over HTTP.
#![allow(dead_code)] // each test crate uses its own subset

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};

use serde_json::Value;

/// A `mosaic` process, killed when dropped so a failing test leaves nothing behind.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Five consecutive free loopback ports. Tests run in parallel threads: every candidate block is
/// handed out once, so two tests never pick the same block before either binds it.
pub fn free_ports() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let origin = (std::process::id() % 400) as u16 * 100;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 2_000, "no five free consecutive ports");
        let base = 20_000 + (origin + n * 5) % 40_000;
        if (base..base + 5).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return base;
        }
    }
}

pub async fn post(port: u16, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

pub const SUPERGRAPH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schema/supergraph.graphql"
);

/// Starts a plain `mosaic gateway` and waits until its port answers.
pub async fn spawn_gateway(args: &[String], port: u16) -> Process {
    // Its standard input stays open as long as this process holds the `Child`: a gateway kept
    // in a `static` (never dropped) exits with the test process instead of outliving it.
    let child = Command::new(env!("CARGO_BIN_EXE_mosaic"))
        .args(args)
        .arg("--stop-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mosaic gateway");
    let process = Process(child);
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok()
        {
            return process;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("mosaic gateway did not start");
}

/// A `mosaic dev` stack (gateway, then the four subgraph ports) on fresh SQLite files.
pub struct Dev {
    _process: Process,
    /// Held open for the life of the test process: when it ends, `mosaic dev` sees its standard
    /// input close and exits (a `static` is never dropped, so `Process` alone would leak it).
    _stdin: std::process::ChildStdin,
    pub gateway: u16,
    pub subgraphs: [u16; 4],
}

impl Dev {
    /// Starts `mosaic dev` and waits until it prints "Press Ctrl-C".
    pub fn start(tag: &str) -> Self {
        Self::start_with(tag, &[], &[])
    }

    /// As [`Dev::start`], with more `mosaic dev` arguments and environment variables.
    pub fn start_with(tag: &str, extra: &[&str], envs: &[(&str, &str)]) -> Self {
        let data_dir = std::env::temp_dir().join(format!("mosaic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let base = free_ports();
        let mut args: Vec<String> = vec![
            "dev".into(),
            "--stop-on-stdin-eof".into(),
            "--port".into(),
            base.to_string(),
            "--base-port".into(),
            (base + 1).to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mosaic"))
            .args(&args)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosaic");
        let stdout = child.stdout.take().expect("piped stdout");
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.starts_with("Press Ctrl-C"));
        assert!(ready, "mosaic {args:?} exited before it was up");
        let stdin = child.stdin.take().expect("piped stdin");
        Self {
            _process: Process(child),
            _stdin: stdin,
            gateway: base,
            subgraphs: [base + 1, base + 2, base + 3, base + 4],
        }
    }
}

/// Serves `app` on a free loopback port from a thread and runtime of its own, so it outlives
/// each test's runtime; returns the port.
pub fn serve_in_background(app: axum::Router) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            axum::serve(listener, app).await.expect("serving");
        });
    });
    port
}

/// Writes `yaml` to a fresh temporary file; returns its path, for `--config`.
pub fn config_file(yaml: &str) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("mosaic-test-{}-{n}.yaml", std::process::id()));
    std::fs::write(&path, yaml).expect("writing the config");
    path.display().to_string()
}

/// `mosaic gateway` over the demo supergraph on `port`, with an optional YAML config and
/// subgraph URL overrides (`NAME`, `URL`).
pub fn gateway_command(port: u16, config: Option<&str>, urls: &[(&str, String)]) -> Vec<String> {
    let mut args: Vec<String> = ["gateway", "--supergraph", SUPERGRAPH, "--listen"]
        .map(String::from)
        .to_vec();
    args.push(format!("127.0.0.1:{port}"));
    if let Some(yaml) = config {
        args.extend(["--config".into(), config_file(yaml)]);
    }
    for (name, url) in urls {
        args.extend(["--subgraph-url".into(), format!("{name}={url}")]);
    }
    args
}
