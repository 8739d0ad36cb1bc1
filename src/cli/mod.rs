//! The command line: options, help texts, logging set-up, and the dispatch of each command to the
//! phase that implements it. Nothing here touches a database directly.

pub mod config;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::io::connect::{Endpoint, Side};
use crate::io::exit::{Status, refuse};

const AFTER_HELP: &str = "\
Workflow: analyze, rehearse, run (resume it by running it again), verify, and rollback if needed.

Examples:
  odoo-migrate --source postgres://odoo@db16/prod --target postgres://odoo@db19/new analyze
  ODOO_MIGRATE_SOURCE=postgres://odoo@db16/prod ODOO_MIGRATE_TARGET=postgres://odoo@db19/new odoo-migrate run

Exit codes: 0 success, 1 failure, 2 usage error, 3 blocking analysis findings, 4 verification failed,
5 deadline reached (resumable), 6 interrupted (resumable), 7 connection error, 8 wrong databases.";

/// The examples and the checks of `verify --help` (a test keeps the list equal to the checks).
const VERIFY_HELP: &str = "Examples:\n  odoo-migrate … verify --report-dir reports\n  odoo-migrate … verify --check trial-balance\n  odoo-migrate … verify --deep --target-filestore /var/lib/odoo19/filestore/new\n  odoo-migrate … verify --odoo-bin /opt/odoo19/odoo-bin --odoo-python /opt/odoo19/venv/bin/python --odoo-conf /etc/odoo19.conf\n\nWith --odoo-bin, Odoo 19 itself judges the target (check `odoo`: odoo-judge, odoo-registry, odoo-read,\nodoo-recompute, odoo-constraints, odoo-analytic, odoo-trial-balance, odoo-actions).\n\nThe checks of an app (timesheets to applicants) are not applicable, and pass, when the source\ndoes not have that app's tables.\n\nChecks: external-ids, counts, fields, references, duplicates, selection-values, attachment-files, deep,\ntrial-balance, journal-totals, open-balances, revenue-per-month, stock-on-hand, stock-valuation, order-states,\ntimesheets, manufacturing, manufacturing-valuation, landed-costs, expenses, time-off, point-of-sale,\nrepairs, event-registrations, fleet, applicants.";

/// Migrates a whole Odoo 16 database into a fresh Odoo 19 database, PostgreSQL to PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "odoo-migrate", version, about, long_about = None, after_help = AFTER_HELP)]
// Every option of `Cli` is global: under a heading of its own in each subcommand's help, apart
// from the subcommand's options.
#[command(next_help_heading = "Global options")]
pub struct Cli {
    /// The Odoo 16 database, read only: postgres://user:password@host:port/database
    #[arg(
        long,
        env = "ODOO_MIGRATE_SOURCE",
        global = true,
        hide_env_values = true
    )]
    pub source: Option<String>,

    /// The Odoo 19 database that receives the data: postgres://user:password@host:port/database
    #[arg(
        long,
        env = "ODOO_MIGRATE_TARGET",
        global = true,
        hide_env_values = true
    )]
    pub target: Option<String>,

    /// A TOML configuration file for both connections (URLs or Odoo configuration files), rules,
    /// jobs, deadline, filestores, reports and logs; flags and environment variables win over it.
    #[arg(long, value_name = "FILE", env = "ODOO_MIGRATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Output format of the command's report on standard output.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub format: Format,

    /// Format of the log lines on standard error.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Additional rules files (TOML) that add to or override the default 16 → 19 pack.
    #[arg(long = "rules", value_name = "FILE", global = true)]
    pub rules: Vec<PathBuf>,

    /// Append the log lines to this file instead of standard error.
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        env = "ODOO_MIGRATE_LOG_FILE"
    )]
    pub log_file: Option<PathBuf>,

    /// Only errors on standard error.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on standard error (repeat for even more).
    #[arg(long, short, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

