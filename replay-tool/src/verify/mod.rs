//! `verify`: is the log whole, unaltered and consistent?
//!
//! One pass over every stored commit in position order, reading raw values so that damage is a
//! problem at its position instead of the end of the run. Checked:
//!
//! | check | problem kind |
//! |---|---|
//! | positions strictly increasing and contiguous from the first | `position_order`, `missing_positions` |
//! | the CRC-32 framing of each value | `checksum` (the bytes are still decoded if they can be, to name the case) |
//! | the value decodes as a commit; on NATS, it sits on its case's subject | `undecodable`, `wrong_subject` |
//! | a commit has events, all of its case and command, ids derived from them, one recorded-at time | `empty_commit`, `foreign_event`, `command_mismatch`, `event_id`, `recorded_at` |
//! | per case, versions 1, 2, 3… in position order | `version_gap`, `version_order` |
//! | per case, each `prev_hash` is the previous event's hash (zero for version 1) | `broken_chain` |
//! | each stored hash is the hash of the record's contents | `hash_mismatch` |
//! | each body decodes, old schema versions through the upcasters | `body_undecodable` |
//! | version 1 is `CaseReported`, and only version 1 | `first_not_reported`, `report_not_first` |
//! | embedded store: the case index, the case heads and the command index agree with the commits | `index_mismatch`, `unindexed`, `head_mismatch` |
//! | the storage itself can be read (sled's page checksums, pages that parse) | `unreadable`, naming the file offset or positions; the rest is verified |
//!
//! Events cannot be re-decided — commands are not stored — so the domain rules are checked only
//! as far as the events themselves show them. A case whose recorded-at times go backwards is a
//! warning (clocks of several servers), not a failure.
//!
//! After a broken link the case's chain is resynchronised at the event found, so one damaged
//! commit gives a few problems, not one per later event.
//!
//! Every stored commit is also a leaf of the log's Merkle tree ([`TreeHasher`]): the report
//! gives the tree head (`SIZE:ROOT`) to keep, and `--checkpoint SIZE:ROOT` compares the first
//! SIZE commits with one kept before (`checkpoint_mismatch` when any was removed, inserted or
//! changed, or the log holds fewer).
//!
//! `--projections DIR` then rebuilds the projections into a temporary directory up to the live
//! store's checkpoint and compares the two stores key by key and byte by byte (DESIGN.md
//! invariant 7). A live store behind the log is fine: the lag is reported and the comparison is
//! made at its checkpoint.
//!
//! In files: `report.rs` (the [`Report`]: what was found, and how it is printed), `pass.rs` (the
//! pass over the log and the per-case chains), `indexes.rs` (the embedded store's indexes
//! against the commits read: the check is the bus's `IndexCheck`, this turns its findings into
//! problems), `projections.rs` ([`check_projections`]: the live projection
//! against a rebuild), `tree.rs` (the Merkle tree and its [`TreeHead`]).

mod indexes;
mod pass;
mod projections;
mod report;
mod tree;

use std::collections::HashMap;
use std::time::Instant;

use gridcase_bus::{EventLog, LogError, Position};
use gridcase_domain::{CaseId, RegionCode};

use crate::progress;
use crate::source::Source;
use crate::Error;
use pass::{Track, Verifier};
pub use projections::check_projections;
use report::problem;
pub use report::{Kind, Problem, ProjectionCheck, Report};
pub use tree::{TreeHasher, TreeHead};

/// What to verify.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only cases located in this subtree (as reported or corrected).
    pub region: Option<RegionCode>,
    /// How many problems the report keeps for printing.
    pub max_problems: usize,
    /// Draw a progress bar.
    pub progress: bool,
    /// Tree heads kept from earlier verifications, to compare the log's first commits with.
    pub checkpoints: Vec<TreeHead>,
}

/// Verifies the whole log; see the module documentation.
pub async fn verify(source: &Source, opts: &Options) -> Result<Report, Error> {
    let started = Instant::now();
    let head = source.head().await?;
    let bar = progress::bar(head.get(), opts.progress, "verify");
    let mut v = Verifier::new(opts, source.sled());
    let mut cursor = source.raw_from(Position::FIRST).await?;
    let mut tree = TreeHasher::default();
    let mut checkpoints = opts.checkpoints.clone();
    checkpoints.sort_by_key(|c| c.size);
    let mut checkpoints = checkpoints.into_iter().peekable();
    loop {
        let raw = match cursor.next_raw().await {
            Ok(Some(raw)) => raw,
            Ok(None) => break,
            // Storage that cannot be read is a finding; the read goes on after it.
            Err(e @ LogError::Damaged { .. }) => {
                v.unreadable(&e);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let p = raw.position;
        tree.push(&raw.value);
        while let Some(c) = checkpoints.next_if(|c| c.size <= tree.size()) {
            if c.size == tree.size() && c.root != tree.head().root {
                v.report(problem(
                    Kind::CheckpointMismatch,
                    Some(p),
                    None,
                    None,
                    format!(
                        "the first {} commits are not those of the kept tree head {c} (their \
                         root is {}): a commit up to here was removed, inserted or changed",
                        c.size,
                        tree.head()
                    ),
                ));
            }
        }
        v.raw(raw);
        if v.commits_read.is_multiple_of(256) {
            bar.set_position(p.min(head).get());
            bar.set_message(format!("{} cases", v.cases.len()));
        }
    }
    if head > v.last {
        let from = v.next.max(Position::FIRST);
        v.report(problem(
            Kind::MissingPositions,
            Some(from),
            None,
            None,
            format!("the log's head is {head}, but positions {from}..={head} could not be read"),
        ));
    }
    for c in checkpoints {
        v.report(problem(
            Kind::CheckpointMismatch,
            None,
            None,
            None,
            format!(
                "the log holds {} commits, fewer than the {} of the kept tree head {c}: commits \
                 were removed",
                tree.head().size,
                c.size
            ),
        ));
    }
    bar.set_position(head.get());
    v.check_indexes()?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let in_scope = |c: &Option<CaseId>, cases: &HashMap<CaseId, Track>| match (opts.region, c) {
        (None, _) | (_, None) => true,
        (Some(_), Some(c)) => cases.get(c).is_none_or(|t| t.in_region),
    };
    let problems: Vec<Problem> = v
        .problems
        .iter()
        .filter(|p| in_scope(&p.case_id, &v.cases))
        .cloned()
        .collect();
    let warnings: Vec<Problem> = v
        .warnings
        .iter()
        .filter(|p| in_scope(&p.case_id, &v.cases))
        .cloned()
        .collect();
    let warning_count = if opts.region.is_some() {
        warnings.len() as u64
    } else {
        v.warning_count
    };
    let selected = v
        .cases
        .values()
        .filter(|t| opts.region.is_none() || t.in_region);
    let (mut commits, mut events, mut cases) = (0, 0, 0);
    for t in selected {
        commits += t.commits;
        events += t.events;
        cases += 1;
    }
    Ok(Report {
        source: source.describe(),
        region: opts.region,
        positions: v.first.map(|f| (f, v.last)),
        commits,
        events,
        cases,
        commits_read: v.commits_read,
        seconds,
        indexes_checked: v.sled.is_some(),
        problem_count: problems.len() as u64 + v.overflow,
        problems,
        warning_count,
        warnings,
        tree_head: tree.head(),
        checkpoints: opts.checkpoints.len(),
        projections: None,
    })
}
