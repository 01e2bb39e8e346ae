//! The command line every subgraph binary shares: `serve` (default), `migrate`, `seed`, `sdl`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;

use crate::bus::NatsBus;
use crate::cache::ResponseCache;
use crate::caller::{Auth, DEV_JWT_SECRET};
use crate::demo::Dataset;
use crate::{Context, EventBus, LocalBus, Subgraph, db, server};

#[derive(Parser)]
#[command(
    version,
    about = "A Mosaic domain subgraph (Federation v2) served at /graphql"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve GraphQL over HTTP and websocket (the default).
    Serve,
    /// Manage the database schema without serving.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Apply migrations and load the demo data into an empty database.
    Seed,
    /// Print the subgraph's Federation v2 SDL.
    Sdl,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the last `steps` migrations.
    Down {
        #[arg(default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again.
    Fresh,
}

/// Settings of one subgraph process; each flag can also come from its environment variable.
#[derive(Args, Clone, Debug, Default)]
pub struct Options {
    /// Address to listen on [default: 127.0.0.1 and the subgraph's own port].
    #[arg(long, env = "LISTEN_ADDR")]
    pub listen: Option<SocketAddr>,
    /// Database URL: `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB` [default: sqlite://data/NAME.db].
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// HMAC key that verifies caller tokens (and signs them, in accounts) [default: the dev key].
    #[arg(long, env = "MOSAIC_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Load the demo data into an empty database before serving.
    #[arg(long)]
    pub seed: bool,
    /// Which data `--seed` and `seed` load: `demo`, or `bench` (shaped like the public gateway
    /// benchmarks' data, for `bench/load.sh`). All subgraphs must use the same one [default: demo].
    #[arg(long, value_enum, env = "MOSAIC_DATASET")]
    pub dataset: Option<Dataset>,
    /// Event bus for subscriptions: `nats://HOST:PORT` shares events between replicas
    /// [default: in-process, one replica].
    #[arg(long, env = "MOSAIC_BUS_URL")]
    pub bus_url: Option<String>,
    /// Keep answers to read-only operations this many seconds, per caller unless no resolver
    /// read the caller; any write clears them. Other replicas' writes show after at most this
    /// long [default: 0, no cache].
    #[arg(long, env = "MOSAIC_RESPONSE_CACHE_SECONDS")]
    pub response_cache_seconds: Option<u64>,
    /// YAML file with any of `listen`, `database_url`, `jwt_secret`, `bus_url`, `seed`, `dataset`,
    /// `response_cache_seconds` (`${VAR}` expanded); flags and their environment variables win
    /// over it.
    #[arg(long, env = "MOSAIC_SUBGRAPH_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

/// The settings file of a subgraph: the same keys as the flags.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct FileOptions {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    jwt_secret: Option<String>,
    bus_url: Option<String>,
    seed: bool,
    dataset: Option<Dataset>,
    response_cache_seconds: Option<u64>,
}

impl Options {
    /// These options, with what they leave unset taken from the config file.
    pub fn resolve(mut self) -> anyhow::Result<Self> {
        let Some(path) = &self.config else {
            return Ok(self);
        };
        let file: FileOptions = crate::config::read_yaml(path)?;
        self.listen = self.listen.or(file.listen);
        self.database_url = self.database_url.or(file.database_url);
        self.jwt_secret = self.jwt_secret.or(file.jwt_secret);
        self.bus_url = self.bus_url.or(file.bus_url);
        self.seed |= file.seed;
        self.dataset = self.dataset.or(file.dataset);
        self.response_cache_seconds = self.response_cache_seconds.or(file.response_cache_seconds);
        Ok(self)
    }

    fn database_url<S: Subgraph>(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| db::default_url(S::NAME))
    }

    async fn bus(&self) -> anyhow::Result<Arc<dyn EventBus>> {
        Ok(match &self.bus_url {
            Some(url) => Arc::new(
                NatsBus::connect(url, "mosaic")
                    .await
                    .with_context(|| format!("connecting to the event bus at {url}"))?,
            ),
            None => Arc::new(LocalBus::default()),
        })
    }

    fn cache(&self) -> Option<Arc<ResponseCache>> {
        let seconds = self.response_cache_seconds.filter(|&s| s > 0)?;
        Some(Arc::new(ResponseCache::new(Duration::from_secs(seconds))))
    }

    fn auth(&self) -> Auth {
        Auth::new(self.jwt_secret.as_deref().unwrap_or_else(|| {
            tracing::warn!("no MOSAIC_JWT_SECRET set: using the public development key");
            DEV_JWT_SECRET
        }))
    }
}

