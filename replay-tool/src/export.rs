//! `export`: every event, streamed, as JSON lines or CSV for external audit tools.
//!
//! The log is read page by page in position order and each event is written as it is read, so
//! memory does not grow with the log (a `--region` filter keeps the set of the region's case
//! ids, found in a first pass). One row per event:
//!
//! `position, case_id, version, event_type, schema_version, recorded_at, occurred_at,
//! actor_id, actor_role, actor_unit, command_id, event_id, correlation_id, causation_id, hash,
//! prev_hash, facts` — `facts` is the body as JSON (a JSON string in CSV).
//!
//! - `--region CODE`: only cases located in the subtree, as reported or as corrected at any
//!   time.
//! - `--from X --to Y`: only events whose recorded-at time (or occurred-at, `--by occurred`)
//!   falls from the start of X to the end of Y. X and Y are local dates or periods in the
//!   deployment's time zone (`2025-03-01`, `2025-03`, `2025-Q1`, `2025`) — both ends included —
//!   or RFC 3339 instants (both included).
//! - `--hashed-bytes`: a last column `hashed`, the bytes each event's hash is taken over (hex):
//!   `hash = SHA-256(hashed)`, and `hashed` is the MessagePack of `{header, event_type,
//!   schema_version, body, prev_hash}` (see [`gridcase_domain::EventRecord::hashed_bytes`]), so
//!   an outside tool re-checks every hash and link with any MessagePack reader and SHA-256.
//!   Not with `--redact` (the bytes hold what it leaves out).
//! - `--redact`: for analysts. Personal data and free text are left out, per event type (see
//!   [`crate::redact`]); the `actor_id`, `command_id`, `correlation_id` and `causation_id`
//!   columns are dropped.
//!
//! A damaged commit ends the export with an error naming its position (exit status 2): run
//! `verify` for the full picture.

use std::collections::HashSet;
use std::io::Write;

use clap::ValueEnum;
use gridcase_bus::{Corruption, EventLog, Position};
use gridcase_domain::{CaseId, Event, EventRecord, RegionCode, Timestamp};
use gridcase_projections::{Calendar, Period};
use gridcase_regions::RegionsConfig;
use serde_json::{json, Map, Value};

use crate::progress;
use crate::source::Source;
use crate::{outln, Error};

/// Export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// Which time `--from`/`--to` filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimeField {
    /// When the engine recorded the event.
    Recorded,
    /// When it happened, as reported.
    Occurred,
}

/// The arguments of `export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// jsonl or csv.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Only cases located in this region subtree.
    #[arg(long, value_name = "CODE")]
    pub region: Option<String>,
    /// From this local date or period (e.g. 2025-03-01, 2025-03), or RFC 3339 instant.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Up to the end of this local date or period, or up to this RFC 3339 instant.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Filter dates on the recorded-at or the occurred-at time.
    #[arg(long, value_enum, default_value = "recorded")]
    pub by: TimeField,
    /// Leave out personal data and free text (analysts' exports).
    #[arg(long)]
    pub redact: bool,
    /// Add the bytes each event's hash is taken over (hex), for outside tools to re-check.
    #[arg(long, conflicts_with = "redact")]
    pub hashed_bytes: bool,
}

/// A parsed export request.
#[derive(Debug, Clone)]
pub struct Options {
    /// Format.
    pub format: ExportFormat,
    /// Region filter.
    pub region: Option<RegionCode>,
    /// Inclusive lower bound.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound.
    pub until: Option<Timestamp>,
    /// Which time is filtered on.
    pub by: TimeField,
    /// Redact.
    pub redact: bool,
    /// Add the `hashed` column.
    pub hashed_bytes: bool,
}

/// `(start, end)` of a date, period or instant: `[start, end)`.
pub(crate) fn bounds(
    flag: &str,
    s: &str,
    calendar: &Calendar,
) -> Result<(Timestamp, Timestamp), Error> {
    if s.contains('T') {
        let t = crate::parse_time(flag, s)?;
        return Ok((t, t.plus_millis(1)));
    }
    let p = Period::parse(s).map_err(crate::bad_value(format!(
        "{flag} {s:?} (a local date or period, or an RFC 3339 instant such as \
         2025-03-01T00:00:00+08:00)"
    )))?;
    Ok((calendar.day_start(p.from), calendar.day_start(p.to)))
}

impl ExportArgs {
    /// Checks the arguments.
    pub fn options(&self, calendar: &Calendar, regions: &RegionsConfig) -> Result<Options, Error> {
        let region = crate::stats::region_arg(regions, "--region", self.region.as_deref())?;
        let from = self
            .from
            .as_deref()
            .map(|s| bounds("--from", s, calendar).map(|b| b.0))
            .transpose()?;
        let until = self
            .to
            .as_deref()
            .map(|s| bounds("--to", s, calendar).map(|b| b.1))
            .transpose()?;
        if let (Some(a), Some(b)) = (from, until) {
            if a >= b {
                return Err(Error::Usage(format!(
                    "--from {} is not before --to {}",
                    self.from.as_deref().unwrap_or_default(),
                    self.to.as_deref().unwrap_or_default()
                )));
            }
        }
        Ok(Options {
            format: self.format,
            region,
            from,
            until,
            by: self.by,
            redact: self.redact,
            hashed_bytes: self.hashed_bytes,
        })
    }
}

