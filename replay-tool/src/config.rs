//! The deployment settings `gridcase-replay` shares with the server: `--config FILE` names the
//! server's TOML configuration, of which the tool reads where the log is (`data_dir`, or the
//! `[nats]` table: `url`, `stream`, `subject_prefix`, `api_prefix`), `time_zone` and the
//! `[regions]` table (see `gridcase_server::config`); the rest is the server's business and
//! is not read. The server's environment variables apply as they do for the server
//! ([`Deployment::with_env`]); the command line overrides each.

use std::path::{Path, PathBuf};

use gridcase_regions::RegionsConfig;
use serde::Deserialize;

/// What the tool takes from the server's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Deployment {
    /// The server's data directory, when the file sets one.
    pub data_dir: Option<PathBuf>,
    /// The server's NATS JetStream log, when the file has a `[nats]` table.
    pub nats: Option<NatsLocation>,
    /// The deployment's time zone, when the file sets one.
    pub time_zone: Option<String>,
    /// The deployment's region data.
    pub regions: RegionsConfig,
}

/// Where the server's `[nats]` table puts the log; what it leaves out takes the server's
/// defaults (those of the command line's options).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NatsLocation {
    /// Server URL.
    pub url: Option<String>,
    /// Stream name.
    pub stream: Option<String>,
    /// Subject prefix of cases.
    pub subject_prefix: Option<String>,
    /// The JetStream API prefix.
    pub api_prefix: Option<String>,
}

/// A configuration file that could not be read: fix the file named.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading the configuration {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or its `time_zone` or `[regions]` are not valid.
    #[error("the configuration {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: Box<toml::de::Error>,
    },
}

impl Deployment {
    /// Applies the environment variables `gridcase serve` reads the same way:
    /// `GRIDCASE_DATA_DIR` replaces `data_dir` (a NATS deployment keeps its log on NATS),
    /// `GRIDCASE_NATS_URL` sets `[nats] url` (and so puts the log on NATS).
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> Deployment {
        if let Some(dir) = env("GRIDCASE_DATA_DIR") {
            self.data_dir = Some(dir.into());
        }
        if let Some(url) = env("GRIDCASE_NATS_URL") {
            self.nats.get_or_insert_with(NatsLocation::default).url = Some(url);
        }
        self
    }

    /// Reads what the tool uses (see the module documentation) from the server's
    /// configuration file.
    pub fn read(path: &Path) -> Result<Deployment, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_time_zone_and_regions_of_a_server_configuration() {
        let d: Deployment = toml::from_str(
            r#"
            listen = "127.0.0.1:8080"
            time_zone = "Asia/Urumqi"
            [nats]
            url = "nats://h:4222"
            [regions]
            divisions = "d.csv"
            grids = "g.csv"
            [[tokens]]
            sha256 = "00"
            actor = { id = "a", role = "auditor", scope = { subtree = "330800" } }
            "#,
        )
        .unwrap();
        assert_eq!(d.time_zone.as_deref(), Some("Asia/Urumqi"));
        assert_eq!(
            d.nats,
            Some(NatsLocation {
                url: Some("nats://h:4222".into()),
                ..NatsLocation::default()
            })
        );
        assert_eq!(d.data_dir, None);
        assert_eq!(d.regions.divisions.as_deref(), Some(Path::new("d.csv")));
        assert_eq!(d.regions.grids.as_deref(), Some(Path::new("g.csv")));
        assert_eq!(
            toml::from_str::<Deployment>("").unwrap(),
            Deployment::default()
        );
        assert!(toml::from_str::<Deployment>("[regions]\ngrid = \"g.csv\"").is_err());
    }
}