/// Entry point of a subgraph binary: runs the command line on a multi-threaded runtime.
pub fn run<S: Subgraph>() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built on any supported OS");
    let result = runtime.block_on(main::<S>());
    crate::telemetry::shutdown();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {err:#}", S::NAME);
            std::process::ExitCode::FAILURE
        }
    }
}

async fn main<S: Subgraph>() -> anyhow::Result<()> {
    crate::telemetry::init(S::NAME, json_logs(false));
    let matches = Cli::command().name(S::NAME).get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    let options = cli.options.resolve()?;
    let url = options.database_url::<S>();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let running = start::<S>(&options).await?;
            running.task.await??;
        }
        Command::Migrate { action } => {
            migrate::<S>(&url, action.unwrap_or(MigrateAction::Up)).await?
        }
        Command::Seed => {
            let db = db::connect_and_migrate::<S::Migrator>(&url).await?;
            S::seed(&db, options.dataset.unwrap_or_default()).await?
        }
        Command::Sdl => print!("{}", server::sdl::<S>()),
    }
    Ok(())
}

async fn migrate<S: Subgraph>(url: &str, action: MigrateAction) -> anyhow::Result<()> {
    let db = db::connect(url).await?;
    match action {
        MigrateAction::Up => S::Migrator::up(&db, None).await?,
        MigrateAction::Down { steps } => S::Migrator::down(&db, Some(steps)).await?,
        MigrateAction::Status => S::Migrator::status(&db).await?,
        MigrateAction::Fresh => S::Migrator::fresh(&db).await?,
    }
    Ok(())
}

/// A subgraph serving in the background.
pub struct Running {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Connects, migrates, optionally seeds, binds and serves until Ctrl-C or SIGTERM.
pub async fn start<S: Subgraph>(options: &Options) -> anyhow::Result<Running> {
    let db = db::connect_and_migrate::<S::Migrator>(&options.database_url::<S>())
        .await
        .with_context(|| format!("{}: opening the database", S::NAME))?;
    if options.seed {
        S::seed(&db, options.dataset.unwrap_or_default()).await?;
    }
    let ctx = Context {
        db,
        auth: Arc::new(options.auth()),
        bus: options.bus().await?,
        cache: options.cache(),
    };
    let listen = options
        .listen
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, S::DEFAULT_PORT)));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("{}: binding {listen}", S::NAME))?;
    let addr = listener.local_addr()?;
    let ready = server::ready_router(ctx.db.clone());
    let app = server::router::<S>(ctx)
        .merge(server::health_router())
        .merge(ready);
    tracing::info!(subgraph = S::NAME, "serving http://{addr}/graphql");
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(server::shutdown_signal())
            .await
    });
    Ok(Running {
        name: S::NAME,
        addr,
        task,
    })
}

/// JSON logs (one object per line, spans included) or human ones: `MOSAIC_LOG_FORMAT=json|text`,
/// else `default`.
pub fn json_logs(default: bool) -> bool {
    match std::env::var("MOSAIC_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_config_file() {
        let file = std::env::temp_dir().join(format!("mosaic-kit-{}.yaml", std::process::id()));
        let yaml = "listen: 127.0.0.1:4999\ndatabase_url: ${MOSAIC_KIT_TEST_UNSET:-sqlite://x.db}\nseed: true\ndataset: bench\nresponse_cache_seconds: 2\n";
        std::fs::write(&file, yaml).expect("writing");
        let options = Options {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 5000))),
            config: Some(file.clone()),
            ..Options::default()
        }
        .resolve()
        .expect("a valid file");
        assert_eq!(
            options.listen.map(|a| a.port()),
            Some(5000),
            "the flag wins"
        );
        assert_eq!(options.database_url.as_deref(), Some("sqlite://x.db"));
        assert!(options.seed);
        assert_eq!(options.dataset, Some(Dataset::Bench));
        assert!(options.cache().is_some());
        std::fs::write(&file, "listn: 127.0.0.1:1\n").expect("writing");
        let err = Options {
            config: Some(file),
            ..Options::default()
        }
        .resolve();
        assert!(format!("{:#}", err.expect_err("a typo")).contains("listn"));
    }
}
