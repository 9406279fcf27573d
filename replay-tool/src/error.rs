//! What can go wrong in a run ([`Error`], exit status 2), and the helpers that keep causes.

use std::path::PathBuf;

use gridcase_bus::LogError;
use gridcase_domain::CaseId;
use gridcase_projections::ProjectionError;

use crate::config;

/// Why a run could not do its work (exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// A value that does not parse (an argument, or the time zone a projection store names):
    /// `what` names it, the cause says what is wrong.
    #[error("{what}")]
    BadValue {
        /// The value and where it came from, e.g. `--period "2025-13"`.
        what: String,
        /// Why it does not parse.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The configuration file (`--config`) could not be read.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The deployment's region data could not be loaded; the cause names the file and line.
    #[error("loading the region data")]
    Regions(#[from] gridcase_regions::RegionsError),
    /// `--data` does not hold a log.
    #[error("no event log at {}: pass the server's data directory with --data DIR (the log is DIR/log), or --nats URL", path.display())]
    NoLog {
        /// Where one was expected.
        path: PathBuf,
    },
    /// The log could not be opened.
    #[error("opening the event log {what}")]
    OpenLog {
        /// The directory or stream.
        what: String,
        /// Why.
        #[source]
        source: LogError,
    },
    /// Reading the log failed.
    #[error("reading the event log")]
    Log(#[from] LogError),
    /// A projection could not be built or read.
    #[error("projection")]
    Projection(#[from] ProjectionError),
    /// No such case.
    #[error("no case {0} in the log")]
    UnknownCase(CaseId),
    /// Writing to standard output failed (a closed pipe is not reported: see
    /// [`Error::is_broken_pipe`]).
    #[error("writing the output")]
    Output(#[source] std::io::Error),
    /// Another I/O failure.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the run ended because the reader of standard output went away (`| head`):
    /// not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<csv::Error> for Error {
    fn from(e: csv::Error) -> Error {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::Output(io),
            other => Error::Output(std::io::Error::other(format!("{other:?}"))),
        }
    }
}

/// A JSON serialization failure while writing the output (keeps the I/O error's kind, so a
/// closed pipe is still recognised).
pub fn json_error(e: serde_json::Error) -> Error {
    Error::Output(e.into())
}

/// `writeln!` into the output, mapping failures to [`Error::Output`].
#[macro_export]
#[doc(hidden)]
macro_rules! outln {
    ($out:expr) => { writeln!($out).map_err($crate::Error::Output) };
    ($out:expr, $($arg:tt)*) => { writeln!($out, $($arg)*).map_err($crate::Error::Output) };
}

/// An error and its causes on one line (`what: why: why`), for reports that give each problem
/// one line.
pub use gridcase_domain::error_chain as chain;

/// `map_err(bad_value("--flag value"))`: [`Error::BadValue`] with the parser's error as cause.
pub fn bad_value<E: std::error::Error + Send + Sync + 'static>(
    what: String,
) -> impl FnOnce(E) -> Error {
    move |e| Error::BadValue {
        what,
        source: Box::new(e),
    }
}
