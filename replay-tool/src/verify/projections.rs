//! `--projections DIR`: the live projection store against a rebuild up to its checkpoint, key
//! by key and byte by byte (DESIGN.md invariant 7).

use std::path::Path;
use std::time::Instant;

use gridcase_bus::{EventLog, Position};
use gridcase_projections::{describe_key, Calendar, Projection, Store};

use super::report::{problem, Kind, ProjectionCheck};
use crate::progress;
use crate::source::Source;
use crate::Error;

/// Rebuilds the projections up to the live store's checkpoint in a temporary directory and
/// compares the two stores byte for byte.
pub async fn check_projections(
    source: &Source,
    dir: &Path,
    default_calendar: &Calendar,
    progress: bool,
) -> Result<ProjectionCheck, Error> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--projections {}: no such directory (the live store is usually DATA/projection)",
            dir.display()
        )));
    }
    // Read without the store's lock: snapshots are replaced by rename, so this works while a
    // server is running on the same data directory.
    let live = Store::dump_dir(dir)?;
    let checkpoint = gridcase_projections::checkpoint_of(&live);
    let time_zone = live
        .iter()
        .find(|(k, _)| k.as_slice() == b"mtime_zone")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    let calendar = match &time_zone {
        Some(tz) => Calendar::new(tz).map_err(crate::bad_value(format!(
            "the time zone the live projection store names ({tz})"
        )))?,
        None => default_calendar.clone(),
    };
    let head = source.head().await?;
    let mut check = ProjectionCheck {
        dir: dir.to_owned(),
        checkpoint,
        head,
        lag: head.since(checkpoint),
        time_zone: calendar.name().to_owned(),
        keys: live.len(),
        differences: 0,
        first_differences: Vec::new(),
        problems: Vec::new(),
        seconds: 0.0,
    };
    if checkpoint > head {
        check.problems.push(problem(
            Kind::ProjectionAhead,
            Some(checkpoint),
            None,
            None,
            format!("the live projection is at position {checkpoint}, beyond the log's head {head}: the log lost commits, or the store belongs to another log"),
        ));
        check.seconds = started.elapsed().as_secs_f64();
        return Ok(check);
    }
    let rebuilt = Projection::in_memory(calendar);
    let bar = progress::bar(checkpoint.get(), progress, "rebuild");
    let mut next = Position::FIRST;
    while next <= checkpoint {
        let limit = (checkpoint.since(next) + 1).min(crate::rebuild::BATCH as u64) as usize;
        let page = match source.read_from(next, limit).await {
            Ok(p) => p,
            Err(e) => {
                check.problems.push(problem(
                    Kind::RebuildFailed,
                    Some(next),
                    None,
                    None,
                    format!("the rebuild could not read the log: {}", crate::chain(&e)),
                ));
                break;
            }
        };
        let Some(last) = page.last().map(|c| c.position) else {
            break;
        };
        if let Err(e) = rebuilt.apply_batch(&page) {
            check.problems.push(problem(
                Kind::RebuildFailed,
                Some(next),
                None,
                None,
                format!("the rebuild failed: {}", crate::chain(&e)),
            ));
            break;
        }
        next = last.next();
        bar.set_position(last.get());
    }
    bar.finish_and_clear();
    if check.problems.is_empty() {
        let mine = rebuilt.dump();
        let (mut a, mut b) = (live.iter().peekable(), mine.iter().peekable());
        let note = |check: &mut ProjectionCheck, s: String| {
            check.differences += 1;
            if check.first_differences.len() < 10 {
                check.first_differences.push(s);
            }
        };
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some((k, _)), None) => {
                    note(
                        &mut check,
                        format!("{}: only in the live store", describe_key(k)),
                    );
                    a.next();
                }
                (None, Some((k, _))) => {
                    note(
                        &mut check,
                        format!("{}: missing from the live store", describe_key(k)),
                    );
                    b.next();
                }
                (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                    std::cmp::Ordering::Less => {
                        note(
                            &mut check,
                            format!("{}: only in the live store", describe_key(ka)),
                        );
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        note(
                            &mut check,
                            format!("{}: missing from the live store", describe_key(kb)),
                        );
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        if va != vb {
                            note(
                                &mut check,
                                format!("{}: differs from the rebuild", describe_key(ka)),
                            );
                        }
                        a.next();
                        b.next();
                    }
                },
            }
        }
        if check.differences > 0 {
            check.problems.push(problem(
                Kind::ProjectionMismatch,
                Some(checkpoint),
                None,
                None,
                format!(
                    "the live projection differs from a rebuild at position {checkpoint} in {} key(s)",
                    check.differences
                ),
            ));
        }
    }
    drop(rebuilt);
    check.seconds = started.elapsed().as_secs_f64();
    Ok(check)
}
