//! Starting and stopping the server.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use gridcase_bus::{AnyLog, CommandPath, EventLog, NatsLog, NatsSettings};
use gridcase_domain::{Actor, ActorId, RegionTree, Role};
use gridcase_projections::{Calendar, Projection};
use gridcase_vault::{NatsConfig as VaultNats, Store, Vault};
use tokio::task::JoinHandle;

use crate::app::{token_hash, App, AppState};
use crate::config::{Config, ConfigError};
use crate::directory::{Directory, Person};
use crate::metrics::Metrics;

/// Why the server could not start or stopped with an error. Each keeps its cause, which
/// `main` prints as a chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The log could not be opened.
    #[error("opening the event log")]
    Log(#[source] gridcase_bus::LogError),
    /// The projection store could not be opened.
    #[error("opening the projection")]
    Projection(#[source] gridcase_projections::ProjectionError),
    /// The projection could not catch up with the log before serving (e.g. the log is
    /// damaged where start-up reads it: the cause says where, and points to
    /// `gridcase-replay verify`).
    #[error("catching the projection up with the event log before serving")]
    CatchUp(#[source] gridcase_projections::ProjectionError),
    /// The deployment's region data could not be loaded; the cause names the file and line.
    #[error("loading the region data")]
    Regions(#[from] gridcase_regions::RegionsError),
    /// The configured time zone is unknown.
    #[error("the configured time zone")]
    TimeZone(#[from] gridcase_projections::UnknownTimeZone),
    /// A configured token is not a SHA-256 in hex.
    #[error("the token for {actor} is not 64 hex digits of SHA-256 (use `gridcase hash-token`)")]
    Token {
        /// The token's actor.
        actor: String,
    },
    /// A secret could not be read or made.
    #[error("the request fingerprint key")]
    Secret(#[from] crate::secrets::SecretError),
    /// The personal data vault could not be opened (e.g. a wrong master key, whose message
    /// names the ids of both keys).
    #[error("opening the personal data vault")]
    Vault(#[source] gridcase_vault::VaultError),
    /// A file-system or network operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server task panicked or was cancelled.
    #[error("the HTTP server stopped abnormally")]
    Task(#[source] tokio::task::JoinError),
}

impl From<gridcase_bus::LogError> for ServeError {
    fn from(e: gridcase_bus::LogError) -> Self {
        ServeError::Log(e)
    }
}

impl From<gridcase_projections::ProjectionError> for ServeError {
    fn from(e: gridcase_projections::ProjectionError) -> Self {
        ServeError::Projection(e)
    }
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> ServeError {
    move |source| ServeError::Io { context, source }
}

/// Loads the deployment's region data ([`gridcase_regions::load`]: the configured division
/// table, default the bundled Zhejiang divisions, and grid file) — what `gridcase-replay`
/// loads from the same options. Without a grid file there are no grids (reports name a
/// village, statistics drill down to villages), except for the demo ([`Config::demo_grids`]),
/// whose generated grids ([`gridcase_fixtures::Grids`], seed 1) stand in.
pub fn load_regions(cfg: &Config) -> Result<RegionTree, ServeError> {
    let mut tree = cfg.regions.load()?;
    if cfg.regions.grids.is_none() {
        if cfg.demo_grids {
            gridcase_fixtures::Grids::new(gridcase_fixtures::Area::Zhejiang, 1)
                .add_where_known(&mut tree);
        } else {
            tracing::warn!(
                "no grid file configured ([regions] grids or --grids): no grids are known, \
                 reports name a village and statistics drill down to villages"
            );
        }
    }
    Ok(tree)
}

/// Writes the grids of `tree` as a grid file (one code per line), e.g. the demo's for
/// `gridcase-replay --grids`.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_grid_file(tree: &RegionTree, path: &std::path::Path) -> std::io::Result<()> {
    let mut text = String::from("# the grids of this deployment, one 15-digit code per line\n");
    for r in tree
        .iter()
        .filter(|r| r.level == gridcase_domain::Level::Grid)
    {
        text.push_str(&r.code.to_string());
        text.push('\n');
    }
    std::fs::write(path, text)
}

/// Opens the configured log.
pub async fn open_log(cfg: &Config) -> Result<AnyLog, ServeError> {
    if let Some(n) = &cfg.nats {
        let settings = NatsSettings {
            url: n.url.clone(),
            stream: n.stream.clone(),
            subject_prefix: n.subject_prefix.clone(),
            duplicate_window: std::time::Duration::from_secs(n.duplicate_window_secs),
            api_prefix: n.api_prefix.clone(),
        };
        return Ok(NatsLog::connect(settings).await?.into());
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(io(format!("creating {}", cfg.data_dir.display())))?;
    Ok(AnyLog::open_embedded(cfg.data_dir.join("log"))?)
}

/// Opens the personal data vault beside the log: `DATA/vault.db` for the embedded store, a
/// JetStream key-value bucket on the log's server for NATS. The master key comes from the
/// configuration ([`crate::config::VaultConfig`]); a generated one is warned about.
pub async fn open_vault(cfg: &Config, log: &AnyLog) -> Result<Arc<Vault>, ServeError> {
    let source = cfg.vault.key_source()?;
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(io(format!("creating {}", cfg.data_dir.display())))?;
    let loaded = source.load(&cfg.data_dir).map_err(ServeError::Vault)?;
    if let Some(w) = &loaded.warning {
        tracing::warn!("personal data vault: {w}");
        if matches!(log, AnyLog::Nats(_)) && cfg.vault.key_file.is_none() {
            tracing::warn!(
                "personal data vault: on NATS every server shares one vault, so every server \
                 must be given the same master key (--vault-key-file or --vault-key-env); a \
                 server with another key refuses to start"
            );
        }
    }
    let store = match log {
        AnyLog::Nats(n) => Store::nats(n.jetstream(), VaultNats::default()).await,
        AnyLog::File(_) | AnyLog::Sled(_) => Store::open_dir(&cfg.data_dir),
    }
    .map_err(ServeError::Vault)?;
    let vault = Vault::open(store, loaded.key)
        .await
        .map_err(ServeError::Vault)?;
    Ok(Arc::new(vault))
}

/// A running server.
pub struct Server {
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state.
    pub app: AppState,
    runner: JoinHandle<()>,
    http: JoinHandle<std::io::Result<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The auditors of `[privacy] personal_data_auditors`, each checked to be an auditor with a
/// token: a grant to a typo or to a grid worker is a configuration error, not a silent no-op.
fn personal_data_auditors<'a>(
    cfg: &Config,
    actors: impl Iterator<Item = &'a Actor> + Clone,
) -> Result<HashSet<ActorId>, ServeError> {
    let mut granted = HashSet::new();
    for id in &cfg.privacy.personal_data_auditors {
        match actors.clone().find(|a| a.id() == id) {
            Some(a) if a.role() == Role::Auditor => {
                granted.insert(id.clone());
            }
            Some(a) => {
                return Err(ConfigError::Invalid(format!(
                    "[privacy] personal_data_auditors names {id}, a {}: the grant is for auditors",
                    a.role()
                ))
                .into())
            }
            None => {
                return Err(ConfigError::Invalid(format!(
                    "[privacy] personal_data_auditors names {id}, who has no token"
                ))
                .into())
            }
        }
    }
    Ok(granted)
}

/// Builds the application state over a log.
pub fn build_app(
    cfg: &Config,
    log: AnyLog,
    vault: Arc<Vault>,
    regions: Arc<RegionTree>,
    projection: Projection,
    extra_tokens: &[(String, Actor)],
) -> Result<AppState, ServeError> {
    let calendar = Calendar::new(&cfg.time_zone)?;
    let mut tokens = HashMap::new();
    for t in &cfg.tokens {
        let mut h = [0u8; 32];
        hex::decode_to_slice(&t.sha256, &mut h).map_err(|_| ServeError::Token {
            actor: t.actor.id().to_string(),
        })?;
        tokens.insert(h, t.actor.clone());
    }
    for (token, actor) in extra_tokens {
        tokens.insert(token_hash(token), actor.clone());
    }
    let personal_data_auditors = personal_data_auditors(cfg, tokens.values())?;
    let key_file = cfg
        .request_key_file
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("request.key"));
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(io(format!("creating {}", cfg.data_dir.display())))?;
    let request_key = crate::secrets::load_or_create(&key_file)?;
    if !projection.has_text_opener() {
        // (Server::start sets it once it has caught up.)
        projection.set_text_opener(vault.clone());
    }
    let directory = directory(cfg, extra_tokens);
    Ok(Arc::new(App {
        request_key,
        path: CommandPath::new(log, regions.clone(), cfg.policy.clone(), cfg.cache_cases)
            .with_sealer(Arc::new(crate::text::VaultSealer(vault.clone())))
            .with_people(Arc::new(directory.clone())),
        directory,
        vault,
        projection,
        regions,
        calendar,
        tokens,
        personal_data_auditors,
        case_text_retention_days: cfg.privacy.case_text_retention_days,
        metrics: Metrics::default(),
        max_body_bytes: cfg.max_body_bytes,
        waiters: tokio::sync::Semaphore::new(crate::app::MAX_WAITERS),
        stopping: tokio::sync::watch::channel(false).0,
    }))
}

/// The people the server knows by name: every token's actor, the configured staff, and with
/// `demo_roster` the fixtures' generated roster. An actor without a configured name is shown
/// by its id — a generated name only for the demo.
fn directory(cfg: &Config, extra_tokens: &[(String, Actor)]) -> Directory {
    let named = |actor: &Actor, name: Option<&str>| {
        let name = match name {
            Some(name) => name.to_owned(),
            None if cfg.demo_roster => gridcase_fixtures::Roster::name_of(actor.id()),
            None => actor.id().as_str().to_owned(),
        };
        Person::new(actor, name)
    };
    let people = cfg
        .tokens
        .iter()
        .map(|t| named(&t.actor, t.name.as_deref()))
        .chain(extra_tokens.iter().map(|(_, a)| named(a, None)))
        .chain(
            cfg.staff
                .iter()
                .map(|s| Person::new(&s.actor, s.name.clone())),
        );
    let directory = Directory::new(people);
    if cfg.demo_roster {
        directory.with_generated_roster()
    } else {
        directory
    }
}

/// Opens the projection under the data directory (or in memory for NATS without a data dir).
pub fn open_projection(cfg: &Config) -> Result<Projection, ServeError> {
    let calendar = Calendar::new(&cfg.time_zone)?;
    let dir = cfg.data_dir.join("projection");
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    Ok(Projection::open(&dir, calendar)?)
}

impl Server {
    /// Starts the runner and the HTTP API on `cfg.listen`.
    pub async fn start(
        cfg: &Config,
        log: AnyLog,
        regions: Arc<RegionTree>,
        extra_tokens: &[(String, Actor)],
    ) -> Result<Server, ServeError> {
        let projection = open_projection(cfg)?;
        // The text index opens sealed summaries with the case keys, all held in memory.
        let vault = open_vault(cfg, &log).await?;
        vault.load_case_keys().await.map_err(ServeError::Vault)?;
        // Catch up before serving, so the first reads are current; the runner follows live
        // from there. (On restart this only replays what arrived since the checkpoint.)
        let started = std::time::Instant::now();
        let applied = projection
            .catch_up(&log, |_, _| {})
            .await
            .map_err(ServeError::CatchUp)?;
        // Then index the texts with the keys: each sealed summary is opened once, here (a
        // long catch-up builds its indexes at its end, which would otherwise open them all
        // a second time).
        projection.set_text_opener(vault.clone());
        tracing::info!(
            applied = applied.get(),
            seconds = started.elapsed().as_secs_f64(),
            "projection caught up"
        );
        let app = build_app(cfg, log, vault, regions, projection, extra_tokens)?;
        let runner = {
            let app = app.clone();
            tokio::spawn(async move {
                // A failed subscription (log unreachable, a damaged commit) is retried with
                // backoff; /readyz shows the lag meanwhile.
                let mut backoff = std::time::Duration::from_millis(200);
                loop {
                    match app.projection.run(app.path.log()).await {
                        Ok(()) => return,
                        Err(e) => {
                            tracing::error!(error = %crate::error::chain(&e), retry_in = ?backoff, "the projection runner failed")
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
                }
            })
        };
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(io(format!("binding {}", cfg.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(io("reading the bound address".into()))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = crate::api::router(app.clone());
        let http = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Server {
            addr,
            app,
            runner,
            http,
            shutdown: Some(tx),
        })
    }

    /// Stops accepting requests, finishes the ones in flight, stops the runner.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        // Live lists end first: a graceful shutdown waits for every open response.
        self.app.stopping.send_replace(true);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = self.http.await;
        // Let the projection apply what the last requests appended (bounded: a log that is
        // unreachable now is replayed at the next start instead).
        if let Ok(head) = self.app.path.log().head().await {
            let drained = self
                .app
                .projection
                .wait_for(head, std::time::Duration::from_secs(10))
                .await;
            if let Err(e) = drained {
                tracing::warn!(error = %crate::error::chain(&e), "stopping before the projection caught up");
            }
        }
        self.runner.abort();
        let _ = self.runner.await;
        // A snapshot now makes the next start instant (nothing to replay).
        if let Err(e) = self.app.projection.save() {
            tracing::warn!(error = %crate::error::chain(&e), "could not save the projection on stop");
        }
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServeError::Io {
                context: "serving HTTP".into(),
                source: e,
            }),
            Err(e) => Err(ServeError::Task(e)),
        }
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Whether the embedded log under `dir` holds no commits.
pub async fn is_empty(log: &AnyLog) -> Result<bool, ServeError> {
    Ok(log.head().await? == gridcase_bus::Position::ZERO)
}

/// The data directory's log path.
pub fn log_dir(data: &Path) -> std::path::PathBuf {
    data.join("log")
}
