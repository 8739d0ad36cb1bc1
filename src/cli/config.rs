//! The configuration file (`--config FILE`, TOML): both connections — as URLs or read from an Odoo
//! configuration file — rules files, jobs, deadline, filestores, report directory and logging, in
//! one place. A flag or an environment variable always wins over the file. Also `config check`,
//! which prints the effective configuration (passwords hidden) and tests both connections.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::cli::{Cli, Command, LogFormat};
use crate::io::connect::Side;
use crate::io::exit::{Status, refuse};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub source: Option<Database>,
    pub target: Option<Database>,
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    pub log_format: Option<String>,
    pub log_file: Option<PathBuf>,
    pub report_dir: Option<PathBuf>,
    #[serde(default)]
    pub run: RunSection,
}

/// A database: a URL, or an Odoo configuration file and a database name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Database {
    Url(String),
    Odoo(OdooDatabase),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooDatabase {
    /// An Odoo configuration file (`odoo.conf`): db_host, db_port, db_user, db_password, data_dir.
    pub odoo_conf: Option<PathBuf>,
    pub url: Option<String>,
    /// The database name (Odoo's configuration may name it as db_name).
    pub database: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub jobs: Option<usize>,
    pub chunk_size: Option<i64>,
    /// Tables with at least this many rows are cut into slices (`run --slice-from`).
    pub slice_from: Option<u64>,
    pub deadline: Option<String>,
    pub max_duration: Option<String>,
    pub source_filestore: Option<PathBuf>,
    pub target_filestore: Option<PathBuf>,
}

/// A connection read from an Odoo configuration file, with the filestore it implies.
pub struct OdooConnection {
    pub url: String,
    pub filestore: Option<PathBuf>,
}

/// Reads the `[options]` of an Odoo configuration file into a URL (and the database's filestore).
pub fn from_odoo_conf(path: &Path, database: Option<&str>) -> Result<OdooConnection> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        refuse(
            Status::Usage,
            format!(
                "cannot read the Odoo configuration {}: {error}",
                path.display()
            ),
        )
    })?;
    let mut options: BTreeMap<String, String> = BTreeMap::new();
    let mut in_options = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_options = line == "[options]";
            continue;
        }
        if !in_options || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim();
            if !value.eq_ignore_ascii_case("false") && !value.is_empty() {
                options.insert(key.trim().to_string(), value.to_string());
            }
        }
    }
    let database = database
        .map(str::to_string)
        .or_else(|| options.get("db_name").cloned())
        .ok_or_else(|| {
            refuse(
                Status::Usage,
                format!(
                    "{} names no database (db_name); add `database = \"…\"` next to odoo_conf",
                    path.display()
                ),
            )
        })?;
    let mut pairs = vec![format!("dbname='{}'", escape(&database))];
    for (key, name) in [
        ("db_host", "host"),
        ("db_port", "port"),
        ("db_user", "user"),
        ("db_password", "password"),
    ] {
        if let Some(value) = options.get(key) {
            pairs.push(format!("{name}='{}'", escape(value)));
        }
    }
    let filestore = options
        .get("data_dir")
        .map(|dir| PathBuf::from(dir).join("filestore").join(&database));
    Ok(OdooConnection {
        url: pairs.join(" "),
        filestore,
    })
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

fn from_matches_default(matches: Option<&ArgMatches>, id: &str) -> bool {
    matches.is_none_or(|m| matches!(m.value_source(id), None | Some(ValueSource::DefaultValue)))
}

/// Fills what the command line and the environment left unset from the configuration file.
pub fn apply(cli: &mut Cli, matches: &ArgMatches) -> Result<()> {
    let Some(path) = cli.config.clone() else {
        return Ok(());
    };
    let file = read(&path)?;
    let mut filestores = fill_databases(cli, &file, &path)?;
    if cli.rules.is_empty() {
        cli.rules = file.rules.clone();
    }
    if cli.log_file.is_none() {
        cli.log_file = file.log_file.clone();
    }
    if from_matches_default(Some(matches), "log_format")
        && let Some(format) = &file.log_format
    {
        cli.log_format = match format.as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => {
                return Err(refuse(
                    Status::Usage,
                    format!(
                        "configuration {}: log_format is text or json, not `{other}`",
                        path.display()
                    ),
                ));
            }
        };
    }
    let sub = matches.subcommand().map(|(_, m)| m);
    fill_command(&mut cli.command, sub, &file, &mut filestores);
    Ok(())
}

/// The configuration file, parsed; an error names its line.
fn read(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        refuse(
            Status::Usage,
            format!("cannot read the configuration {}: {error}", path.display()),
        )
    })?;
    toml::from_str(&text).map_err(|error| {
        let line = error
            .span()
            .map(|span| {
                text.get(..span.start)
                    .unwrap_or(&text)
                    .matches('\n')
                    .count()
                    + 1
            })
            .unwrap_or(1);
        refuse(
            Status::Usage,
            format!(
                "configuration {}:{line}: {}",
                path.display(),
                error.message().trim()
            ),
        )
    })
}

