//! `gridcase-replay`: glue only; the work is in the library (`gridcase_replay_tool`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use gridcase_replay_tool::{execute, Cli, Error, Status};

/// mimalloc: the projection and the codecs allocate many small objects; glibc's allocator
/// spent a third of a rebuild in malloc/free (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn run() -> Result<Status, Error> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the async runtime".into(),
            source,
        })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let status = rt.block_on(execute(cli, &mut out))?;
    out.flush().map_err(Error::Output)?;
    Ok(status)
}

fn main() -> ExitCode {
    match run() {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let mut messages = gridcase_domain::error_messages(&e).into_iter();
            eprintln!("error: {}", messages.next().unwrap_or_default());
            for cause in messages {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
