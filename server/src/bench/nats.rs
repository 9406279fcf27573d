//! The NATS side of the bench: a server (the one given with `--nats`, else a throwaway one
//! started by [`NatsServer`], exactly as the tests start theirs), the engine's and the raw
//! baselines' streams.

use gridcase_bus::testing::jetstream as js;
use gridcase_bus::testing::NatsServer;
use gridcase_bus::{NatsLog, NatsSettings};

use super::{ctx, BenchError};

/// Where the NATS suites run.
pub(crate) struct NatsEnv {
    /// `--nats`.
    given: Option<String>,
    /// `Some(Ok(url))` once a server is known, `Some(Err(reason))` when there is none.
    state: Option<Result<String, String>>,
    spawned: Option<NatsServer>,
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
                None => match NatsServer::try_start() {
                    Ok(s) => {
                        eprintln!(
                            "bench: started nats-server {} at {} (store {})",
                            s.version(),
                            s.url(),
                            s.store_dir().display()
                        );
                        let url = s.url();
                        self.spawned = Some(s);
                        Ok(url)
                    }
                    Err(err) => Err(format!("{err}; or pass --nats URL to use a running server")),
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

    /// A second raw stream like [`NatsEnv::raw_settings`], for the baseline with only as
    /// many publishes in flight as the engine has writers.
    pub fn raw64_settings(&self) -> js::StreamSettings {
        js::StreamSettings {
            name: format!("GRIDCASE_BENCH_RAW64_{}", self.tag),
            subject_prefix: format!("bench{}.r64", self.tag),
            ..self.raw_settings()
        }
    }

    /// Connects the engine's log (creating its stream).
    pub async fn engine_log(&mut self) -> Result<NatsLog, BenchError> {
        let url = self.url().map_err(BenchError::Failed)?;
        NatsLog::connect(self.engine_settings(&url))
            .await
            .map_err(ctx("connecting the NATS log"))
    }

    /// Deletes this run's streams on a server given with `--nats`, and stops a spawned one.
    pub async fn shutdown(&mut self) {
        if let (Some(url), None) = (&self.given, &self.spawned) {
            if let Ok(conn) = js::connect(url).await {
                let engine = self.engine_settings(url).stream;
                for name in [engine, self.raw_settings().name, self.raw64_settings().name] {
                    let _ = conn.jetstream.delete_stream(&name).await;
                }
            }
        }
        self.spawned = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_subjects_are_as_long_as_the_engines() {
        let env = NatsEnv::new(None);
        let engine = env.engine_settings("nats://x").subject_prefix;
        for raw in [env.raw_settings(), env.raw64_settings()] {
            assert_eq!(engine.len(), raw.subject_prefix.len());
            assert!(!raw.subject_prefix.starts_with(&engine));
        }
        assert!(!env
            .raw64_settings()
            .subject_prefix
            .starts_with(&env.raw_settings().subject_prefix));
    }
}
