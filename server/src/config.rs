//! Configuration: works with no file (embedded store under `./data`); one TOML file plus
//! environment overrides (`GRIDCASE_LISTEN`, `GRIDCASE_DATA_DIR`, `GRIDCASE_NATS_URL`,
//! `GRIDCASE_TIME_ZONE`) for the rest.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! data_dir = "./data"
//! time_zone = "Asia/Shanghai"
//!
//! [nats]                      # omit for the embedded store
//! url = "nats://127.0.0.1:4222"
//! stream = "GRIDCASE"
//! subject_prefix = "gridcase.cases"
//!
//! [vault]                     # the personal data vault's master key (64 hex digits)
//! key_file = "/etc/gridcase/vault.key"   # or: key_env = "GRIDCASE_VAULT_KEY"
//!                                        # neither: DATA/vault.key is generated, with a warning
//!
//! [privacy]                   # auditors who may also read parties' personal fields (a grant of
//! personal_data_auditors = ["audit-330800-2"]   # its own, PIPL art. 28; every read is logged)
//! case_text_retention_days = 1825             # a finished case's text is kept this long
//!
//! [regions]
//! divisions = "divisions.csv" # default: the bundled Zhejiang divisions
//! grids = "grids.csv"         # one 15-digit grid code per line; default: the demo's generated grids
//!
//! [[tokens]]                  # bearer tokens, stored as SHA-256 hex: `gridcase hash-token`
//! sha256 = "…"
//! name = "徐建国"
//! actor = { id = "gw-1", role = "grid_worker", scope = { subtree = "330802005001007" } }
//!
//! [[staff]]                   # people to pick as handlers or mediators (with or without token)
//! name = "余丽华"
//! actor = { id = "med-1", role = "mediator", scope = { assignment = { organization = "330802005001" } } }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gridcase_domain::{Actor, Policy};
pub use gridcase_regions::RegionsConfig;
use serde::{Deserialize, Serialize};

/// Everything `gridcase serve` needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// The data directory: `log/` (embedded store) and `projection/`.
    pub data_dir: PathBuf,
    /// The deployment's time zone for statistics.
    pub time_zone: String,
    /// Use NATS JetStream instead of the embedded store.
    pub nats: Option<NatsConfig>,
    /// The deployment's region data (read by `gridcase-replay` too).
    pub regions: RegionsConfig,
    /// Deadlines and closing policy.
    pub policy: Policy,
    /// Bearer tokens.
    pub tokens: Vec<TokenConfig>,
    /// The people of the units, by name (handlers and mediators to pick from); everyone with
    /// a token is a person too.
    pub staff: Vec<StaffConfig>,
    /// Also name the fixtures' generated roster of every unit (the demo; not for production).
    pub demo_roster: bool,
    /// Where no grid file is configured, use the demo's generated grids (`serve --demo`; not
    /// for production, where a deployment names its grids in `[regions] grids`).
    pub demo_grids: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Cases kept in the command path's cache.
    pub cache_cases: usize,
    /// The key of request fingerprints (idempotency); default `DATA/request.key`, made on
    /// first start. Servers sharing one NATS log must name the same file.
    pub request_key_file: Option<PathBuf>,
    /// Where the personal data vault's master key comes from.
    pub vault: VaultConfig,
    /// Who besides the holding unit and the active mediator reads personal data.
    pub privacy: PrivacyConfig,
}

/// Grants to read parties' personal data beyond the holding unit and the case's active
/// mediator (who read it by their work).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Auditors (by actor id; each must have a token with the auditor role) who see the
    /// personal fields of the parties of cases in their scope, with a stated purpose, and may
    /// reveal ID numbers; every read is in the access log. Other auditors see parties by
    /// opaque id and role only.
    pub personal_data_auditors: Vec<gridcase_domain::ActorId>,
    /// Days a finished case's free text is kept after its last activity before it may be
    /// erased (`DELETE /api/v1/cases/{id}/text`, once every party's data is erased); 0: at
    /// once.
    pub case_text_retention_days: u32,
}

/// The personal data vault's master key (key-encryption key): a file or an environment
/// variable holding 64 hex digits, never in the log or the repository. With neither,
/// `DATA/vault.key` is generated (mode 0600) and a warning says that it sits beside the data
/// it protects. The vault lives beside the log: `DATA/vault.db` for the embedded store, a
/// JetStream key-value bucket for NATS.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    /// A file holding the master key.
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the master key.
    pub key_env: Option<String>,
}

impl VaultConfig {
    /// Where the key comes from.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when both a file and a variable are named.
    pub fn key_source(&self) -> Result<gridcase_vault::KeySource, ConfigError> {
        match (&self.key_file, &self.key_env) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid(
                "[vault] names both key_file and key_env: choose one".into(),
            )),
            (Some(f), None) => Ok(gridcase_vault::KeySource::File(f.clone())),
            (None, Some(v)) => Ok(gridcase_vault::KeySource::Env(v.clone())),
            (None, None) => Ok(gridcase_vault::KeySource::Generated),
        }
    }
}

/// The NATS JetStream log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL.
    pub url: String,
    /// Stream name.
    pub stream: String,
    /// Subject prefix; cases live on `<prefix>.<county>.<case id>`.
    pub subject_prefix: String,
    /// The duplicate window in seconds.
    pub duplicate_window_secs: u64,
    /// The JetStream API prefix (`$JS.API`, or `$JS.<domain>.API` for a JetStream domain).
    pub api_prefix: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            stream: "GRIDCASE".into(),
            subject_prefix: "gridcase.cases".into(),
            duplicate_window_secs: 600,
            api_prefix: gridcase_bus::DEFAULT_API_PREFIX.into(),
        }
    }
}

/// One bearer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// SHA-256 of the token, lowercase hex.
    pub sha256: String,
    /// The actor the token acts as.
    pub actor: Actor,
    /// Their name, as colleagues know them.
    #[serde(default)]
    pub name: Option<String>,
}

/// One person of a unit (a handler or mediator to pick), with or without a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffConfig {
    /// Their name.
    pub name: String,
    /// The actor they are.
    pub actor: Actor,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            data_dir: PathBuf::from("./data"),
            time_zone: "Asia/Shanghai".into(),
            nats: None,
            regions: RegionsConfig::default(),
            policy: Policy::default(),
            tokens: Vec::new(),
            staff: Vec::new(),
            demo_roster: false,
            demo_grids: false,
            max_body_bytes: 64 * 1024,
            cache_cases: 100_000,
            request_key_file: None,
            vault: VaultConfig::default(),
            privacy: PrivacyConfig::default(),
        }
    }
}

/// A configuration that could not be read: fix the file or variable named.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("the configuration {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// An environment override is not valid.
    #[error("environment variable {name}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Why.
        #[source]
        source: std::net::AddrParseError,
    },
    /// Settings that contradict each other.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads the file (if any), then applies environment overrides.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.into(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        if let Ok(v) = std::env::var("GRIDCASE_LISTEN") {
            c.listen = v.parse().map_err(|source| ConfigError::Env {
                name: "GRIDCASE_LISTEN",
                source,
            })?;
        }
        if let Ok(v) = std::env::var("GRIDCASE_DATA_DIR") {
            c.data_dir = v.into();
        }
        if let Ok(v) = std::env::var("GRIDCASE_NATS_URL") {
            c.nats.get_or_insert_with(NatsConfig::default).url = v;
        }
        if let Ok(v) = std::env::var("GRIDCASE_TIME_ZONE") {
            c.time_zone = v;
        }
        Ok(c)
    }
}
