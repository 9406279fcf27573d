//! The command line: [`Cli`] and its [`Cmd`]s, parsed by clap, and [`execute`], which runs
//! one against the library's modules. `main` is glue around it.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use gridcase_domain::{CaseId, Timestamp};
use gridcase_projections::Calendar;

use crate::source::Location;
use crate::{asof, bad_value, config, export, history, outln, rebuild, stats, verify, Error};

/// How a run ended, when it ran to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing wrong was found.
    Ok,
    /// A problem was found (exit status 1).
    ProblemsFound,
}

impl Status {
    /// The process exit status: 0 or 1.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::ProblemsFound => 1,
        }
    }

    /// `ProblemsFound` when `found`.
    pub fn from_found(found: bool) -> Status {
        if found {
            Status::ProblemsFound
        } else {
            Status::Ok
        }
    }
}

/// Parses an RFC 3339 instant given on the command line.
pub fn parse_time(flag: &str, s: &str) -> Result<Timestamp, Error> {
    Timestamp::parse(s).map_err(bad_value(format!("{flag} {s:?}")))
}

/// Parses an "as of" time: an RFC 3339 instant (as the export and the API write them), or a
/// local date or period — its last instant in the deployment's time zone, as the workbench
/// reads "as known on" a day (the export's `--to`, read the same way).
pub fn parse_as_of(flag: &str, s: &str, calendar: &Calendar) -> Result<Timestamp, Error> {
    let (_, end) = crate::export::bounds(flag, s, calendar)?;
    Ok(end.plus_millis(-1))
}

/// Parses a case id given on the command line.
pub fn parse_case(s: &str) -> Result<CaseId, Error> {
    CaseId::new(s).map_err(bad_value(format!("case id {s:?}")))
}

/// `gridcase-replay`: history, as-of state, verification, rebuild, export and statistics of
/// the gridcase event log.
#[derive(Debug, Parser)]
#[command(
    name = "gridcase-replay",
    version,
    about = "Replay and verify the gridcase event log: history, as-of state, verify, rebuild, export, stats.",
    long_about = "Replay and verify the gridcase event log. Reads the embedded store of a server \
        data directory (--data, opened read-only: stop the server or use a copy) or a NATS \
        JetStream stream (--nats), and never writes to it.\n\n\
        Exit status: 0 ok, 1 a problem was found, 2 usage or runtime error."
)]
pub struct Cli {
    /// The server's data directory; the log is DIR/log. Without --data or --nats the log is
    /// where the server would look: NATS if its configuration has a `[nats]` table or
    /// GRIDCASE_NATS_URL is set, else GRIDCASE_DATA_DIR, the configuration's `data_dir`, or
    /// ./data.
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Read the log from NATS JetStream at this URL instead of a data directory.
    #[arg(long, global = true, value_name = "URL", conflicts_with = "data")]
    pub nats: Option<String>,
    /// The NATS stream holding the log (default: the configuration's, or GRIDCASE).
    #[arg(long, global = true, value_name = "NAME")]
    pub stream: Option<String>,
    /// The NATS subject prefix of cases, `<prefix>.<county>.<case id>` (default: the
    /// configuration's, or gridcase.cases).
    #[arg(long, global = true, value_name = "PREFIX")]
    pub subject_prefix: Option<String>,
    /// The JetStream API prefix: `$JS.API`, or `$JS.<domain>.API` for a stream in a
    /// JetStream domain (default: the configuration's `[nats] api_prefix`, or `$JS.API`).
    #[arg(long, global = true, value_name = "PREFIX")]
    pub api_prefix: Option<String>,
    /// The server's TOML configuration: where its log is (`data_dir` or `[nats]`), its
    /// `time_zone` and `[regions]` are used; the options here override them.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The deployment's time zone: statistics, rebuilt projections and export dates (default:
    /// the configuration's, or Asia/Shanghai).
    #[arg(long, global = true, value_name = "TZ", env = "GRIDCASE_TIME_ZONE")]
    pub time_zone: Option<String>,
    /// The division table (`code,name,level,parent` CSV) that region codes are checked
    /// against and named from (default: the configuration's, or the bundled Zhejiang
    /// divisions).
    #[arg(long, global = true, value_name = "FILE")]
    pub divisions: Option<PathBuf>,
    /// The grid file, one 15-digit grid code per line (default: the configuration's, or none:
    /// a grid code of a known village is then accepted).
    #[arg(long, global = true, value_name = "FILE")]
    pub grids: Option<PathBuf>,
    /// No progress bars (they are drawn on standard error, only when it is a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Output format of `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// Aligned columns, one event per line.
    Table,
    /// One JSON document.
    Json,
}

