//! `history <case>`: the full timeline of one case, every link of its hash chain checked.
//!
//! Each event shows its version, the commit's position, when it was recorded and when it
//! occurred, the actor and role, the event type and schema version, the facts (the event body
//! as JSON, upcast to the current schema), its hash and the previous event's hash. Each event
//! is checked as it is listed: version contiguous, `prev_hash` equal to the previous event's
//! hash, stored hash equal to the hash of its contents, body decodable. A damaged commit is
//! listed as a problem at its position rather than ending the listing.

use std::io::Write;

use gridcase_bus::Position;
use gridcase_domain::{chain, CaseId, ChainHead, EventRecord, Hash};
use serde_json::{json, Value};

use crate::source::Source;
use crate::{outln, Error};

/// One event of the timeline.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The commit's position.
    pub position: Position,
    /// The stored record.
    pub record: EventRecord,
    /// The body as JSON, `None` when it does not decode.
    pub facts: Option<Value>,
    /// What is wrong with this event, if anything.
    pub problems: Vec<String>,
}

/// A case's timeline.
#[derive(Debug, Clone)]
pub struct History {
    /// The case.
    pub case_id: CaseId,
    /// Its events, in log order.
    pub entries: Vec<Entry>,
    /// Commits that could not be read at all: (position, why).
    pub damaged: Vec<(Position, String)>,
}

impl History {
    /// Reads and checks a case's timeline. [`Error::UnknownCase`] when the log has none.
    pub async fn load(source: &Source, case: &CaseId) -> Result<History, Error> {
        let raw = source.raw_case(case).await?;
        if raw.is_empty() {
            return Err(Error::UnknownCase(case.clone()));
        }
        let mut h = History {
            case_id: case.clone(),
            entries: Vec::new(),
            damaged: Vec::new(),
        };
        let mut version = 0u64;
        let mut last_hash = Hash::ZERO;
        for r in raw {
            let commit = match r.decode() {
                Ok(c) => c,
                Err(e) => {
                    h.damaged.push((r.position, crate::chain(&e)));
                    match r.decode_ignoring_checksum() {
                        Some(c) => c,
                        None => continue,
                    }
                }
            };
            if commit.case_id != *case {
                h.damaged.push((
                    r.position,
                    format!(
                        "the case index points at a commit of case {}",
                        commit.case_id
                    ),
                ));
                continue;
            }
            for rec in commit.events {
                let mut problems = Vec::new();
                let v = rec.header.case_version;
                let head = ChainHead {
                    version,
                    hash: last_hash,
                };
                if let Err(broken) = chain::check_link(head, &rec) {
                    problems.push(broken.to_string());
                }
                if let Err(altered) = chain::check_hash(&rec) {
                    problems.push(altered.to_string());
                }
                let facts = match rec.decode() {
                    Ok(ev) => serde_json::to_value(&ev).ok(),
                    Err(e) => {
                        problems.push(format!("body does not decode: {e}"));
                        None
                    }
                };
                version = v;
                last_hash = rec.hash;
                h.entries.push(Entry {
                    position: r.position,
                    record: rec,
                    facts,
                    problems,
                });
            }
        }
        Ok(h)
    }

    /// Whether every event checked out and no commit was damaged.
    pub fn is_intact(&self) -> bool {
        self.problem_count() == 0
    }

    /// Problems found: damaged commits plus events with a problem.
    pub fn problem_count(&self) -> usize {
        self.damaged.len()
            + self
                .entries
                .iter()
                .filter(|e| !e.problems.is_empty())
                .count()
    }

    /// The version of the last event listed.
    pub fn version(&self) -> u64 {
        self.entries
            .last()
            .map(|e| e.record.header.case_version)
            .unwrap_or(0)
    }

    /// The timeline as one JSON document.
    pub fn to_json(&self) -> Value {
        let events: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                let h = &e.record.header;
                json!({
                    "version": h.case_version,
                    "position": e.position,
                    "recorded_at": h.recorded_at,
                    "occurred_at": h.occurred_at,
                    "actor": { "id": h.actor.id(), "role": h.actor.role(), "scope": h.actor.scope() },
                    "event_type": e.record.event_type,
                    "schema_version": e.record.schema_version,
                    "facts": e.facts,
                    "command_id": h.command_id,
                    "event_id": h.event_id,
                    "correlation_id": h.correlation_id,
                    "causation_id": h.causation_id,
                    "hash": e.record.hash,
                    "prev_hash": e.record.prev_hash,
                    "check": if e.problems.is_empty() { Value::from("ok") } else { Value::from(e.problems.join("; ")) },
                })
            })
            .collect();
        let damaged: Vec<Value> = self
            .damaged
            .iter()
            .map(|(p, why)| json!({ "position": p, "problem": why }))
            .collect();
        json!({
            "case_id": self.case_id,
            "version": self.version(),
            "intact": self.is_intact(),
            "events": events,
            "damaged_commits": damaged,
        })
    }

    /// Writes [`History::to_json`].
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), Error> {
        serde_json::to_writer_pretty(&mut *out, &self.to_json()).map_err(crate::json_error)?;
        outln!(out)
    }

    /// Writes aligned columns, one event per line; the facts come last.
    pub fn write_table(&self, out: &mut dyn Write) -> Result<(), Error> {
        outln!(
            out,
            "case {}: {} events, version {}, {}",
            self.case_id,
            self.entries.len(),
            self.version(),
            if self.is_intact() {
                "hash chain intact".to_owned()
            } else {
                format!("{} PROBLEM(S)", self.problem_count())
            }
        )?;
        let header = [
            "VERSION",
            "POSITION",
            "RECORDED",
            "OCCURRED",
            "ACTOR",
            "ROLE",
            "EVENT",
            "CHECK",
            "HASH",
            "PREV_HASH",
            "FACTS",
        ];
        let rows: Vec<[String; 11]> = self
            .entries
            .iter()
            .map(|e| {
                let h = &e.record.header;
                [
                    h.case_version.to_string(),
                    e.position.to_string(),
                    h.recorded_at.to_string(),
                    h.occurred_at.to_string(),
                    h.actor.id().to_string(),
                    h.actor.role().to_string(),
                    if e.record.schema_version == 1 {
                        e.record.event_type.clone()
                    } else {
                        format!("{} v{}", e.record.event_type, e.record.schema_version)
                    },
                    if e.problems.is_empty() {
                        "ok".into()
                    } else {
                        format!("BROKEN: {}", e.problems.join("; "))
                    },
                    e.record.hash.to_hex(),
                    e.record.prev_hash.to_hex(),
                    e.facts
                        .as_ref()
                        .map(|f| f.to_string())
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count() + 2));
                }
            }
            s
        };
        outln!(out, "{}", line(&header))?;
        for r in &rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            outln!(out, "{}", line(&cells))?;
        }
        for (p, why) in &self.damaged {
            outln!(out, "DAMAGED commit at position {p}: {why}")?;
        }
        Ok(())
    }
}
