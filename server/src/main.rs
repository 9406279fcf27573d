//! `gridcase`: serve the API, load fixtures, hash tokens, benchmark (with the cargo feature
//! `bench`). Glue only; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gridcase_server::config::{Config, NatsConfig};
use gridcase_server::serve::{self, Server};

/// mimalloc: the projection and the codecs allocate many small objects; glibc's allocator
/// spent a third of a rebuild in malloc/free (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gridcase",
    version,
    about = "Grid-based incident and dispute cases: the engine and its HTTP API."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// Data directory of the embedded store and the projection.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use NATS JetStream at this URL instead of the embedded store.
    #[arg(long)]
    nats: Option<String>,
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The deployment's region data, over the configuration's `[regions]` table (the same options
/// as `gridcase-replay`'s).
#[derive(clap::Args, Clone)]
struct RegionArgs {
    /// The division table (`code,name,level,parent` CSV); default the bundled Zhejiang
    /// divisions.
    #[arg(long, value_name = "FILE")]
    divisions: Option<PathBuf>,
    /// The grid file, one 15-digit grid code per line; without one no grids are known (with
    /// `--demo`, the demo's generated grids).
    #[arg(long, value_name = "FILE")]
    grids: Option<PathBuf>,
}

/// The personal data vault's master key, over the configuration's `[vault]` table: a file or
/// an environment variable with 64 hex digits; with neither, `DATA/vault.key` is generated
/// (with a warning: it sits beside the data it protects).
#[derive(clap::Args, Clone)]
struct VaultArgs {
    /// A file holding the vault's master key (mode 0600, outside the data directory).
    #[arg(long, value_name = "FILE", conflicts_with = "vault_key_env")]
    vault_key_file: Option<PathBuf>,
    /// An environment variable holding the vault's master key.
    #[arg(long, value_name = "NAME")]
    vault_key_env: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the command path, the projection runner and the HTTP API.
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        regions: RegionArgs,
        #[command(flatten)]
        vault: VaultArgs,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// On an empty store, load the quzhou-month fixture first and print ready-to-use tokens.
        #[arg(long)]
        demo: bool,
    },
    /// Write a generated fixture through the real command path.
    Load {
        #[command(flatten)]
        store: StoreArgs,
        /// tiny, quzhou-month, quzhou-year or zhejiang-year.
        #[arg(long)]
        fixture: String,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Copy a sled store of an earlier version (`DATA/log`) into a new directory as the file
    /// log, in about a quarter of the disk space, with the server stopped; the original is
    /// left as it was (see BENCHMARKS.md, storage).
    Compact {
        #[command(flatten)]
        store: StoreArgs,
        /// The new directory for the copy (must not exist).
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Print the SHA-256 of a token, for the `tokens` section of the configuration.
    HashToken {
        /// The token.
        token: String,
    },
    /// Measure the engine next to the raw limits of its storage and print a table (see
    /// BENCHMARKS.md). Exits 0 when the run completes, whether or not targets are met.
    #[cfg(feature = "bench")]
    Bench(gridcase_server::bench::Options),
    /// Internal: one measurement of `gridcase bench` in its own process.
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    BenchChild {
        /// rebuild or raw-scan.
        #[arg(long)]
        mode: String,
        /// The embedded log's directory.
        #[arg(long)]
        log: PathBuf,
        /// Where the rebuilt projection goes.
        #[arg(long)]
        work: Option<PathBuf>,
    },
}

fn config(store: &StoreArgs) -> Result<Config, Box<dyn std::error::Error>> {
    let mut c = Config::load(store.config.as_deref())?;
    if let Some(d) = &store.data {
        c.data_dir = d.clone();
    }
    if let Some(url) = &store.nats {
        c.nats.get_or_insert_with(NatsConfig::default).url = url.clone();
    }
    Ok(c)
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Cmd::HashToken { token } => {
            println!("{}", hex::encode(gridcase_server::app::token_hash(&token)));
            Ok(())
        }
        #[cfg(feature = "bench")]
        Cmd::Bench(opts) => {
            gridcase_server::bench::run(opts).await?;
            Ok(())
        }
        #[cfg(feature = "bench")]
        Cmd::BenchChild { mode, log, work } => {
            let line =
                gridcase_server::bench::run_child(mode.parse()?, &log, work.as_deref()).await?;
            println!("{line}");
            Ok(())
        }
        Cmd::Compact { store, to } => {
            let cfg = config(&store)?;
            if cfg.nats.is_some() {
                return Err(
                    "compact is for the embedded store; NATS JetStream manages its own files"
                        .into(),
                );
            }
            let from = cfg.data_dir.join("log");
            if gridcase_bus::FileLog::exists_in(&from) {
                println!(
                    "{} is already the file log, which takes no more space than its commits: \
                     nothing to do",
                    from.display()
                );
                return Ok(());
            }
            let sled = gridcase_bus::SledLog::open_read_only(&from)?;
            let before = sled.space_usage()?;
            let c = gridcase_bus::FileLog::copy_from_sled(&sled, &to)?;
            let per = |bytes: u64| bytes / c.commits.max(1);
            println!(
                "copied {} (sled, {} commits, {} MiB, {} bytes/commit) into the file log {} \
                 ({} MiB, {} bytes/commit); every record read back and checked",
                from.display(),
                c.commits,
                before.disk_bytes >> 20,
                per(before.disk_bytes),
                to.display(),
                c.file_bytes >> 20,
                per(c.file_bytes),
            );
            println!(
                "to use it, with the server stopped: mv {0} {0}.old && mv {1} {0}",
                from.display(),
                to.display()
            );
            Ok(())
        }
        Cmd::Load {
            store,
            fixture,
            seed,
        } => {
            let cfg = config(&store)?;
            let log = serve::open_log(&cfg).await?;
            let l = gridcase_server::load::load(&log, &fixture, seed, true).await?;
            println!(
                "loaded {fixture} (seed {seed}): {} cases, {} commits, {} events in {:.1}s ({:.0} events/s)",
                l.cases,
                l.commits,
                l.events,
                l.seconds,
                l.events as f64 / l.seconds.max(1e-9)
            );
            let grids = gridcase_server::load::demo_grid_file(&cfg.data_dir);
            gridcase_server::load::write_fixture_grids(&fixture, seed, &grids).map_err(
                |source| serve::ServeError::Io {
                    context: format!("writing {}", grids.display()),
                    source,
                },
            )?;
            println!(
                "its grids: {} (serve and gridcase-replay: --grids {})",
                grids.display(),
                grids.display()
            );
            Ok(())
        }
        Cmd::Serve {
            store,
            regions,
            vault,
            listen,
            demo,
        } => {
            let mut cfg = config(&store)?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = regions.divisions {
                cfg.regions.divisions = Some(d);
            }
            if let Some(g) = regions.grids {
                cfg.regions.grids = Some(g);
            }
            if let Some(f) = vault.vault_key_file {
                cfg.vault.key_file = Some(f);
                cfg.vault.key_env = None;
            }
            if let Some(v) = vault.vault_key_env {
                cfg.vault.key_env = Some(v);
                cfg.vault.key_file = None;
            }
            // The demo's people have names, and every unit a generated roster to pick from.
            cfg.demo_roster |= demo;
            cfg.demo_grids |= demo;
            let regions = Arc::new(serve::load_regions(&cfg)?);
            let demo_grid_file = gridcase_server::load::demo_grid_file(&cfg.data_dir);
            if demo && cfg.regions.grids.is_none() {
                std::fs::create_dir_all(&cfg.data_dir)
                    .and_then(|()| serve::write_grid_file(&regions, &demo_grid_file))
                    .map_err(|source| serve::ServeError::Io {
                        context: format!("writing {}", demo_grid_file.display()),
                        source,
                    })?;
            }
            let log = serve::open_log(&cfg).await?;
            let mut tokens = Vec::new();
            if demo {
                if serve::is_empty(&log).await? {
                    eprintln!("empty store: loading the quzhou-month fixture (seed 1) …");
                    let l = gridcase_server::load::load(&log, "quzhou-month", 1, true).await?;
                    eprintln!(
                        "loaded {} cases, {} events in {:.1}s",
                        l.cases, l.events, l.seconds
                    );
                }
                tokens = gridcase_server::load::demo_tokens();
                cfg.privacy
                    .personal_data_auditors
                    .extend(gridcase_server::load::demo_personal_data_auditors());
            }
            let server = Server::start(&cfg, log, regions, &tokens).await?;
            println!("gridcase listening on http://{}", server.addr);
            println!("workbench (工作台): http://{}/", server.addr);
            if demo {
                println!("demo sign-ins (paste the token on the sign-in page, or use it as Authorization: Bearer <token>):");
                for (token, actor) in &tokens {
                    println!(
                        "  {token:<24} {} {} {}",
                        actor.role(),
                        actor.id(),
                        actor.unit()
                    );
                }
                println!("try: curl -H 'Authorization: Bearer {}' 'http://{}/api/v1/stats?region=330800&period=2025-01'", tokens.last().map(|t| t.0.as_str()).unwrap_or(""), server.addr);
                if cfg.regions.grids.is_none() {
                    println!(
                        "the demo's grids, for gridcase-replay --grids: {}",
                        demo_grid_file.display()
                    );
                }
            }
            serve::shutdown_signal().await;
            eprintln!("shutting down: finishing in-flight requests …");
            server.stop().await?;
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut messages = gridcase_domain::error_messages(&*e).into_iter();
            eprintln!("error: {}", messages.next().unwrap_or_default());
            for cause in messages {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
