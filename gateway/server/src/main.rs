//! `mosaic`: the one binary of the Mosaic federation platform.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use subgraph_kit::Subgraph;
use subgraph_kit::cli::{Options, start};

use mosaic::config::{Config, Profile};
use mosaic::serve::{self, GatewayOptions, SupergraphSource};
use mosaic::transport::Transport;

/// The gateway allocates many small JSON nodes per request; mimalloc handles that pattern far
/// better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The demo graph's supergraph, built in so `mosaic dev` runs from any folder.
const DEMO_SUPERGRAPH: &str = include_str!("../../../schema/supergraph.graphql");

#[derive(Parser)]
#[command(version, about = "Mosaic: a GraphQL federation platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo graph locally: the gateway (4000) in front of the four subgraphs (accounts
    /// 4001, products 4002, inventory 4003, reviews 4004) on embedded SQLite, seeded with demo data.
    Dev(DevArgs),
    /// Serve a supergraph in front of running subgraphs.
    Gateway(GatewayArgs),
    /// Print the query plan of an operation.
    Plan(PlanArgs),
    /// Compose the subgraphs of a Rover-style supergraph.yaml into a supergraph SDL.
    Compose(ComposeArgs),
    /// Print the JSON Schema of the gateway's YAML config file (for editors and CI checks).
    ConfigSchema,
    /// Check a proposed subgraph schema before it deploys: does the graph still compose, what
    /// changes for clients (breaking / dangerous / safe), do known operations still validate.
    /// Exits 1 on composition errors, breaking changes or broken operations.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The registry: supergraph.yaml with every subgraph as deployed now.
    #[arg(long, default_value = "schema/supergraph.yaml")]
    config: PathBuf,
    /// The subgraph that changes.
    #[arg(long)]
    subgraph: String,
    /// Its proposed SDL.
    #[arg(long)]
    schema: PathBuf,
    /// Known client operations: a `.graphql` file or a folder of them.
    #[arg(long)]
    operations: Option<PathBuf>,
    /// `human` or `json`.
    #[arg(long, default_value = "human")]
    format: OutputFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Human,
    Json,
}

#[derive(clap::Args)]
struct ComposeArgs {
    /// supergraph.yaml: per subgraph a `routing_url` and `schema.file` or `schema.subgraph_url`.
    #[arg(long, default_value = "schema/supergraph.yaml", conflicts_with = "dir")]
    config: PathBuf,
    /// Instead of a config: a folder of `NAME.graphql` files, one subgraph each.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// With `--dir`: each subgraph's routing URL, `{name}` standing for its name.
    #[arg(long, default_value = "http://{name}/graphql", requires = "dir")]
    url_template: String,
    /// Write the supergraph here instead of to standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct DevArgs {
    /// Folder holding each subgraph's SQLite database.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Gateway port.
    #[arg(long, default_value_t = 4000)]
    port: u16,
    /// First subgraph port: the subgraphs take this one and the three after it.
    #[arg(long, default_value_t = 4001)]
    base_port: u16,
    /// HMAC key shared by the subgraphs to sign and verify tokens [default: the dev key].
    #[arg(long, env = "MOSAIC_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Event bus of the subgraphs' subscriptions: `nats://HOST:PORT` [default: in-process].
    #[arg(long, env = "MOSAIC_BUS_URL")]
    bus_url: Option<String>,
    /// Exit when standard input closes: lets a test harness that dies take the stack with it.
    #[arg(long, hide = true)]
    stop_on_stdin_eof: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(clap::Args)]
