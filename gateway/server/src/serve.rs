//! Starting the gateway: load the supergraph, build the subgraph client, bind, serve, and swap
//! in a new supergraph when its file changes (an invalid one is refused and the old one serves).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use mosaic_supergraph::Supergraph;
use tokio::net::TcpListener;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::execute::Subgraphs;
use crate::headers::Propagation;
use crate::http::{self, Current, Edge};
use crate::metrics::Metrics;
use crate::pipeline::{Gateway, Settings};
use crate::transport::{self, Transport};
use tokio::sync::Semaphore;

/// How often the supergraph file is checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Where the supergraph comes from.
#[derive(Clone)]
pub enum SupergraphSource {
    /// A file, watched for changes.
    File(PathBuf),
    /// Text fixed at start (e.g. the demo graph built into `mosaic dev`).
    Text(&'static str),
}

#[derive(Clone)]
pub struct GatewayOptions {
    pub supergraph: SupergraphSource,
    pub listen: SocketAddr,
    /// Replaces the routing URL of the named subgraphs.
    pub subgraph_urls: Vec<(String, String)>,
    pub config: Config,
    /// Kept across supergraph reloads.
    pub metrics: Arc<Metrics>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            supergraph: SupergraphSource::Text(""),
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            subgraph_urls: Vec::new(),
            config: Config::default(),
            metrics: Arc::default(),
        }
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A gateway for `sdl`, with the options' URL overrides applied.
pub fn build(
    sdl: &str,
    options: &GatewayOptions,
    transport: Arc<Transport>,
) -> anyhow::Result<Gateway> {
    let supergraph = Arc::new(Supergraph::parse(sdl)?);
    let mut urls: Vec<String> = supergraph.graphs.iter().map(|g| g.url.clone()).collect();
    for (name, url) in &options.subgraph_urls {
        let graph = supergraph.graph_by_name(name).with_context(|| {
            format!("--subgraph-url names `{name}`, which is not in the supergraph")
        })?;
        urls[graph] = url.clone();
    }
    let config = &options.config;
    let names: Vec<&str> = supergraph.graphs.iter().map(|g| g.name.as_str()).collect();
    let subgraphs = Subgraphs {
        transport,
        addresses: urls.iter().map(|url| transport::address(url)).collect(),
        bounds: transport::Bounds {
            timeout: Duration::from_secs(config.limits.subgraph_timeout_secs),
            max_bytes: config.limits.max_subgraph_response_bytes,
        },
        include_errors: config.include_subgraph_errors(),
        propagation: Propagation::new(&config.headers, &names)?,
        in_flight: Default::default(),
        executions: Arc::new(Semaphore::new(config.limits.executions())),
        metrics: options.metrics.clone(),
    };
    let settings = Arc::new(Settings::from_config(config));
    Ok(Gateway::new(supergraph, subgraphs, settings))
}

pub async fn start(options: GatewayOptions) -> anyhow::Result<Running> {
    // h2c only when configured: subgraphs must accept it (Mosaic's do).
    let transport = Transport::new(options.config.subgraph_h2c);
    let auth_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?;
    let (sdl, modified) = read(&options.supergraph)?;
    let gateway = build(&sdl, &options, transport.clone())?;
    let current: Current = Arc::new(RwLock::new(Arc::new(gateway)));
    if let SupergraphSource::File(path) = &options.supergraph {
        tokio::spawn(watch(
            path.clone(),
            modified,
            options.clone(),
            transport,
            current.clone(),
        ));
    }
    let listener = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("gateway: binding {}", options.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!("gateway serving http://{addr}/graphql");
    let config = &options.config;
    // Flips to true on SIGTERM/SIGINT: websockets close with 1001, in-flight requests get
    // `shutdown_grace_secs` to finish.
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let edge = Edge {
        shutdown: shutdown_rx.clone(),
        current,
        auth: Authenticator::new(config.auth.clone(), auth_client).await?,
        csrf: Arc::new(config.csrf.clone()),
        max_batch_size: config.limits.max_batch_size,
        permits: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
        ws_permits: Arc::new(Semaphore::new(config.limits.max_websocket_connections)),
        max_subscriptions_per_connection: config.limits.max_subscriptions_per_connection,
        max_message_bytes: config.limits.max_body_bytes,
        websocket_init_timeout: Duration::from_secs(config.limits.websocket_init_timeout_secs),
        metrics: options.metrics.clone(),
    };
    let app = http::router(edge, config);
    let grace = Duration::from_secs(config.limits.shutdown_grace_secs);
    let task = tokio::spawn(async move {
        let stopping = async move {
            subgraph_kit::server::shutdown_signal().await;
            tracing::info!("shutting down: no new connections, finishing what is in flight");
            let _ = shutdown.send(true);
        };
        let serving = axum::serve(listener, app).with_graceful_shutdown(stopping);
        let mut deadline = shutdown_rx;
        tokio::select! {
            served = serving => served,
            () = async {
                crate::ws::stopped(&mut deadline).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("requests still running after {} s: stopping anyway", grace.as_secs());
                Ok(())
            }
        }
    });
    Ok(Running { addr, task })
}

fn read(source: &SupergraphSource) -> anyhow::Result<(String, Option<SystemTime>)> {
    match source {
        SupergraphSource::Text(text) => Ok(((*text).to_owned(), None)),
        SupergraphSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((
                text,
                std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            ))
        }
    }
}

async fn watch(
    path: PathBuf,
    mut seen: Option<SystemTime>,
    options: GatewayOptions,
    transport: Arc<Transport>,
    current: Current,
) {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    loop {
        ticks.tick().await;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if modified.is_none() || modified == seen {
            continue;
        }
        seen = modified;
        let loaded = std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|sdl| build(&sdl, &options, transport.clone()));
        match loaded {
            // In-flight requests keep the `Arc` of the gateway they started with.
            Ok(gateway) => {
                *current.write().expect("no panics while swapping") = Arc::new(gateway);
                options.metrics.reload("applied");
                tracing::info!(path = %path.display(), "supergraph reloaded");
            }
            Err(err) => {
                options.metrics.reload("refused");
                tracing::error!(path = %path.display(), "refused the new supergraph, still serving the old one: {err:#}")
            }
        }
    }
}
