//! Times a projection rebuild from an embedded log: `replay_timing <log dir> [out dir]`.
//! With an out dir the projection is persisted there; without, it is held in memory.

use std::time::Instant;

use gridcase_bus::SledLog;
use gridcase_projections::{Calendar, Projection};

/// mimalloc: the projection and the codecs allocate many small objects; glibc's allocator
/// spent a third of a rebuild in malloc/free (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let log = SledLog::open_read_only(&args[1]).expect("open log");
    let proj = match args.get(2) {
        Some(out) => Projection::open(std::path::Path::new(out), Calendar::default())
            .expect("open projection"),
        None => Projection::in_memory(Calendar::default()),
    };
    let t = Instant::now();
    let n = proj.catch_up(&log, |_, _| {}).await.expect("catch up");
    let s = t.elapsed().as_secs_f64();
    let events: usize = proj.read().cases().map(|c| c.state.version as usize).sum();
    println!(
        "{n} commits, {events} events in {s:.2}s: {:.0} events/s",
        events as f64 / s
    );
    if args.get(2).is_some() {
        let t = Instant::now();
        proj.save().expect("save");
        println!("one more snapshot: {:.2}s", t.elapsed().as_secs_f64());
    }
}
