//! Every call into sled goes through [`guard`]: sled's errors become [`LogError`]s naming what
//! could not be read, and a panic inside sled becomes [`LogError::Damaged`] instead of ending
//! the process.
//!
//! sled 0.34 checks a CRC over each page it reads and reports a mismatch as an error
//! ("Read corrupted data at file offset …"), but pages whose checksum is right and whose
//! contents do not parse make it panic deep in its page cache: sled cannot be made to return
//! an error there. So the panic is caught at this boundary (`catch_unwind`). While a guarded
//! call runs, a panic hook installed once per process keeps such a panic's message off
//! standard error (it goes into the error instead); panics elsewhere reach the previous hook
//! unchanged.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use crate::log::{LogError, Position};

thread_local! {
    /// Whether this thread is inside [`guard`] (depth, for nested guards).
    static GUARDED: Cell<u32> = const { Cell::new(0) };
    /// The message of the last panic caught inside [`guard`] on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) > 0 {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{message}{location}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// What a guarded call was reading, for the error when it fails.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reading<'a> {
    /// Opening the store (recovering its log).
    Open,
    /// Commits at these positions.
    Positions(Position, Position),
    /// The commits or head of one case.
    Case(&'a str),
    /// The indexes.
    Indexes,
    /// Writing a batch.
    Write,
}

impl Reading<'_> {
    fn describe(self) -> String {
        match self {
            Reading::Open => "while opening the store".into(),
            Reading::Positions(a, b) if a == b => format!("position {a}"),
            Reading::Positions(a, b) => format!("positions {a}..={b}"),
            Reading::Case(c) => format!("the commits of case {c}"),
            Reading::Indexes => "the case and command indexes".into(),
            Reading::Write => "while writing".into(),
        }
    }
}

/// Runs one call into sled; see the module documentation.
pub(crate) fn guard<T>(
    dir: &Path,
    reading: Reading<'_>,
    context: &'static str,
    f: impl FnOnce() -> sled::Result<T>,
) -> Result<T, LogError> {
    install_hook();
    GUARDED.with(|g| g.set(g.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(sled_error(dir, reading, context, e)),
        Err(_) => {
            let message = CAUGHT
                .with(|c| c.borrow_mut().take())
                .unwrap_or_else(|| "panic".to_owned());
            tracing::error!(store = %dir.display(), reading = %reading.describe(), %message, "sled failed on a damaged page");
            Err(LogError::Damaged {
                location: format!("{} in {}", reading.describe(), dir.display()),
                reason: format!(
                    "a page passed sled's checksum but does not parse (sled failed while \
                     {context}: {message})"
                ),
            })
        }
    }
}

/// Maps a sled error: page corruption names the file offset; the rest is an I/O failure.
pub(crate) fn sled_error(
    dir: &Path,
    reading: Reading<'_>,
    context: &'static str,
    e: sled::Error,
) -> LogError {
    match e {
        sled::Error::Corruption { at, .. } => {
            // `DiskPtr` is not exported by sled; its Debug form is `Inline(offset)` or
            // `Blob(offset, blob)`.
            let at = at.map(|p| format!("{p:?}"));
            let offset = at.as_deref().and_then(|p| {
                p.split(|c: char| !c.is_ascii_digit())
                    .find(|s| !s.is_empty())
                    .map(str::to_owned)
            });
            let place = match (&at, offset) {
                (Some(p), Some(o)) if p.starts_with("Inline") => {
                    format!(" at file offset {o} of {}", dir.join("db").display())
                }
                (Some(p), _) => format!(" at {p} under {}", dir.display()),
                (None, _) => String::new(),
            };
            LogError::Damaged {
                location: format!("{} in {}", reading.describe(), dir.display()),
                reason: format!("sled's page checksum failed{place} while {context}"),
            }
        }
        sled::Error::Io(io) => LogError::storage(context, io),
        other => LogError::storage(context, other),
    }
}