pub use crate::io::report::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare both databases and report what a migration must handle; writes nothing but its
    /// findings (in the target's `odoo_migrate` schema). Exit 3 when something blocks.
    #[command(
        after_help = "Examples:\n  odoo-migrate --source postgres://odoo@db16/prod --target postgres://odoo@db19/new analyze\n  odoo-migrate … --format csv analyze --output findings.csv\n  psql -d new -c 'SELECT * FROM odoo_migrate.latest_analysis WHERE blocking'"
    )]
    Analyze(AnalyzeArgs),
    /// Migrate a sample of every model inside a transaction that is rolled back, and report what would fail.
    #[command(
        after_help = "Examples:\n  odoo-migrate … rehearse --sample 5\n  odoo-migrate … --rules ours.toml --format json rehearse --sample 20"
    )]
    Rehearse(RehearseArgs),
    /// Migrate every row. Running it again resumes an interrupted run; on a finished run it does nothing.
    #[command(
        after_help = "Examples:\n  odoo-migrate … run --jobs 4\n  odoo-migrate … run --deadline 06:30 --log-format json --log-file migrate.log   # exit 5 at the deadline, resume tomorrow\n  odoo-migrate … run --on-match res.partner=keep\n  odoo-migrate … run --update res.partner:email,phone\n  odoo-migrate --source …/prod_tonight … run --catch-up --on-conflict source   # bring a migrated target to a newer dump\n  odoo-migrate … run --source-filestore /var/lib/odoo16/filestore/prod --target-filestore /var/lib/odoo19/filestore/new"
    )]
    Run(RunArgs),
    /// Show the progress and totals of the current or last run.
    #[command(
        after_help = "Examples:\n  odoo-migrate --target postgres://odoo@db19/new status\n  odoo-migrate --target … --format json status\n  psql -d new -c 'SELECT * FROM odoo_migrate.progress'"
    )]
    Status,
    /// Prove the migration: external ids, counts, fields, references, duplicates and business totals.
    #[command(
        after_help = VERIFY_HELP
    )]
    Verify(VerifyArgs),
    /// Remove what a run created and restore what it changed.
    #[command(
        after_help = "Examples:\n  odoo-migrate --target postgres://odoo@db19/new rollback\n  odoo-migrate --target … rollback --run 2"
    )]
    Rollback(RollbackArgs),
    /// `config check`: print the effective configuration (passwords hidden) and test both connections.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the effective configuration and test both connections.
    Check,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Also write the report to this file (in the format given by --format).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// Number of records taken from every model.
    #[arg(long, default_value_t = 5)]
    pub sample: u32,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Number of models copied at the same time.
    #[arg(long, short, default_value_t = 4, env = "ODOO_MIGRATE_JOBS")]
    pub jobs: usize,

    /// Rows per committed chunk of a large table; a resumed run restarts after the last chunk.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub chunk_size: i64,

    /// How foreign keys stay out of the way while tables load in any order: `replica` switches
    /// their triggers off in the copying sessions (session_replication_role; needs a superuser or
    /// the SET privilege on it) and proves every key with one query each at the end; `set-aside`
    /// drops the keys of the written tables and restores them with VALIDATE at the end; `auto`
    /// takes `replica` when the role may. Either way a key that does not hold fails the run.
    #[arg(long, value_enum, default_value_t = crate::copy::keys::Strategy::Auto)]
    pub foreign_keys: crate::copy::keys::Strategy,

    /// Tables that receive at least this many rows have their secondary indexes (not unique, not
    /// behind a constraint) dropped before the load and built again after it, which is much faster
    /// than maintaining them row by row; 0 keeps every index in place during the load.
    #[arg(long, value_name = "ROWS", default_value_t = 10_000)]
    pub rebuild_indexes_from: u64,

    /// A table of at least this many rows is cut by id into slices of about the same size, up
    /// to one per job, copied at the same time, each with its own checkpoint; 0 copies every
    /// table with one job. Tables with post-copy SQL are never cut.
    #[arg(long, value_name = "ROWS", default_value_t = 200_000)]
    pub slice_from: u64,

    /// Stop cleanly at the next chunk boundary after this local time of day (HH:MM); exit code 5.
    #[arg(long, value_name = "HH:MM", env = "ODOO_MIGRATE_DEADLINE")]
    pub deadline: Option<String>,

    /// Stop cleanly at the next chunk boundary after this long (e.g. 90m, 2h, 1h30m); exit code 5.
    #[arg(long, value_name = "DURATION")]
    pub max_duration: Option<String>,

    /// Go on with the other tables when one fails (the failed ones are retried by the next run).
    #[arg(long)]
    pub keep_going: bool,

    /// Start a new run although the target has a previous one; refused unless it was rolled back.
    #[arg(long)]
    pub restart: bool,

    /// What happens to target records matched to source records, per model (Odoo 16 name):
    /// `keep` leaves them as they are, `update` writes the source's values into them. Repeatable,
    /// e.g. --on-match res.partner=keep. Defaults come from the rules (update for the company,
    /// its partner and users; keep for reference data).
    #[arg(long = "on-match", value_name = "MODEL=keep|update", value_parser = parse_on_match)]
    pub on_match: Vec<(String, crate::rules::OnMatch)>,

    /// Update mode: copy again the fields of records already migrated, creating nothing. Give a
    /// model (all its fields), MODEL:FIELD,FIELD or MODEL.FIELD; repeatable. Reports how many
    /// records changed.
    #[arg(long, value_name = "MODEL[:FIELD,…]")]
    pub update: Vec<String>,

    /// Catch-up: the target holds a finished migration of an older snapshot of the source; bring
    /// it to this one. Records new in the source are created, changed ones updated, deleted ones
    /// deleted (a record still referenced in the target is reported and kept); resumable, and
    /// undone alone by `rollback`.
    #[arg(long, conflicts_with_all = ["update", "restart"])]
    pub catch_up: bool,

    /// With --catch-up: a record changed in the target since the last sync whose values the
    /// source changes too is a conflict, recorded with both values; `source` writes the source's
    /// values, `target` keeps the target's, `fail` (the default) stops the table naming them.
    #[arg(long, value_name = "source|target|fail", requires = "catch_up", value_parser = parse_on_conflict)]
    pub on_conflict: Option<crate::plan::tables::OnConflict>,

    /// With --catch-up: which source rows are compared with the last sync. `all` (the default):
    /// every row's values are hashed on the source and compared, whatever `write_date` says.
    /// `write-date`: on the tables where it is safe (a model's own table with `write_date`, copied
    /// from its own row alone, whose newest `write_date` the last sync recorded), only rows written
    /// since the last sync (less --write-date-margin), new ones, and rows that pointed at records
    /// the source deleted are read; many2many tables and tables whose rules read other tables are
    /// still compared in full. It misses rows changed without their `write_date`: SQL run by hand
    /// or by scripts, and the few columns Odoo 16 itself writes by SQL (partners' customer_rank and
    /// supplier_rank). The next `all` catch-up reads those tables again whole.
    #[arg(long, value_name = "all|write-date", requires = "catch_up", default_value = "all", value_parser = ["all", "write-date"])]
    pub catch_up_compare: String,

    /// With --catch-up-compare write-date: rows written up to this many minutes before the last
    /// sync's newest `write_date` are read too (Odoo stamps a row with its transaction's start,
    /// so a transaction still running when the older snapshot was taken may commit older stamps).
    #[arg(
        long,
        value_name = "MINUTES",
        default_value_t = 60,
        requires = "catch_up"
    )]
    pub write_date_margin: u32,

    /// For a migration made ahead of go-live: keep a hash of every source row the run reads (in
    /// the side schema), so that the first `--catch-up` from a newer snapshot reads again only
    /// the rows that changed. Costs one more read of the source during this run; without it the
    /// first catch-up reads the whole source again (catch-ups keep the hashes too, but for the
    /// tables a `--catch-up-compare write-date` catch-up trusted `write_date` on).
    #[arg(long, conflicts_with_all = ["update", "catch_up"])]
    pub prepare_catch_up: bool,

    /// The source's filestore (`<data_dir>/filestore/<database>`): with --target-filestore, the
    /// files of migrated attachments are hard-linked or copied there at the end of the run.
    #[arg(long, value_name = "DIR", requires = "target_filestore")]
    pub source_filestore: Option<PathBuf>,

    /// The target's filestore (`<data_dir>/filestore/<database>`).
    #[arg(long, value_name = "DIR", requires = "source_filestore")]
    pub target_filestore: Option<PathBuf>,

    /// Write the run's report per model as run-<id>.csv and run-<id>.md into this directory.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
}

