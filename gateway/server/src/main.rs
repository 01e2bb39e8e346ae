//! `mosaic`: the one binary of the Mosaic federation platform.
//!
//! Today it runs the local development stack (`mosaic dev`); the gateway, composition and schema
//! checks join it as commands of their own.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use subgraph_kit::Subgraph;
use subgraph_kit::cli::{Options, Running, start};

#[derive(Parser)]
#[command(version, about = "Mosaic: a GraphQL federation platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo graph locally: the four subgraphs (accounts 4001, products 4002,
    /// inventory 4003, reviews 4004) on embedded SQLite, seeded with demo data.
    Dev(DevArgs),
}

#[derive(clap::Args)]
struct DevArgs {
    /// Folder holding each subgraph's SQLite database.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// First port: the subgraphs take this one and the three after it.
    #[arg(long, default_value_t = 4001)]
    base_port: u16,
    /// HMAC key shared by the subgraphs to sign and verify tokens [default: the dev key].
    #[arg(long, env = "MOSAIC_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
}

fn main() -> ExitCode {
    subgraph_kit::cli::init_tracing();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built on any supported OS");
    let result = match cli.command {
        Command::Dev(args) => runtime.block_on(dev(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mosaic: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Starts every subgraph, prints where each listens, and serves until Ctrl-C or SIGTERM.
async fn dev(args: DevArgs) -> anyhow::Result<()> {
    let running = vec![
        start_dev::<accounts::Accounts>(&args, 0).await?,
        start_dev::<products::Products>(&args, 1).await?,
        start_dev::<inventory::Inventory>(&args, 2).await?,
        start_dev::<reviews::Reviews>(&args, 3).await?,
    ];
    println!("Mosaic dev is up:");
    for subgraph in &running {
        println!("  {:<10} http://{}/graphql", subgraph.name, subgraph.addr);
    }
    println!("Press Ctrl-C to stop.");
    for subgraph in running {
        subgraph.task.await??;
    }
    Ok(())
}

async fn start_dev<S: Subgraph>(args: &DevArgs, offset: u16) -> anyhow::Result<Running> {
    let file = args.data_dir.join(format!("{}.db", S::NAME));
    let options = Options {
        listen: Some(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            args.base_port + offset,
        ))),
        database_url: Some(format!("sqlite://{}?mode=rwc", file.display())),
        jwt_secret: args.jwt_secret.clone(),
        seed: true,
    };
    start::<S>(&options).await
}
