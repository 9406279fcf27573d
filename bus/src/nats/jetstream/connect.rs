//! Connecting: [`connect`] refuses servers older than [`MIN_SERVER_VERSION`] and servers
//! without JetStream; [`check_server_version`] is the pure check.

use std::fmt;

use async_nats::jetstream;
use async_nats::Client;

use super::error::NatsError;

/// The JetStream API prefix of the default domain.
pub const DEFAULT_API_PREFIX: &str = "$JS.API";

/// The oldest nats-server gridcase accepts.
///
/// Older servers have a race in the per-subject expected-sequence check (two writers could
/// both pass it) and cannot fsync before acknowledging, so an acknowledged event could be lost.
pub const MIN_SERVER_VERSION: ServerVersion = ServerVersion {
    major: 2,
    minor: 11,
    patch: 0,
};

/// A nats-server version, as `major.minor.patch`. Pre-release suffixes are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version (0 when the server reported none).
    pub patch: u64,
}

impl ServerVersion {
    /// Parses the version out of strings such as `2.14.6`, `v2.11.0-RC.1` or the output of
    /// `nats-server --version` (`nats-server: v2.14.6`). Returns `None` when there is no
    /// `major.minor` in it.
    pub fn parse(text: &str) -> Option<Self> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let mut parts = text[start..].trim().splitn(3, '.');
        let number = |part: Option<&str>| -> Option<u64> {
            let part = part?;
            let digits = part
                .find(|c: char| !c.is_ascii_digit())
                .map_or(part, |end| &part[..end]);
            digits.parse().ok()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = number(parts.next()).unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Whether gridcase can use a server of this version (at least [`MIN_SERVER_VERSION`]).
    pub fn is_supported(self) -> bool {
        self >= MIN_SERVER_VERSION
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Checks the version a server reported (its `INFO` `version` field) against
/// [`MIN_SERVER_VERSION`]. `url` only goes into the error message.
///
/// # Errors
///
/// [`NatsError::UnknownServerVersion`] when `version` cannot be parsed,
/// [`NatsError::ServerTooOld`] when it is older than 2.11.
pub fn check_server_version(url: &str, version: &str) -> Result<ServerVersion, NatsError> {
    let parsed = ServerVersion::parse(version).ok_or_else(|| NatsError::UnknownServerVersion {
        url: url.to_owned(),
        version: version.to_owned(),
    })?;
    if parsed.is_supported() {
        Ok(parsed)
    } else {
        Err(NatsError::ServerTooOld {
            url: url.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// A connection to a JetStream-enabled server of a supported version.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The core NATS client.
    pub client: Client,
    /// The JetStream context over [`Connection::client`], using [`Connection::api_prefix`].
    pub jetstream: jetstream::Context,
    /// The JetStream API prefix: `$JS.API`, or `$JS.<domain>.API` for a JetStream domain.
    /// Requests that `async-nats` has no call for (batched direct gets) are sent under it.
    pub api_prefix: String,
    /// The version the server reported when connecting.
    pub server_version: ServerVersion,
}

impl Connection {
    /// The subject of a JetStream API request, e.g. `api("DIRECT.GET.CASES")`.
    pub fn api(&self, request: &str) -> String {
        format!("{}.{request}", self.api_prefix)
    }
}

/// Connects to `url` with default options and the default API prefix (tests and the bench's
/// raw baselines). See [`connect_with_options`].
///
/// # Errors
///
/// As [`connect_with_options`].
#[cfg(any(test, feature = "test-support"))]
pub async fn connect(url: &str) -> Result<Connection, NatsError> {
    connect_with_options(url, async_nats::ConnectOptions::new(), DEFAULT_API_PREFIX).await
}

/// Connects to `url`, then checks that the server is at least [`MIN_SERVER_VERSION`] and has
/// JetStream enabled. JetStream requests go to `api_prefix` (normally [`DEFAULT_API_PREFIX`]).
///
/// # Errors
///
/// [`NatsError::Connect`] when the server cannot be reached, [`NatsError::ServerTooOld`] or
/// [`NatsError::UnknownServerVersion`] for old servers, [`NatsError::JetStreamDisabled`].
pub async fn connect_with_options(
    url: &str,
    options: async_nats::ConnectOptions,
    api_prefix: &str,
) -> Result<Connection, NatsError> {
    let client = options
        .connect(url)
        .await
        .map_err(|source| NatsError::Connect {
            url: url.to_owned(),
            source,
        })?;
    // `connect` returns once the server's INFO has been processed, so this is the server's.
    let info = client.server_info();
    let server_version = check_server_version(url, &info.version)?;
    if !info.jetstream {
        return Err(NatsError::JetStreamDisabled {
            url: url.to_owned(),
        });
    }
    let jetstream = jetstream::with_prefix(client.clone(), api_prefix);
    Ok(Connection {
        client,
        jetstream,
        api_prefix: api_prefix.to_owned(),
        server_version,
    })
}