fn parse_on_conflict(text: &str) -> Result<crate::plan::tables::OnConflict, String> {
    crate::plan::tables::OnConflict::parse(text)
        .ok_or_else(|| format!("expected source, target or fail, not `{text}`"))
}

fn parse_on_match(text: &str) -> Result<(String, crate::rules::OnMatch), String> {
    let (model, policy) = text
        .split_once('=')
        .ok_or_else(|| format!("expected MODEL=keep or MODEL=update, not `{text}`"))?;
    let policy = match policy {
        "keep" => crate::rules::OnMatch::Keep,
        "update" => crate::rules::OnMatch::Update,
        other => return Err(format!("`{other}` is neither keep nor update")),
    };
    if model.is_empty() {
        return Err("the model name is missing before `=`".to_string());
    }
    Ok((model.to_string(), policy))
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Run only this check.
    #[arg(long)]
    pub check: Option<String>,

    /// Write CSV files of the results into this directory.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Also compare every created record with its source, value by value through the mappings and
    /// the rules, and report the first differences per column (slower).
    #[arg(long)]
    pub deep: bool,

    /// Also check that every migrated attachment has its file in this filestore.
    #[arg(long, value_name = "DIR")]
    pub target_filestore: Option<PathBuf>,

    /// The judge (check `odoo`): the odoo-bin of the Odoo 19 that will serve the target. `verify`
    /// then runs `odoo-bin shell` on the target with odoo/judge.py (carried in this binary), in a
    /// transaction Odoo rolls back, and records what Odoo 19 finds: the registry loads, every stored
    /// field reads, recomputed fields equal the stored ones, constraints hold, analytic plan columns
    /// exist, business actions work, the trial balance equals the source's. Without it the judge
    /// is not run (and reported as not run).
    #[arg(long, value_name = "PATH", env = "ODOO_MIGRATE_ODOO_BIN")]
    pub odoo_bin: Option<PathBuf>,

    /// The Python that runs odoo-bin: the one Odoo 19 is installed in (e.g. its virtualenv's
    /// bin/python); default `python3` from PATH.
    #[arg(long, value_name = "PATH", env = "ODOO_MIGRATE_ODOO_PYTHON")]
    pub odoo_python: Option<PathBuf>,

    /// An Odoo configuration file for the judge (addons_path, data_dir); the database connection
    /// always comes from --target.
    #[arg(long, value_name = "FILE")]
    pub odoo_conf: Option<PathBuf>,

    /// How long the judge may run before it is stopped (e.g. 30m, 2h).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub odoo_timeout: String,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The number of the run to roll back, as `status` shows it; the newest by default.
    #[arg(long, value_name = "NUMBER")]
    pub run: Option<i64>,
}