/// The CSV columns.
pub const COLUMNS: &[&str] = &[
    "position",
    "case_id",
    "version",
    "event_type",
    "schema_version",
    "recorded_at",
    "occurred_at",
    "actor_id",
    "actor_role",
    "actor_unit",
    "command_id",
    "event_id",
    "correlation_id",
    "causation_id",
    "hash",
    "prev_hash",
    "facts",
    "hashed",
];

/// The columns a redacted export leaves out.
pub const REDACTED_COLUMNS: &[&str] = &["actor_id", "command_id", "correlation_id", "causation_id"];

/// Cases located in `region` at any time (as reported or corrected).
async fn region_cases(source: &Source, region: RegionCode) -> Result<HashSet<CaseId>, Error> {
    let mut cases = HashSet::new();
    let mut cursor = source.commits_from(Position::FIRST).await?;
    while let Some(c) = cursor.next().await? {
        for r in &c.events {
            if r.event_type != "CaseReported" && r.event_type != "CaseDetailsCorrected" {
                continue;
            }
            let location = match r.decode() {
                Ok(Event::CaseReported(e)) => Some(e.location),
                Ok(Event::CaseDetailsCorrected(e)) => e.location,
                Ok(_) => None,
                Err(e) => {
                    return Err(gridcase_bus::LogError::Corrupt {
                        position: c.position,
                        case: Some(c.case_id.clone()),
                        cause: Corruption::event(r.header.case_version, e),
                    }
                    .into())
                }
            };
            if location.is_some_and(|l| region.contains(l)) {
                cases.insert(c.case_id.clone());
            }
        }
    }
    Ok(cases)
}

/// One event as a JSON object with the keys of [`COLUMNS`] (fewer when redacted; `hashed`
/// only with `hashed_bytes`).
pub fn row(
    position: Position,
    r: &EventRecord,
    redact: bool,
    hashed_bytes: bool,
) -> Result<Map<String, Value>, Error> {
    let event = r.decode().map_err(|e| gridcase_bus::LogError::Corrupt {
        position,
        case: Some(r.header.case_id.clone()),
        cause: Corruption::event(r.header.case_version, e),
    })?;
    let facts = if redact {
        crate::redact::facts(&event)
    } else {
        serde_json::to_value(&event).map_err(crate::json_error)?
    };
    let h = &r.header;
    let all = json!({
        "position": position,
        "case_id": h.case_id,
        "version": h.case_version,
        "event_type": r.event_type,
        "schema_version": r.schema_version,
        "recorded_at": h.recorded_at,
        "occurred_at": h.occurred_at,
        "actor_id": h.actor.id(),
        "actor_role": h.actor.role(),
        "actor_unit": h.actor.unit(),
        "command_id": h.command_id,
        "event_id": h.event_id,
        "correlation_id": h.correlation_id,
        "causation_id": h.causation_id,
        "hash": r.hash,
        "prev_hash": r.prev_hash,
        "facts": facts,
    });
    let Value::Object(mut out) = all else {
        unreachable!("json! of an object")
    };
    if redact {
        for c in REDACTED_COLUMNS {
            out.remove(*c);
        }
    }
    if hashed_bytes {
        let bytes = r
            .hashed_bytes()
            .map_err(|e| gridcase_bus::LogError::Corrupt {
                position,
                case: Some(r.header.case_id.clone()),
                cause: Corruption::event(r.header.case_version, e),
            })?;
        out.insert("hashed".into(), Value::String(hex::encode(bytes)));
    }
    Ok(out)
}

enum Sink<'a> {
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
    Jsonl(&'a mut dyn Write),
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Streams the export to `out`. Returns the number of events written.
pub async fn export(
    source: &Source,
    opts: &Options,
    out: &mut dyn Write,
    progress: bool,
) -> Result<u64, Error> {
    let cases = match opts.region {
        Some(r) => Some(region_cases(source, r).await?),
        None => None,
    };
    let head = source.head().await?;
    let bar = progress::bar(head.get(), progress, "export");
    let mut sink = match opts.format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            let header: Vec<&str> = COLUMNS
                .iter()
                .copied()
                .filter(|c| !(opts.redact && REDACTED_COLUMNS.contains(c)))
                .filter(|c| opts.hashed_bytes || *c != "hashed")
                .collect();
            w.write_record(&header)?;
            Sink::Csv(Box::new(w))
        }
        ExportFormat::Jsonl => Sink::Jsonl(&mut *out),
    };
    let mut written = 0u64;
    let mut cursor = source.commits_from(Position::FIRST).await?;
    while let Some(c) = cursor.next().await? {
        if c.position.get().is_multiple_of(256) {
            bar.set_position(c.position.min(head).get());
        }
        if cases.as_ref().is_some_and(|s| !s.contains(&c.case_id)) {
            continue;
        }
        for r in &c.events {
            let t = match opts.by {
                TimeField::Recorded => r.header.recorded_at,
                TimeField::Occurred => r.header.occurred_at,
            };
            if opts.from.is_some_and(|f| t < f) || opts.until.is_some_and(|u| t >= u) {
                continue;
            }
            let row = row(c.position, r, opts.redact, opts.hashed_bytes)?;
            match &mut sink {
                Sink::Csv(w) => {
                    w.write_record(COLUMNS.iter().filter_map(|c| row.get(*c)).map(csv_cell))?
                }
                Sink::Jsonl(o) => {
                    serde_json::to_writer(&mut **o, &row).map_err(crate::json_error)?;
                    outln!(o)?;
                }
            }
            written += 1;
        }
    }
    if let Sink::Csv(mut w) = sink {
        w.flush().map_err(Error::Output)?;
    }
    bar.finish_and_clear();
    Ok(written)
}