/// Source and target not given on the command line, from the file (a URL or an Odoo
/// configuration); returns the filestores an Odoo configuration names (source, target).
fn fill_databases(
    cli: &mut Cli,
    file: &ConfigFile,
    path: &Path,
) -> Result<(Option<PathBuf>, Option<PathBuf>)> {
    let mut filestores = (None, None);
    for (side, slot, filestore) in [
        (Side::Source, &mut cli.source, &mut filestores.0),
        (Side::Target, &mut cli.target, &mut filestores.1),
    ] {
        let configured = match side {
            Side::Source => &file.source,
            Side::Target => &file.target,
        };
        if slot.is_some() {
            continue;
        }
        *slot = match configured {
            None => None,
            Some(Database::Url(url)) => Some(url.clone()),
            Some(Database::Odoo(odoo)) => match (&odoo.url, &odoo.odoo_conf) {
                (Some(url), _) => Some(url.clone()),
                (None, Some(conf)) => {
                    let connection = from_odoo_conf(conf, odoo.database.as_deref())?;
                    *filestore = connection.filestore;
                    Some(connection.url)
                }
                (None, None) => {
                    return Err(refuse(
                        Status::Usage,
                        format!(
                            "configuration {}: the {} needs url or odoo_conf",
                            path.display(),
                            side.label()
                        ),
                    ));
                }
            },
        };
    }
    Ok(filestores)
}

/// The subcommand's options left at their defaults, from the file's `[run]` section and
/// `report_dir`.
fn fill_command(
    command: &mut Command,
    sub: Option<&ArgMatches>,
    file: &ConfigFile,
    filestores: &mut (Option<PathBuf>, Option<PathBuf>),
) {
    match command {
        Command::Run(args) => {
            if from_matches_default(sub, "jobs")
                && let Some(jobs) = file.run.jobs
            {
                args.jobs = jobs;
            }
            if from_matches_default(sub, "chunk_size")
                && let Some(size) = file.run.chunk_size
            {
                args.chunk_size = size;
            }
            if from_matches_default(sub, "slice_from")
                && let Some(rows) = file.run.slice_from
            {
                args.slice_from = rows;
            }
            args.deadline = args.deadline.take().or(file.run.deadline.clone());
            args.max_duration = args.max_duration.take().or(file.run.max_duration.clone());
            args.source_filestore = args
                .source_filestore
                .take()
                .or(file.run.source_filestore.clone())
                .or(filestores.0.take());
            args.target_filestore = args
                .target_filestore
                .take()
                .or(file.run.target_filestore.clone())
                .or(filestores.1.take());
            args.report_dir = args.report_dir.take().or(file.report_dir.clone());
        }
        Command::Verify(args) => {
            args.report_dir = args.report_dir.take().or(file.report_dir.clone());
            args.target_filestore = args
                .target_filestore
                .take()
                .or(file.run.target_filestore.clone())
                .or(filestores.1.take());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    /// The command line parsed, then filled from a configuration file's text.
    fn configured(args: &[&str], file: &str) -> Cli {
        let path = std::env::temp_dir().join(format!(
            "odoo-migrate-{}-{}.toml",
            std::process::id(),
            args.len()
        ));
        std::fs::write(&path, file).expect("write the configuration");
        let mut all = vec!["odoo-migrate", "--config", path.to_str().expect("a path")];
        all.extend(args);
        let matches = Cli::command().get_matches_from(all);
        let mut cli = Cli::from_arg_matches(&matches).expect("the arguments parse");
        apply(&mut cli, &matches).expect("the configuration applies");
        std::fs::remove_file(path).expect("remove the configuration");
        cli
    }

    fn run_args(cli: &Cli) -> &crate::cli::RunArgs {
        match &cli.command {
            Command::Run(args) => args,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn the_run_section_fills_what_the_command_line_left_at_its_default() {
        let file = "[run]\njobs = 3\nchunk_size = 777\nslice_from = 5000\n";
        let cli = configured(&["run"], file);
        let run = run_args(&cli);
        assert_eq!((run.jobs, run.chunk_size, run.slice_from), (3, 777, 5000));
        let cli = configured(&["run", "--jobs", "5", "--slice-from", "9"], file);
        let run = run_args(&cli);
        assert_eq!((run.jobs, run.chunk_size, run.slice_from), (5, 777, 9));
    }

    #[test]
    fn an_odoo_configuration_becomes_a_connection_and_a_filestore() {
        let path = std::env::temp_dir().join(format!("odoo-{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "[options]\nadmin_passwd = x\ndb_host = db.local\ndb_port = 5433\ndb_user = odoo\ndb_password = it's\ndata_dir = /var/lib/odoo\ndb_name = False\n",
        )
        .unwrap();
        let connection = from_odoo_conf(&path, Some("prod")).unwrap();
        assert_eq!(
            connection.url,
            "dbname='prod' host='db.local' port='5433' user='odoo' password='it\\'s'"
        );
        assert_eq!(
            connection.filestore,
            Some(PathBuf::from("/var/lib/odoo/filestore/prod"))
        );
        assert!(from_odoo_conf(&path, None).is_err(), "no database named");
        std::fs::remove_file(path).unwrap();
    }
}