/// Output format of `verify`'s summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// Lines of text.
    Text,
    /// One JSON document.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The full timeline of one case, every hash link checked.
    History {
        /// The case id.
        case: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: HistoryFormat,
    },
    /// The case as it stood at a time (events recorded at or before it), as JSON.
    State {
        /// The case id.
        case: String,
        /// RFC 3339 instant, e.g. 2025-04-01T00:00:00+08:00, or a date (its end, in the
        /// deployment's time zone); default: now.
        #[arg(long, value_name = "TIME")]
        as_of: Option<String>,
    },
    /// Check the whole log (or one region's cases): decoding, versions, hash chains, positions
    /// and indexes. Exit status 1 when anything fails.
    Verify {
        /// Only cases located in this region subtree (as reported or corrected).
        #[arg(long, value_name = "CODE")]
        region: Option<String>,
        /// Also rebuild the projections and compare them with the live store in DIR
        /// (usually DATA/projection).
        #[arg(long, value_name = "DIR")]
        projections: Option<PathBuf>,
        /// How many problems to print.
        #[arg(long, value_name = "N", default_value_t = 20)]
        max_problems: usize,
        /// A tree head kept from an earlier verify (`SIZE:ROOT`, as its summary prints it):
        /// fails when any of the log's first SIZE commits was removed, inserted or changed.
        /// May be given more than once.
        #[arg(long, value_name = "SIZE:ROOT")]
        checkpoint: Vec<verify::TreeHead>,
        /// Summary format.
        #[arg(long, value_enum, default_value = "text")]
        format: SummaryFormat,
    },
    /// Rebuild every projection from position 0 into a fresh directory.
    Rebuild {
        /// Where to build (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Every event, streamed, as JSON lines or CSV, for external audit tools.
    Export(export::ExportArgs),
    /// The statistics of a region and period as they stood at a time, as JSON.
    Stats(stats::StatsArgs),
}

impl Cli {
    /// Where to read from: the command line's --nats or --data, else where the deployment
    /// (the configuration under the server's environment variables) puts the log: its
    /// `[nats]`, else its `data_dir`, else ./data. NATS settings the command line leaves out
    /// come from the deployment's `[nats]` table, then the server's defaults.
    pub fn location(&self, deployment: &config::Deployment) -> Location {
        let nats = deployment.nats.clone().unwrap_or_default();
        let url = match (&self.nats, &self.data) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(_)) => None,
            (None, None) => deployment
                .nats
                .as_ref()
                .map(|n| n.url.clone().unwrap_or_else(|| DEFAULT_NATS_URL.into())),
        };
        match url {
            Some(url) => Location::Nats {
                url,
                stream: (self.stream.clone())
                    .or(nats.stream)
                    .unwrap_or_else(|| DEFAULT_STREAM.into()),
                prefix: (self.subject_prefix.clone())
                    .or(nats.subject_prefix)
                    .unwrap_or_else(|| DEFAULT_SUBJECT_PREFIX.into()),
                api_prefix: (self.api_prefix.clone())
                    .or(nats.api_prefix)
                    .unwrap_or_else(|| gridcase_bus::DEFAULT_API_PREFIX.into()),
            },
            None => Location::DataDir(
                (self.data.clone())
                    .or_else(|| deployment.data_dir.clone())
                    .unwrap_or_else(|| PathBuf::from("./data")),
            ),
        }
    }

    /// The deployment's settings: the configuration file (if any) under the server's
    /// environment variables (as `gridcase serve` reads them), under the command line.
    pub fn deployment(&self) -> Result<config::Deployment, Error> {
        let mut d = match &self.config {
            Some(path) => config::Deployment::read(path)?,
            None => config::Deployment::default(),
        }
        .with_env(|name| std::env::var(name).ok());
        if let Some(tz) = &self.time_zone {
            d.time_zone = Some(tz.clone());
        }
        if let Some(p) = &self.divisions {
            d.regions.divisions = Some(p.clone());
        }
        if let Some(p) = &self.grids {
            d.regions.grids = Some(p.clone());
        }
        Ok(d)
    }
}

