//! One measurement in its own process (`gridcase bench-child`), so its peak memory (VmHWM) is
//! its own: the scale suite runs each rebuild and each raw scan this way.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use gridcase_bus::{AnyLog, LogError};
use gridcase_projections::{Calendar, Projection};
use serde::{Deserialize, Serialize};

use super::replay::{raw_scan, rebuild};
use super::{ctx, proc_kib, BenchError};

/// What a child measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildMode {
    /// Rebuild a persisted projection from the embedded log.
    Rebuild,
    /// Rebuild an in-memory projection from the embedded log (the fold alone, no store).
    RebuildMemory,
    /// Raw scan + decode of the embedded log.
    RawScan,
}

impl ChildMode {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ChildMode::Rebuild => "rebuild",
            ChildMode::RebuildMemory => "rebuild-memory",
            ChildMode::RawScan => "raw-scan",
        }
    }
}

impl FromStr for ChildMode {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Self, BenchError> {
        match s {
            "rebuild" => Ok(ChildMode::Rebuild),
            "rebuild-memory" => Ok(ChildMode::RebuildMemory),
            "raw-scan" => Ok(ChildMode::RawScan),
            other => Err(BenchError::Failed(format!(
                "unknown bench-child mode {other:?}: expected rebuild, rebuild-memory or raw-scan"
            ))),
        }
    }
}

/// What a child prints (one JSON line on stdout).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChildResult {
    pub mode: String,
    pub seconds: f64,
    /// Peak resident set size of the child, KiB.
    pub vm_hwm_kib: u64,
    /// Bytes the child caused to be written to storage (/proc/self/io `write_bytes`).
    #[serde(default)]
    pub write_bytes: u64,
}

/// Runs one measurement on the embedded log in `log`, the file log or a sled store (the
/// projection, if any, in `work`), and returns the JSON line to print.
pub async fn run_child(
    mode: ChildMode,
    log: &Path,
    work: Option<&Path>,
) -> Result<String, BenchError> {
    let opened = open_read_only(log).await?;
    let seconds = match mode {
        ChildMode::Rebuild => {
            let dir = work.ok_or_else(|| BenchError::new("rebuild needs --work"))?;
            rebuild(&opened, dir).await?
        }
        ChildMode::RebuildMemory => {
            let t = Instant::now();
            Projection::in_memory(Calendar::default())
                .catch_up(&opened, |_, _| {})
                .await
                .map_err(ctx("rebuilding the projection in memory"))?;
            t.elapsed().as_secs_f64()
        }
        ChildMode::RawScan => {
            let t = Instant::now();
            raw_scan(&opened)?;
            t.elapsed().as_secs_f64()
        }
    };
    let r = ChildResult {
        mode: mode.name().to_owned(),
        seconds,
        vm_hwm_kib: proc_kib("/proc/self/status", "VmHWM:").unwrap_or(0),
        write_bytes: io_write_bytes(),
    };
    serde_json::to_string(&r).map_err(ctx("encoding the result"))
}

/// Bytes this process caused to be written to storage so far (0 if unknown).
pub(crate) fn io_write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Opens the log, waiting a little while the parent's store is still closing.
pub(crate) async fn open_read_only(dir: &Path) -> Result<AnyLog, BenchError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match AnyLog::open_embedded_read_only(dir) {
            Ok(l) => return Ok(l),
            Err(LogError::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(ctx(&format!("opening {}", dir.display()))(e)),
        }
    }
}

/// Runs `gridcase bench-child` (this very executable) and reads its result.
pub(crate) async fn spawn(
    mode: ChildMode,
    log: &Path,
    work: Option<&Path>,
) -> Result<ChildResult, BenchError> {
    // /proc/self/exe still runs this very binary when its file has been replaced (a rebuild
    // during a long bench); current_exe() would name the new file or a deleted path.
    let proc_exe = std::path::PathBuf::from("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe
    } else {
        std::env::current_exe().map_err(ctx("finding the gridcase executable"))?
    };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("bench-child")
        .arg("--mode")
        .arg(mode.name())
        .arg("--log")
        .arg(log)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    if let Some(w) = work {
        cmd.arg("--work").arg(w);
    }
    // Not `output()`: it would capture stderr too, and a failing child's message with it.
    cmd.stdout(std::process::Stdio::piped());
    let out = cmd
        .spawn()
        .map_err(ctx("running bench-child"))?
        .wait_with_output()
        .await
        .map_err(ctx("running bench-child"))?;
    if !out.status.success() {
        return Err(BenchError::Failed(format!(
            "bench-child {} failed with {}",
            mode.name(),
            out.status
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| {
            BenchError::Failed(format!("bench-child {} printed no result", mode.name()))
        })?;
    serde_json::from_str(line).map_err(ctx("reading bench-child's result"))
}
