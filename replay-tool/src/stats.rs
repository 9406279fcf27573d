//! `stats --region R --period P --as-of T`: the statistics as they stood at T.
//!
//! The log is replayed into a fresh in-memory projection with only the commits recorded at or
//! before T ([`gridcase_projections::as_of`]), then queried exactly as the server's
//! `/api/v1/stats` does — the same cohort and activity views, rates and time to resolution.
//! Region codes are checked against the deployment's region data (`--divisions`, `--grids` or
//! the configuration's `[regions]`; default the bundled Zhejiang divisions, where a grid code
//! needs a known village), which also name the children of `--drill-down`.

use clap::ValueEnum;
use gridcase_domain::{Level, RegionCode, RegionTree, Timestamp};
use gridcase_projections::{as_of, Breakdown, Calendar, Period, RankBy, StatsQuery};
use gridcase_regions::RegionsConfig;
use serde_json::Value;

use crate::source::Source;
use crate::Error;

/// Breakdown dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BreakdownArg {
    /// By dispute category.
    Category,
    /// By source of the report.
    Source,
    /// By kind (dispute, incident, request).
    Kind,
}

/// The arguments of `stats`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatsArgs {
    /// The region subtree (a division or grid code).
    #[arg(long, value_name = "CODE")]
    pub region: String,
    /// The period: 2025, 2025-Q1, 2025-03, 2025-W05, 2025-03-02 or 2025-03-01..2025-04-15
    /// (local days, end exclusive).
    #[arg(long, value_name = "PERIOD")]
    pub period: String,
    /// Only events recorded at or before it count: an RFC 3339 instant, or a date (its end, in
    /// the deployment's time zone); default: now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Break the figures down by one dimension.
    #[arg(long, value_enum)]
    pub breakdown: Option<BreakdownArg>,
    /// Also give every child region, ranked by `--rank-by`.
    #[arg(long)]
    pub drill_down: bool,
    /// The rate child regions are ranked by, as the API's `rank_by`: grid_rate, village_rate,
    /// township_rate (default), county_rate, resolution_rate, mediation_success, on_time,
    /// rework, extension, escalation, reopen, satisfaction.
    #[arg(long, value_name = "RATE", value_parser = parse_rank_by)]
    pub rank_by: Option<RankBy>,
}

fn parse_rank_by(s: &str) -> Result<RankBy, String> {
    RankBy::parse(s).ok_or_else(|| {
        let names: Vec<&str> = RankBy::ALL.iter().map(|r| r.as_str()).collect();
        format!("use one of {}", names.join(", "))
    })
}

/// A checked `stats` request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The query.
    pub query: StatsQuery,
    /// As of when.
    pub as_of: Timestamp,
}

/// Parses a region code and checks that it names a known division (or a grid of a known
/// village).
pub fn parse_region(divisions: &RegionTree, flag: &str, s: &str) -> Result<RegionCode, Error> {
    let code: RegionCode = s
        .parse()
        .map_err(crate::bad_value(format!("{flag} {s:?}")))?;
    let known = divisions.contains_code(code)
        || (code.level() == Level::Grid
            && code.parent().is_some_and(|v| divisions.contains_code(v)));
    if known {
        Ok(code)
    } else {
        Err(Error::Usage(format!(
            "{flag} {code}: unknown region (not in the division table)"
        )))
    }
}

/// An optional region argument, checked against the deployment's regions (loaded only when
/// one is given).
pub fn region_arg(
    regions: &RegionsConfig,
    flag: &str,
    s: Option<&str>,
) -> Result<Option<RegionCode>, Error> {
    s.map(|s| parse_region(&regions.load()?, flag, s))
        .transpose()
}

impl StatsArgs {
    /// Checks the arguments against the deployment's regions.
    pub fn query(&self, regions: &RegionTree, calendar: &Calendar) -> Result<Request, Error> {
        let region = parse_region(regions, "--region", &self.region)?;
        let period = Period::parse(&self.period)
            .map_err(crate::bad_value(format!("--period {:?}", self.period)))?;
        let as_of = match &self.as_of {
            Some(s) => crate::cli::parse_as_of("--as-of", s, calendar)?,
            None => Timestamp::now(),
        };
        Ok(Request {
            query: StatsQuery {
                region,
                period,
                breakdown: self.breakdown.map(|b| match b {
                    BreakdownArg::Category => Breakdown::Category,
                    BreakdownArg::Source => Breakdown::Source,
                    BreakdownArg::Kind => Breakdown::Kind,
                }),
                drill_down: self.drill_down,
                rank_by: self.rank_by.unwrap_or_default(),
                as_of: Some(as_of),
            },
            as_of,
        })
    }
}

/// The statistics as of the request's time, as the server's JSON plus `as_of` and
/// `commits_applied`.
pub async fn stats(
    source: &Source,
    req: &Request,
    calendar: Calendar,
    regions: &RegionTree,
) -> Result<Value, Error> {
    let projector = as_of(source, calendar, req.as_of).await?;
    let report = projector.stats(&req.query, regions);
    let mut v = serde_json::to_value(&report).map_err(crate::json_error)?;
    v["as_of"] = serde_json::to_value(req.as_of).map_err(crate::json_error)?;
    v["cases_as_of"] = projector.case_count().into();
    Ok(v)
}