struct GatewayArgs {
    /// Supergraph SDL file (the standard join/link format); reloaded when it changes.
    #[arg(long, env = "MOSAIC_SUPERGRAPH")]
    supergraph: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "MOSAIC_LISTEN", default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Override a subgraph's routing URL: `NAME=URL` (repeatable).
    #[arg(long = "subgraph-url", value_parser = parse_pair)]
    subgraph_urls: Vec<(String, String)>,
    /// Timeout of each subgraph request, in seconds [default: config, else 30].
    #[arg(long)]
    subgraph_timeout: Option<u64>,
    /// Timeout of each client request, all its subgraph fetches included, in seconds
    /// [default: config, else 60].
    #[arg(long)]
    request_timeout: Option<u64>,
    /// Return the query plan in `extensions.queryPlan` to requests with `x-mosaic-query-plan: true`.
    #[arg(long)]
    expose_query_plans: bool,
    /// Exit when standard input closes: lets a test harness that dies take the gateway with it.
    #[arg(long, hide = true)]
    stop_on_stdin_eof: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Where the gateway's settings come from.
#[derive(clap::Args)]
struct ConfigArgs {
    /// YAML config file (see `gateway/mosaic.example.yaml`); `${VAR}` is expanded.
    #[arg(long, env = "MOSAIC_CONFIG")]
    config: Option<PathBuf>,
    /// `dev` (introspection, playground, plans, detailed errors on) or `production` (all off)
    /// [default: the config's, else `dev` for `mosaic dev` and `production` for `mosaic gateway`].
    #[arg(long, env = "MOSAIC_PROFILE")]
    profile: Option<Profile>,
}

impl ConfigArgs {
    /// The config file (or defaults) with the profile flag and the JWT key applied: without a
    /// configured key source, tokens are checked with `MOSAIC_JWT_SECRET`, or in the dev profile
    /// with the development key the subgraphs use by default.
    fn load(&self, jwt_secret: Option<&str>, default: Profile) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.profile = self.profile.or(config.profile).or(Some(default));
        let auth = &mut config.auth;
        if auth.hmac_secret.is_none() && auth.jwks_file.is_none() && auth.jwks_url.is_none() {
            auth.hmac_secret = match (jwt_secret, config.profile.unwrap_or_default()) {
                (Some(secret), _) => Some(secret.to_owned()),
                (None, Profile::Dev) => Some(subgraph_kit::caller::DEV_JWT_SECRET.to_owned()),
                (None, Profile::Production) => {
                    tracing::warn!("no JWT key configured: every token will be refused");
                    None
                }
            };
        }
        Ok(config)
    }
}

#[derive(clap::Args)]
struct PlanArgs {
    /// Supergraph SDL file.
    #[arg(long)]
    supergraph: PathBuf,
    /// The operation: a file path, or the operation text itself.
    #[arg(long)]
    operation: String,
    /// Which operation of the document to plan.
    #[arg(long)]
    operation_name: Option<String>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=URL, got `{text}`"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Production (the gateway's default profile) logs JSON for log pipelines; dev logs for people.
    let production = match &cli.command {
        Command::Gateway(args) => args.config.profile != Some(Profile::Dev),
        Command::Dev(args) => args.config.profile == Some(Profile::Production),
        _ => false,
    };
    // `mosaic dev` runs every service in one process, so one service name covers them.
    let service = match &cli.command {
        Command::Dev(_) => "mosaic-dev",
        _ => "mosaic-gateway",
    };
    subgraph_kit::telemetry::init(service, subgraph_kit::cli::json_logs(production));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built on any supported OS");
    let result = match cli.command {
        Command::Dev(args) => runtime.block_on(dev(args)),
        Command::Gateway(args) => runtime.block_on(gateway(args)),
        Command::Plan(args) => plan(args),
        Command::Compose(args) => runtime.block_on(compose(args)),
        Command::Check(args) => runtime.block_on(check(args)),
        Command::ConfigSchema => {
            println!("{:#}", Config::json_schema());
            Ok(())
        }
    };
    subgraph_kit::telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mosaic: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    if args.stop_on_stdin_eof {
        exit_when_stdin_closes();
    }
    let secret = std::env::var("MOSAIC_JWT_SECRET").ok();
    let mut config = args.config.load(secret.as_deref(), Profile::Production)?;
    if let Some(secs) = args.subgraph_timeout {
        config.limits.subgraph_timeout_secs = secs;
    }
    if let Some(secs) = args.request_timeout {
        config.limits.request_timeout_secs = secs;
    }
    if args.expose_query_plans {
        config.expose_query_plans = Some(true);
    }
    let running = serve::start(GatewayOptions {
        supergraph: SupergraphSource::File(args.supergraph),
        listen: args.listen,
        subgraph_urls: args.subgraph_urls,
        config,
        ..GatewayOptions::default()
    })
    .await?;
    running.task.await??;
    Ok(())
}

fn plan(args: PlanArgs) -> anyhow::Result<()> {
    let sdl = std::fs::read_to_string(&args.supergraph)
        .with_context(|| format!("reading {}", args.supergraph.display()))?;
    let operation = match std::fs::read_to_string(&args.operation) {
        Ok(text) => text,
        Err(_) => args.operation.clone(),
    };
    let gateway = serve::build(&sdl, &GatewayOptions::default(), Transport::new(false))?;
    let prepared = gateway
        .compile(&operation, args.operation_name.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}: {}", serde_json::Value::Array(e.errors())))?;
    println!("{}", prepared.plan);
    Ok(())
}