impl Cli {
    pub fn source(&self) -> Result<Endpoint> {
        endpoint(Side::Source, self.source.as_deref())
    }

    pub fn target(&self) -> Result<Endpoint> {
        endpoint(Side::Target, self.target.as_deref())
    }
}

fn endpoint(side: Side, text: Option<&str>) -> Result<Endpoint> {
    let label = side.label();
    let Some(text) = text else {
        return Err(refuse(
            Status::Usage,
            format!(
                "no {label} database given; pass --{label} postgres://user@host:port/database (user:password@ when the server asks for a password) or set ODOO_MIGRATE_{}",
                label.to_uppercase()
            ),
        ));
    };
    Endpoint::parse(side, text)
}

/// Sets up tracing on standard error.
pub fn init_logging(cli: &Cli) {
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ODOO_MIGRATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("odoo_migrate={level}")));
    let file = cli.log_file.as_ref().map(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| format!("cannot open the log file {}: {error}", path.display()))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match (file, cli.log_format) {
        (Some(Ok(file)), LogFormat::Json) => builder
            .with_writer(std::sync::Mutex::new(file))
            .json()
            .flatten_event(true)
            .init(),
        (Some(Ok(file)), LogFormat::Text) => builder
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .compact()
            .init(),
        (Some(Err(message)), _) => {
            eprintln!("error: {message}");
            std::process::exit(crate::io::exit::Status::Usage.code());
        }
        (None, LogFormat::Json) => builder
            .with_writer(crate::io::progress::stderr_above_bars)
            .json()
            .flatten_event(true)
            .init(),
        (None, LogFormat::Text) => {
            use std::io::IsTerminal;
            builder
                .with_writer(crate::io::progress::stderr_above_bars)
                .with_ansi(std::io::stderr().is_terminal())
                .compact()
                .init()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::VERIFY_HELP;

    #[test]
    fn verify_help_lists_every_check() {
        let listed = VERIFY_HELP
            .split_once("Checks:")
            .map(|(_, list)| list)
            .unwrap_or_default();
        let listed: Vec<&str> = listed
            .split([',', '.', '\n', ' '])
            .filter(|name| !name.is_empty())
            .collect();
        let checks: Vec<&str> = crate::verify::INTEGRITY_CHECKS
            .iter()
            .copied()
            .chain(
                crate::verify::BUSINESS_CHECKS
                    .iter()
                    .map(|check| check.name),
            )
            .collect();
        assert_eq!(listed, checks);
    }
}