/// The calendar of the deployment's time zone (default Asia/Shanghai).
pub fn calendar(deployment: &config::Deployment) -> Result<Calendar, Error> {
    let tz = deployment.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE);
    Calendar::new(tz).map_err(bad_value(format!("--time-zone {tz:?}")))
}

/// The server's defaults for a `[nats]` table that leaves these out.
const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
const DEFAULT_STREAM: &str = "GRIDCASE";
const DEFAULT_SUBJECT_PREFIX: &str = "gridcase.cases";

/// The time zone when neither the command line nor the configuration names one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// Runs one command, writing its result to `out` (progress and notes go to standard error).
pub async fn execute(cli: Cli, out: &mut dyn Write) -> Result<Status, Error> {
    let deployment = cli.deployment()?;
    let calendar = calendar(&deployment)?;
    let progress = !cli.no_progress;
    // Arguments are checked before the log is opened, so a typo never waits on a store.
    match &cli.command {
        Cmd::History { case, format } => {
            let case = parse_case(case)?;
            let source = cli.location(&deployment).open().await?;
            let h = history::History::load(&source, &case).await?;
            match format {
                HistoryFormat::Table => h.write_table(out)?,
                HistoryFormat::Json => h.write_json(out)?,
            }
            if !h.is_intact() {
                eprintln!(
                    "case {case}: {} problem(s) in its history (see the CHECK column / \"check\" field)",
                    h.problem_count()
                );
            }
            Ok(Status::from_found(!h.is_intact()))
        }
        Cmd::State { case, as_of } => {
            let case = parse_case(case)?;
            let t = match as_of {
                Some(s) => parse_as_of("--as-of", s, &calendar)?,
                None => Timestamp::now(),
            };
            let source = cli.location(&deployment).open().await?;
            let s = asof::state_at(&source, &case, t).await?;
            serde_json::to_writer_pretty(&mut *out, &s).map_err(crate::json_error)?;
            outln!(out)?;
            Ok(Status::Ok)
        }
        Cmd::Verify {
            region,
            projections,
            max_problems,
            checkpoint,
            format,
        } => {
            let region = stats::region_arg(&deployment.regions, "--region", region.as_deref())?;
            let opts = verify::Options {
                region,
                max_problems: *max_problems,
                progress,
                checkpoints: checkpoint.clone(),
            };
            let source = match cli.location(&deployment).open().await {
                Ok(source) => source,
                // A store too damaged to open is a finding, not a failure of the tool.
                Err(Error::OpenLog { what, source }) if source.is_damage() => {
                    let report = verify::Report::unopenable(what, &source);
                    match format {
                        SummaryFormat::Text => report.write_text(out, *max_problems)?,
                        SummaryFormat::Json => report.write_json(out, *max_problems)?,
                    }
                    return Ok(Status::ProblemsFound);
                }
                Err(e) => return Err(e),
            };
            let mut report = verify::verify(&source, &opts).await?;
            if let Some(dir) = projections {
                report.projections =
                    Some(verify::check_projections(&source, dir, &calendar, progress).await?);
            }
            match format {
                SummaryFormat::Text => report.write_text(out, *max_problems)?,
                SummaryFormat::Json => report.write_json(out, *max_problems)?,
            }
            Ok(Status::from_found(!report.passed()))
        }
        Cmd::Rebuild { out: dir } => {
            rebuild::check_fresh(dir)?;
            let source = cli.location(&deployment).open().await?;
            let r = rebuild::rebuild(&source, dir, calendar, progress).await?;
            outln!(out, "{r}")?;
            Ok(Status::Ok)
        }
        Cmd::Export(args) => {
            let opts = args.options(&calendar, &deployment.regions)?;
            let source = cli.location(&deployment).open().await?;
            export::export(&source, &opts, out, progress).await?;
            Ok(Status::Ok)
        }
        Cmd::Stats(args) => {
            let regions = deployment.regions.load()?;
            let q = args.query(&regions, &calendar)?;
            let source = cli.location(&deployment).open().await?;
            let v = stats::stats(&source, &q, calendar, &regions).await?;
            serde_json::to_writer_pretty(&mut *out, &v).map_err(crate::json_error)?;
            outln!(out)?;
            Ok(Status::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn arguments_parse() {
        let none = config::Deployment::default();
        let cli = Cli::try_parse_from([
            "gridcase-replay",
            "verify",
            "--data",
            "/tmp/x",
            "--region",
            "330802",
        ])
        .unwrap();
        assert!(
            matches!(cli.location(&none), Location::DataDir(d) if d == std::path::Path::new("/tmp/x"))
        );
        let cli = Cli::try_parse_from([
            "gridcase-replay",
            "--nats",
            "nats://h:4222",
            "history",
            "c1",
        ])
        .unwrap();
        assert!(
            matches!(cli.location(&none), Location::Nats { url, .. } if url == "nats://h:4222")
        );
        assert!(Cli::try_parse_from(["gridcase-replay", "export"]).is_err());
    }

    /// `gridcase-replay ARGS history c1`.
    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(
            ["gridcase-replay"]
                .iter()
                .chain(args)
                .chain(&["history", "c1"]),
        )
        .unwrap()
    }

    #[test]
    fn the_log_is_where_the_server_configuration_puts_it_unless_the_command_line_says() {
        let nats: config::Deployment = toml::from_str(
            "data_dir = \"/srv/unused\"\n[nats]\nurl = \"nats://leaf:4222\"\nstream = \"CASES\"\napi_prefix = \"$JS.hub.API\"",
        )
        .unwrap();
        assert_eq!(
            parse(&[]).location(&nats),
            Location::Nats {
                url: "nats://leaf:4222".into(),
                stream: "CASES".into(),
                prefix: "gridcase.cases".into(),
                api_prefix: "$JS.hub.API".into(),
            }
        );
        // Each option given wins over the file.
        assert_eq!(
            parse(&["--stream", "OTHER", "--nats", "nats://h:1"]).location(&nats),
            Location::Nats {
                url: "nats://h:1".into(),
                stream: "OTHER".into(),
                prefix: "gridcase.cases".into(),
                api_prefix: "$JS.hub.API".into(),
            }
        );
        assert_eq!(
            parse(&["--data", "/tmp/copy"]).location(&nats),
            Location::DataDir("/tmp/copy".into())
        );
        // A `[nats]` table without a URL means the server's default one.
        let bare: config::Deployment = toml::from_str("[nats]").unwrap();
        assert!(
            matches!(parse(&[]).location(&bare), Location::Nats { url, .. } if url == "nats://127.0.0.1:4222")
        );
        let embedded: config::Deployment = toml::from_str("data_dir = \"/srv/gridcase\"").unwrap();
        assert_eq!(
            parse(&[]).location(&embedded),
            Location::DataDir("/srv/gridcase".into())
        );
        assert_eq!(
            parse(&[]).location(&config::Deployment::default()),
            Location::DataDir("./data".into())
        );
        assert!(Cli::try_parse_from([
            "gridcase-replay",
            "--data",
            "d",
            "--nats",
            "n",
            "history",
            "c1"
        ])
        .is_err());
    }

    #[test]
    fn the_servers_environment_variables_apply_as_for_the_server_under_the_command_line() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let nats_url = env(&[("GRIDCASE_NATS_URL", "nats://env:4222")]);
        let data_dir = env(&[("GRIDCASE_DATA_DIR", "/srv/env")]);
        // GRIDCASE_NATS_URL puts the log on NATS, but --data on the command line wins.
        let d = config::Deployment::default().with_env(nats_url);
        assert!(
            matches!(parse(&[]).location(&d), Location::Nats { url, .. } if url == "nats://env:4222")
        );
        assert_eq!(
            parse(&["--data", "/backup"]).location(&d),
            Location::DataDir("/backup".into())
        );
        // GRIDCASE_DATA_DIR moves the data directory; a NATS deployment keeps its log on NATS.
        let d = config::Deployment::default().with_env(data_dir);
        assert_eq!(
            parse(&[]).location(&d),
            Location::DataDir("/srv/env".into())
        );
        let on_nats: config::Deployment =
            toml::from_str("[nats]\nurl = \"nats://leaf:4222\"").unwrap();
        assert!(
            matches!(parse(&[]).location(&on_nats.with_env(data_dir)), Location::Nats { url, .. } if url == "nats://leaf:4222")
        );
    }
}