async fn compose(args: ComposeArgs) -> anyhow::Result<()> {
    let inputs = match &args.dir {
        Some(dir) => mosaic::registry::load_dir(dir, &args.url_template)?,
        None => mosaic::registry::load(&args.config).await?,
    };
    match mosaic_composition::compose(&inputs) {
        Ok(supergraph) => match &args.output {
            Some(path) => std::fs::write(path, supergraph)
                .with_context(|| format!("writing {}", path.display())),
            None => {
                print!("{supergraph}");
                Ok(())
            }
        },
        Err(errors) => {
            for error in &errors {
                eprintln!("{error}");
            }
            anyhow::bail!("composition failed with {} error(s)", errors.len())
        }
    }
}

async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let proposed = std::fs::read_to_string(&args.schema)
        .with_context(|| format!("reading {}", args.schema.display()))?;
    let operations = match &args.operations {
        Some(path) => mosaic::registry::read_operations(path)?,
        None => Vec::new(),
    };
    let report =
        mosaic::registry::check(&args.config, &args.subgraph, proposed, &operations).await?;
    match args.format {
        OutputFormat::Json => {
            let mut json = serde_json::to_value(&report)?;
            json["passed"] = report.passed().into();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        OutputFormat::Human => print_report(&report, operations.len()),
    }
    if report.passed() {
        Ok(())
    } else {
        anyhow::bail!("check failed for subgraph `{}`", report.subgraph)
    }
}

fn print_report(report: &mosaic::registry::CheckReport, operations: usize) {
    if !report.composition_errors.is_empty() {
        println!("✗ the graph no longer composes:");
        report
            .composition_errors
            .iter()
            .for_each(|e| println!("  {e}"));
        return;
    }
    println!("✓ the graph composes");
    if report.changes.is_empty() {
        println!("✓ no change to the API schema");
    }
    for change in &report.changes {
        let mark = match change.severity {
            mosaic_registry::Severity::Breaking => "✗ BREAKING ",
            mosaic_registry::Severity::Dangerous => "! dangerous",
            mosaic_registry::Severity::Safe => "✓ safe     ",
        };
        println!("{mark} {} ({})", change.message, change.code);
    }
    for broken in &report.broken_operations {
        println!("✗ operation {} no longer validates:", broken.source);
        broken.errors.iter().for_each(|e| println!("    {e}"));
    }
    if operations > 0 && report.broken_operations.is_empty() {
        println!("✓ all {operations} known operation(s) still validate");
    }
}

/// Exits the process once standard input reaches its end (`--stop-on-stdin-eof`).
fn exit_when_stdin_closes() {
    tokio::spawn(async {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut sink).await;
        std::process::exit(0);
    });
}

/// Starts every subgraph and the gateway, prints where each listens, and serves until Ctrl-C.
async fn dev(args: DevArgs) -> anyhow::Result<()> {
    if args.stop_on_stdin_eof {
        exit_when_stdin_closes();
    }
    let subgraphs = vec![
        start_dev::<accounts::Accounts>(&args, 0).await?,
        start_dev::<products::Products>(&args, 1).await?,
        start_dev::<inventory::Inventory>(&args, 2).await?,
        start_dev::<reviews::Reviews>(&args, 3).await?,
    ];
    let config = args.config.load(args.jwt_secret.as_deref(), Profile::Dev)?;
    let gateway = serve::start(GatewayOptions {
        supergraph: SupergraphSource::Text(DEMO_SUPERGRAPH),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        subgraph_urls: subgraphs
            .iter()
            .map(|s| (s.name.to_owned(), format!("http://{}/graphql", s.addr)))
            .collect(),
        config: config.clone(),
        ..GatewayOptions::default()
    })
    .await?;
    println!("Mosaic dev is up:");
    if config.playground() {
        println!("  {:<10} http://{}/playground", "playground", gateway.addr);
    }
    println!("  {:<10} http://{}/graphql", "gateway", gateway.addr);
    for subgraph in &subgraphs {
        println!("  {:<10} http://{}/graphql", subgraph.name, subgraph.addr);
    }
    println!("Press Ctrl-C to stop.");
    gateway.task.await??;
    for subgraph in subgraphs {
        subgraph.task.await??;
    }
    Ok(())
}

async fn start_dev<S: Subgraph>(
    args: &DevArgs,
    offset: u16,
) -> anyhow::Result<subgraph_kit::cli::Running> {
    let file = args.data_dir.join(format!("{}.db", S::NAME));
    let options = Options {
        listen: Some(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            args.base_port + offset,
        ))),
        database_url: Some(format!("sqlite://{}?mode=rwc", file.display())),
        jwt_secret: args.jwt_secret.clone(),
        seed: true,
        bus_url: args.bus_url.clone(),
        ..Options::default()
    };
    start::<S>(&options).await
}
