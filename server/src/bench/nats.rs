//! The NATS side of the bench: a server (the one given with `--nats`, else a throwaway
//! `nats-server -p -1 -js` like the tests start), the engine's and the raw baseline's streams.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gridcase_bus::nats::jetstream::{self as js, ServerVersion, MIN_SERVER_VERSION};
use gridcase_bus::{NatsLog, NatsSettings};

use super::{ctx, BenchError};

/// Where the NATS suites run.
pub(crate) struct NatsEnv {
    /// `--nats`.
    given: Option<String>,
    /// `Some(Ok(url))` once a server is known, `Some(Err(reason))` when there is none.
    state: Option<Result<String, String>>,
    spawned: Option<Spawned>,
    /// The engine's stream holds the append workload (set by the append-nats suite).
    pub engine_filled: bool,
    /// A suffix making this run's stream names and subject prefixes unique on a shared server.
    tag: String,
}

impl NatsEnv {
    pub fn new(given: Option<String>) -> NatsEnv {
        NatsEnv {
            given,
            state: None,
            spawned: None,
            engine_filled: false,
            tag: format!("{:x}", std::process::id()),
        }
    }

    /// The server's URL, or why there is none (the NATS rows are then skipped).
    pub fn url(&mut self) -> Result<String, String> {
        if self.state.is_none() {
            self.state = Some(match &self.given {
                Some(url) => Ok(url.clone()),
                None => match Spawned::start() {
                    Ok(s) => {
                        eprintln!(
                            "bench: started nats-server {} at {} (store {})",
                            s.version,
                            s.url(),
                            s.dir.path().display()
                        );
                        let url = s.url();
                        self.spawned = Some(s);
                        Ok(url)
                    }
                    Err(reason) => Err(reason),
                },
            });
        }
        self.state
            .clone()
            .unwrap_or_else(|| Err("no server".into()))
    }

    /// The engine's stream: `GRIDCASE_BENCH_<tag>` on `bench<tag>.eng`.
    pub fn engine_settings(&self, url: &str) -> NatsSettings {
        NatsSettings {
            url: url.to_owned(),
            stream: format!("GRIDCASE_BENCH_{}", self.tag),
            subject_prefix: format!("bench{}.eng", self.tag),
            ..NatsSettings::default()
        }
    }

    /// The raw baseline's stream, configured exactly like the engine's, with a subject prefix
    /// of the same length (so subjects have the same bytes count).
    pub fn raw_settings(&self) -> js::StreamSettings {
        js::StreamSettings {
            name: format!("GRIDCASE_BENCH_RAW_{}", self.tag),
            subject_prefix: format!("bench{}.raw", self.tag),
            duplicate_window: NatsSettings::default().duplicate_window,
            replicas: 1,
        }
    }

    /// Connects the engine's log (creating its stream).
    pub async fn engine_log(&mut self) -> Result<NatsLog, BenchError> {
        let url = self.url().map_err(BenchError)?;
        NatsLog::connect(self.engine_settings(&url))
            .await
            .map_err(ctx("connecting the NATS log"))
    }

    /// Deletes this run's streams on a server given with `--nats`, and stops a spawned one.
    pub async fn shutdown(&mut self) {
        if let (Some(url), None) = (&self.given, &self.spawned) {
            if let Ok(conn) = js::connect(url).await {
                let engine = self.engine_settings(url).stream;
                for name in [engine, self.raw_settings().name] {
                    let _ = conn.jetstream.delete_stream(&name).await;
                }
            }
        }
        self.spawned = None;
    }
}

/// A throwaway nats-server with JetStream on a random port; killed and deleted on drop.
struct Spawned {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    version: ServerVersion,
}

impl Spawned {
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `$NATS_SERVER_BIN`, else `nats-server` on `PATH`; must be ≥ 2.11.
    fn start() -> Result<Spawned, String> {
        let bin = match std::env::var_os("NATS_SERVER_BIN") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from("nats-server"),
        };
        let hint = "pass --nats URL, or set NATS_SERVER_BIN (scripts/nats-server prints a \
                    suitable binary's path)";
        let out = Command::new(&bin)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {} ({e}); {hint}", bin.display()))?;
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let version = match ServerVersion::parse(&printed) {
            Some(v) if out.status.success() && v.is_supported() => v,
            _ => {
                return Err(format!(
                    "{} reports {printed:?}, gridcase needs nats-server >= {MIN_SERVER_VERSION}; \
                     {hint}",
                    bin.display()
                ))
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("gridcase-bench-nats-")
            .tempdir()
            .map_err(|e| format!("creating a directory for nats-server: {e}"))?;
        let store = dir.path().join("store");
        let ports = dir.path().join("ports");
        let log_path = dir.path().join("nats-server.log");
        let io = |e: std::io::Error| format!("preparing nats-server: {e}");
        fs::create_dir_all(&store).map_err(io)?;
        fs::create_dir_all(&ports).map_err(io)?;
        let log = File::create(&log_path).map_err(io)?;
        let log_err = log.try_clone().map_err(io)?;
        let mut child = Command::new(&bin)
            .args(["-p", "-1", "-js", "-a", "127.0.0.1", "-sd"])
            .arg(&store)
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
        match wait_for_port(&mut child, &ports) {
            Ok(port) => Ok(Spawned {
                child,
                dir,
                port,
                version,
            }),
            Err(reason) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "{} did not start: {reason}; its log: {}",
                    bin.display(),
                    fs::read_to_string(&log_path).unwrap_or_default()
                ))
            }
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the server's `<name>_<pid>.ports` file and reads the client port from it.
fn wait_for_port(child: &mut Child, dir: &Path) -> Result<u16, String> {
    let suffix = format!("_{}.ports", child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("it exited with {status}"));
        }
        let port = fs::read_dir(dir).ok().and_then(|entries| {
            let entry = entries
                .filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))?;
            client_port(&fs::read_to_string(entry.path()).ok()?)
        });
        if let Some(port) = port {
            return Ok(port);
        }
        if Instant::now() >= deadline {
            return Err("no ports file after 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The port of `{"nats":["nats://127.0.0.1:4222"],...}`.
fn client_port(ports_json: &str) -> Option<u16> {
    let after = &ports_json[ports_json.find("\"nats\"")?..];
    let url = &after[after.find("nats://")? + "nats://".len()..];
    let url = &url[..url.find('"')?];
    url.rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_client_port() {
        assert_eq!(
            client_port(r#"{"nats":["nats://127.0.0.1:41517"],"monitoring":[]}"#),
            Some(41517)
        );
        assert_eq!(client_port(r#"{"nats":["nats://127.0"#), None);
    }

    #[test]
    fn raw_subjects_are_as_long_as_the_engines() {
        let env = NatsEnv::new(None);
        assert_eq!(
            env.engine_settings("nats://x").subject_prefix.len(),
            env.raw_settings().subject_prefix.len()
        );
    }
}
