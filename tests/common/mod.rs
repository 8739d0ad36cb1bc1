//! The test harness on real databases: restores the Odoo dumps once into template databases
//! (again only when a dump's checksum changes), gives each test fresh copies made with
//! `CREATE DATABASE … TEMPLATE …` and drops them afterwards, and runs the real binary.
//!
//! Settings:
//! - `ODOO_MIGRATE_TEST_PG`: a libpq URL to the server's maintenance database; what it leaves out
//!   comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, then from the defaults
//!   `postgres://postgres@127.0.0.1:5432/postgres`.
//! - `ODOO_MIGRATE_DUMPS`: the directory of the dumps, default `../shared/odoo-dumps` next to the
//!   project; `ODOO_MIGRATE_SOURCE_DUMP` / `ODOO_MIGRATE_TARGET_DUMP`: other file names in it
//!   (default `odoo16_demo.dump` / `odoo19_empty.dump`).
//! - `ODOO_MIGRATE_WIDE_DUMPS`: the directory of the wide pair (`odoo16_wide_demo.dump`,
//!   `odoo19_wide_empty.dump`: the apps real companies run), default `../shared/odoo-dumps-wide`;
//!   [`DatabasePair::wide`] copies them.
//!
//! Templates are named `omt_tpl_src_<12 hex of the dump's SHA-256>` and `omt_tpl_tgt_<…>`; they
//! are restored under an advisory lock (tests run in parallel threads and processes) into a
//! `…_loading` database renamed once complete, then marked as templates that accept no
//! connection. Copies are named `omt_<test>_<s|t>_<pid>_<n>`.
//!
//! The binary is called through [`DatabasePair::run`] / [`DatabasePair::run_with`] (this pair's
//! URLs), [`migrate`] (any two URLs: another role, a password) or [`odoo_migrate`] (any arguments);
//! every URL names the host and the port ([`url`], [`url_as`]), whatever `PGPORT` says.
//! Submodules: `cluster` (the Debian cluster serving the test server, for the tests that restart
//! it or change its files), `custom_model` (custom models in Odoo's catalog), `damage` (one
//! migrated target copied per damage, each failing exactly its `verify` check), `odoo` (the Odoo 19
//! installation that judges a target), `scratch`
//! (temporary files and directories removed when dropped).

#![allow(dead_code)]

pub mod cluster;
pub mod custom_model;
pub mod damage;
pub mod odoo;
mod scratch;

// Each test crate uses some of the helpers only.
#[allow(unused_imports)]
pub use scratch::{Scratch, rules_file};

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

/// Advisory lock key held while templates are restored ("omtestrs").
const RESTORE_LOCK: i64 = 0x6f6d_7465_7374_7273;

/// What to set when the test server cannot be reached.
const SERVER_HINT: &str = "start PostgreSQL (bash .ci/run does) or point the tests at a server \
     with ODOO_MIGRATE_TEST_PG=postgres://USER:PASSWORD@HOST:PORT/postgres, or PGHOST, PGPORT, \
     PGUSER and PGPASSWORD; the role needs CREATEDB";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Every index of the public tables with its definition, in one line.
pub const INDEXES: &str = "SELECT md5(string_agg(indexname || ':' || indexdef, ',' ORDER BY indexname)) \
     FROM pg_indexes WHERE schemaname = 'public'";

/// [`INDEXES`] but for the indexes of the analytic plans' columns (`x_plan<id>_id`), which a run
/// adds as Odoo 19 does when a plan is created: a migrated target's, compared with a fresh one's.
pub const INDEXES_BUT_PLAN_COLUMNS: &str = "SELECT md5(string_agg(indexname || ':' || indexdef, ',' ORDER BY indexname)) \
     FROM pg_indexes WHERE schemaname = 'public' AND indexname !~ '__x_plan[0-9]+_id_index$'";

/// Which dump a database comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    Source,
    Target,
    /// The demo source a day of work later (`../shared/holdout/odoo16_flows.dump`): the same Odoo
    /// database, a newer snapshot.
    Flows,
    /// The wide pair's Odoo 16 (159 modules, demo data).
    WideSource,
    /// The wide pair's empty Odoo 19 (the same apps).
    WideTarget,
}

impl Dump {
    fn file(self) -> String {
        match self {
            Dump::Source | Dump::Target | Dump::Flows => std::env::var(self.file_variable())
                .unwrap_or_else(|_| {
                    match self {
                        Dump::Source => "odoo16_demo.dump",
                        Dump::Flows => "odoo16_flows.dump",
                        _ => "odoo19_empty.dump",
                    }
                    .to_string()
                }),
            Dump::WideSource => "odoo16_wide_demo.dump".to_string(),
            Dump::WideTarget => "odoo19_wide_empty.dump".to_string(),
        }
    }

    fn file_variable(self) -> &'static str {
        match self {
            Dump::Source => "ODOO_MIGRATE_SOURCE_DUMP",
            Dump::Target => "ODOO_MIGRATE_TARGET_DUMP",
            Dump::Flows => "ODOO_MIGRATE_FLOWS_DUMP",
            Dump::WideSource | Dump::WideTarget => "ODOO_MIGRATE_WIDE_DUMPS",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Dump::Source => "omt_tpl_src_",
            Dump::Target => "omt_tpl_tgt_",
            Dump::Flows => "omt_tpl_flw_",
            Dump::WideSource => "omt_tpl_wsrc_",
            Dump::WideTarget => "omt_tpl_wtgt_",
        }
    }

    fn side(self) -> &'static str {
        match self {
            Dump::Source | Dump::WideSource => "s",
            Dump::Target | Dump::WideTarget => "t",
            Dump::Flows => "f",
        }
    }

    /// The dump file this side is restored from.
    pub fn path(self) -> PathBuf {
        match self {
            // Beside the dumps' directory: `ODOO_MIGRATE_HOLDOUT` or `../shared/holdout`.
            Dump::Flows => holdout_dir().join(self.file()),
            Dump::Source | Dump::Target => dumps_dir().join(self.file()),
            Dump::WideSource | Dump::WideTarget => wide_dumps_dir().join(self.file()),
        }
    }
}

/// The checks of a full `verify` that are not applicable on the demo pair: the app checks of
/// apps its source does not have (they pass, comparing nothing), in name order.
pub const DEMO_NOT_APPLICABLE: [&str; 11] = [
    "applicants",
    "event-registrations",
    "expenses",
    "fleet",
    "landed-costs",
    "manufacturing",
    "manufacturing-valuation",
    "point-of-sale",
    "repairs",
    "time-off",
    "timesheets",
];

/// The directory of the wide pair: `ODOO_MIGRATE_WIDE_DUMPS`, else `../shared/odoo-dumps-wide`
/// next to the project.
pub fn wide_dumps_dir() -> PathBuf {
    std::env::var_os("ODOO_MIGRATE_WIDE_DUMPS")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/odoo-dumps-wide")
        })
}

/// The directory of the dumps: `ODOO_MIGRATE_DUMPS`, else `../shared/odoo-dumps` next to the project.
pub fn dumps_dir() -> PathBuf {
    std::env::var_os("ODOO_MIGRATE_DUMPS")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/odoo-dumps"))
}

/// The directory of the second source snapshot: `ODOO_MIGRATE_HOLDOUT`, else `../shared/holdout`.
pub fn holdout_dir() -> PathBuf {
    std::env::var_os("ODOO_MIGRATE_HOLDOUT")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/holdout"))
}

/// The admin connection settings, to the maintenance database.
pub fn admin_config() -> Config {
    let mut config = match std::env::var("ODOO_MIGRATE_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => Config::from_str(url.trim()).unwrap_or_else(|error| {
            panic!(
                "ODOO_MIGRATE_TEST_PG is not a valid libpq URL ({error}); \
                 example: postgres://postgres@127.0.0.1:5432/postgres"
            )
        }),
        _ => Config::new(),
    };
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        config.host(variable("PGHOST").unwrap_or_else(|| "127.0.0.1".into()));
    }
    if config.get_ports().is_empty() {
        let port = variable("PGPORT").map(|p| {
            p.parse::<u16>()
                .unwrap_or_else(|_| panic!("PGPORT={p} is not a port number"))
        });
        config.port(port.unwrap_or(5432));
    }
    if config.get_user().is_none() {
        config.user(variable("PGUSER").unwrap_or_else(|| "postgres".into()));
    }
    if config.get_password().is_none()
        && let Some(password) = variable("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_dbname().is_none() {
        config.dbname("postgres");
    }
    config.connect_timeout(Duration::from_secs(10));
    config.application_name("odoo-migrate-tests");
    config
}

/// The maintenance database the harness connects to for CREATE/DROP DATABASE.
pub fn maintenance_db() -> String {
    admin_config()
        .get_dbname()
        .unwrap_or("postgres")
        .to_string()
}

/// Where the test server is and who logs in: what [`admin_config`] says, with its defaults.
pub struct Server {
    /// A host name or address, or the directory of a Unix socket.
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
}

impl Server {
    /// Whether the server is reached through a Unix socket (its host is a directory).
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }
}

/// The test server, from `ODOO_MIGRATE_TEST_PG` and the `PG*` variables.
pub fn server() -> Server {
    let config = admin_config();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".to_string(),
    };
    Server {
        host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        user: config.get_user().unwrap_or("postgres").to_string(),
        password: config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// Percent-encodes what is not safe in a URL component.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A libpq URL to database `name` on the test server (usable by the binary), as the test role.
pub fn url(name: &str) -> String {
    let server = server();
    url_as(&server.user, server.password.as_deref(), name)
}

/// A libpq URL to database `name` on the test server as `user` with `password`: always with the
/// host and the port, so that the binary never falls back on a default of its own.
pub fn url_as(user: &str, password: Option<&str>, name: &str) -> String {
    let server = server();
    let login = match password {
        Some(password) => format!("{}:{}", encode(user), encode(password)),
        None => encode(user),
    };
    if server.is_socket() {
        format!(
            "postgres://{login}@/{}?host={}&port={}",
            encode(name),
            encode(&server.host),
            server.port
        )
    } else if server.host.contains(':') {
        format!(
            "postgres://{login}@[{}]:{}/{}",
            server.host,
            server.port,
            encode(name)
        )
    } else {
        format!(
            "postgres://{login}@{}:{}/{}",
            server.host,
            server.port,
            encode(name)
        )
    }
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Runs `work` on a fresh current-thread runtime in its own thread, so that it can be called from
/// plain tests as well as from inside `#[tokio::test]` tests.
pub fn block_on<F: std::future::Future + Send>(work: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        match scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime")
                    .block_on(work)
            })
            .join()
        {
            Ok(output) => output,
            // The harness thread's own panic message has been printed; carry it on.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Connects to `database` on the test server as the admin role (must be awaited inside a tokio
/// runtime); panics with what to set when the server cannot be reached.
pub async fn connect(database: &str) -> Client {
    let mut config = admin_config();
    config.dbname(database);
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|error| {
        let server = server();
        panic!(
            "cannot connect to database {database} on the test PostgreSQL server {}:{} as {} \
             ({}); {SERVER_HINT}",
            server.host,
            server.port,
            server.user,
            describe(&error)
        )
    });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Runs `sql` (one or more statements, simple query protocol) on the maintenance database as the
/// admin role; returns the first column of the first row it returns, as text. Panics on error.
pub fn admin(sql: &str) -> Option<String> {
    let sql = sql.to_string();
    block_on(async move {
        connect(&maintenance_db())
            .await
            .simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
            .into_iter()
            .find_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some(row.get(0).map(str::to_string))
                }
                _ => None,
            })
            .flatten()
    })
}

/// Whether the test server accepts a connection from the admin role right now.
pub fn server_answers() -> bool {
    block_on(async {
        match admin_config().connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client.simple_query("SELECT 1").await.is_ok()
            }
            Err(_) => false,
        }
    })
}

/// A PostgreSQL error with its cause (the server's message, or the I/O error).
pub fn describe(error: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match (error.as_db_error(), error.source()) {
        (Some(db), _) => format!("{error}: {}", db.message()),
        (None, Some(source)) => format!("{error}: {source}"),
        (None, None) => error.to_string(),
    }
}

/// The first 12 hex digits of the SHA-256 of the dump file.
fn checksum(dump: Dump) -> String {
    let path = dump.path();
    let bytes = std::fs::read(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the test dump {} ({error}); set ODOO_MIGRATE_DUMPS to the directory \
             holding odoo16_demo.dump and odoo19_empty.dump (or name other files in it with \
             ODOO_MIGRATE_SOURCE_DUMP / ODOO_MIGRATE_TARGET_DUMP); {} is {}",
            path.display(),
            dump.file_variable(),
            std::env::var(dump.file_variable()).unwrap_or_else(|_| "not set".into()),
        )
    });
    Sha256::digest(&bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// pg_restore from PATH, else the newest one in /usr/lib/postgresql/*/bin.
fn pg_restore() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pg_restore"))
            .find(|p| p.is_file())
    });
    if let Some(path) = on_path {
        return path;
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let path = entry.path().join("bin/pg_restore");
            path.is_file().then_some((version, path))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, path)| path).unwrap_or_else(|| {
        panic!(
            "pg_restore not found on PATH nor in /usr/lib/postgresql/*/bin: install the \
             PostgreSQL client (apt-get install postgresql-client; bash .ci/run does)"
        )
    })
}

async fn database_exists(admin: &Client, name: &str) -> bool {
    admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("query pg_database")
        .is_some()
}

/// The template database of a dump, restored when it does not exist yet. Computed once per process.
pub fn template(dump: Dump) -> String {
    static TEMPLATES: [OnceLock<String>; 5] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let slot = match dump {
        Dump::Source => &TEMPLATES[0],
        Dump::Target => &TEMPLATES[1],
        Dump::Flows => &TEMPLATES[2],
        Dump::WideSource => &TEMPLATES[3],
        Dump::WideTarget => &TEMPLATES[4],
    };
    slot.get_or_init(|| prepare_template(dump)).clone()
}

fn prepare_template(dump: Dump) -> String {
    let name = format!("{}{}", dump.prefix(), checksum(dump));
    let template = name.clone();
    block_on(async move {
        let admin = connect(&maintenance_db()).await;
        // Session-level: released by the unlock below, or by the server when this connection
        // ends (a panic included).
        admin
            .execute("SELECT pg_advisory_lock($1)", &[&RESTORE_LOCK])
            .await
            .expect("take the template advisory lock");
        if !database_exists(&admin, &template).await {
            restore(&admin, dump, &template).await;
        }
        let flags = admin
            .query_one(
                "SELECT datistemplate AND NOT datallowconn FROM pg_database WHERE datname = $1",
                &[&template],
            )
            .await
            .expect("read the template's flags");
        if !flags.get::<_, bool>(0) {
            // Nobody can connect to it, so CREATE DATABASE … TEMPLATE never finds it in use.
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
                    ident(&template)
                ))
                .await
                .expect("mark the template");
        }
        admin
            .execute("SELECT pg_advisory_unlock($1)", &[&RESTORE_LOCK])
            .await
            .expect("release the template advisory lock");
    });
    name
}

/// Restores the dump into `<template>_loading`, renames it to `template`, and drops the templates
/// of older versions of the dump. Runs under the advisory lock.
async fn restore(admin: &Client, dump: Dump, template: &str) {
    let path = dump.path();
    let loading = format!("{template}_loading");
    // One statement per call: several would make one transaction, where these cannot run.
    for statement in [
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&loading)),
        format!("CREATE DATABASE {} TEMPLATE template0", ident(&loading)),
    ] {
        admin
            .batch_execute(&statement)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error:?}"));
    }
    let server = server();
    let mut command = Command::new(pg_restore());
    command
        .args(["--no-owner", "--no-acl", "-h", &server.host])
        .args(["-p", &server.port.to_string(), "-U", &server.user])
        .args(["-d", &loading])
        .arg(&path)
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGDATABASE")
        .env_remove("PGSERVICE");
    match &server.password {
        Some(password) => command.env("PGPASSWORD", password),
        None => command.env_remove("PGPASSWORD"),
    };
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {:?}: {error}", command.get_program()));
    assert!(
        output.status.success(),
        "pg_restore of {} into {loading} failed ({}):\n{}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} RENAME TO {}",
            ident(&loading),
            ident(template)
        ))
        .await
        .unwrap_or_else(|error| panic!("cannot rename {loading} to {template}: {error:?}"));
    // Templates of older versions of this dump are no longer used.
    let prefix = dump.prefix();
    let old: Vec<String> = admin
        .query(
            "SELECT datname::text FROM pg_database \
             WHERE left(datname, length($1)) = $1 AND datname <> $2",
            &[&prefix, &template],
        )
        .await
        .expect("list old templates")
        .iter()
        .map(|row| row.get(0))
        .collect();
    for old in old {
        let _ = admin
            .batch_execute(&format!(
                "ALTER DATABASE {} WITH IS_TEMPLATE false",
                ident(&old)
            ))
            .await;
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident(&old)
            ))
            .await;
    }
}

/// The copy name for `test`: lowercase, at most 63 bytes, unique per process and call.
fn copy_name(dump: Dump, test: &str) -> String {
    let mut label: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    label.truncate(30);
    // omt_ (4) + label (≤ 30) + _s_ (3) + pid (≤ 10) + _ (1) + counter (≤ 10) = 58 at most.
    format!(
        "omt_{label}_{}_{}_{}",
        dump.side(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Creates a database from `template` under a name from `name` (called again when the name is
/// taken), waiting while a session is on the template; returns the name.
fn create_copy(template: &str, name: impl Fn() -> String + Sync) -> String {
    block_on(async {
        let admin = connect(&maintenance_db()).await;
        let mut attempts = 0;
        loop {
            let name = name();
            let created = admin
                .batch_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    ident(&name),
                    ident(template)
                ))
                .await;
            let error = match created {
                Ok(()) => break name,
                Err(error) => error,
            };
            attempts += 1;
            let state = error.code().map(|c| c.code().to_string());
            match state.as_deref() {
                // A leftover of a killed process that had the same pid: take the next name.
                Some("42P04") if attempts < 100 => {}
                // The template in use (a session on it): wait for it to go away.
                Some("55006") if attempts < 150 => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => panic!("cannot copy template {template} into {name}: {error:?}"),
            }
        }
    })
}

/// A database copied from a template, dropped (with `WITH (FORCE)`) when this value is dropped.
pub struct Database {
    pub name: String,
}

impl Database {
    /// A fresh copy of the dump's template, named after the test (e.g. a pristine target to
    /// compare with).
    pub fn copy_of(dump: Dump, test: &str) -> Database {
        let template = template(dump);
        Database {
            name: create_copy(&template, || copy_name(dump, test)),
        }
    }

    /// A copy of this database as it is now (`CREATE DATABASE … TEMPLATE`), named after the test
    /// like a target copy: e.g. one migrated target damaged in several ways, one copy each. No
    /// session may be open on this database meanwhile (the harness opens one per query).
    pub fn copy(&self, test: &str) -> Database {
        Database {
            name: create_copy(&self.name, || copy_name(Dump::Target, test)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A libpq URL to this database, usable by the binary.
    pub fn url(&self) -> String {
        url(&self.name)
    }

    /// A connection to this database (inside a tokio runtime).
    pub async fn client(&self) -> Client {
        connect(&self.name).await
    }

    /// First column of the first row of `sql`, as text.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        let name = self.name.clone();
        let sql = sql.to_string();
        block_on(async move {
            let client = connect(&name).await;
            let row = client
                .query_one(&format!("SELECT ({sql})::text"), &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            row.get::<_, Option<String>>(0)
        })
    }

    /// Same as [`Database::scalar`].
    pub fn query_scalar(&self, sql: &str) -> Option<String> {
        self.scalar(sql)
    }

    /// Every row of `sql`, each column as text (NULL as `None`).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let name = self.name.clone();
        let sql = sql.to_string();
        block_on(async move {
            let client = connect(&name).await;
            // The simple query protocol returns every value as text.
            let messages = client
                .simple_query(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            messages
                .into_iter()
                .filter_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    }

    /// The number of rows of `sql` (-1 when it cannot be read).
    pub fn count(&self, sql: &str) -> i64 {
        self.scalar(&format!("SELECT count(*) FROM ({sql}) q"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    }

    /// Runs `sql` (several statements allowed); panics on error.
    pub fn execute(&self, sql: &str) {
        let name = self.name.clone();
        let sql = sql.to_string();
        block_on(async move {
            connect(&name)
                .await
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        })
    }

    /// The first column of every row of `sql`, as text (NULL is refused: filter it out).
    pub fn column(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .next()
                    .flatten()
                    .unwrap_or_else(|| panic!("{sql}: a NULL or no column"))
            })
            .collect()
    }

    /// Every row of `sql` keyed by its first column (an id), the other columns as text.
    pub fn rows_by_id(&self, sql: &str) -> HashMap<i32, Vec<Option<String>>> {
        self.rows(sql)
            .into_iter()
            .map(|mut row| {
                let id = row
                    .remove(0)
                    .and_then(|id| id.parse().ok())
                    .unwrap_or_else(|| panic!("{sql}: the first column is not an id"));
                (id, row)
            })
            .collect()
    }

    /// The tool's mappings of `model` in this target: source id → (target id, how).
    pub fn id_map_how(&self, model: &str) -> HashMap<i32, (i32, String)> {
        let name = self.name.clone();
        let model = model.to_string();
        block_on(async move {
            connect(&name)
                .await
                .query(
                    "SELECT source_id, target_id, how FROM odoo_migrate.id_map WHERE model = $1",
                    &[&model],
                )
                .await
                .unwrap_or_else(|e| panic!("id_map of {model}: {}", describe(&e)))
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect()
        })
    }

    /// The tool's mappings of `model` in this target: source id → target id.
    pub fn id_map(&self, model: &str) -> HashMap<i32, i32> {
        self.id_map_how(model)
            .into_iter()
            .map(|(source, (target, _))| (source, target))
            .collect()
    }

    /// Asserts that every table of the public schema holds the same rows here as in `pristine`
    /// and every sequence is where it was (by [`Database::state_digests`]), naming the tables and
    /// sequences that differ.
    pub fn assert_same_tables_as(&self, pristine: &Database) {
        let differing = differing_tables(&pristine.state_digests(), &self.state_digests());
        assert!(
            differing.is_empty(),
            "tables and sequences differing from the pristine target: {differing:?}"
        );
    }

    /// Every sequence of the public schema, by name, with its state as `last_value:is_called`
    /// (what the next `nextval` depends on).
    pub fn sequence_states(&self) -> std::collections::BTreeMap<String, String> {
        self.rows(
            "SELECT c.relname, (xpath('/row/l/text()', x))[1]::text || ':' || \
             (xpath('/row/c/text()', x))[1]::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
             CROSS JOIN LATERAL query_to_xml(format('SELECT last_value AS l, is_called AS c \
             FROM public.%I', c.relname), false, true, '') AS x WHERE c.relkind = 'S'",
        )
        .into_iter()
        .map(|row| {
            let mut row = row.into_iter();
            let name = row.next().flatten().expect("a sequence name");
            (name, row.next().flatten().expect("a sequence state"))
        })
        .collect()
    }

    /// [`Database::table_digests`] and [`Database::sequence_states`] in one map, sequences keyed
    /// `sequence NAME`: what a run, a resumed run or a rollback must leave as expected.
    pub fn state_digests(&self) -> std::collections::BTreeMap<String, String> {
        let mut digests = self.table_digests();
        digests.extend(
            self.sequence_states()
                .into_iter()
                .map(|(name, state)| (format!("sequence {name}"), state)),
        );
        digests
    }

    /// Row counts of every table of the public schema, by table name.
    pub fn table_counts(&self) -> std::collections::BTreeMap<String, i64> {
        let tables = self
            .column("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
        if tables.is_empty() {
            return Default::default();
        }
        let sql = tables
            .iter()
            .map(|t| {
                format!(
                    "SELECT {}::text, count(*) FROM public.{}",
                    literal(t),
                    ident(t)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        self.rows(&sql)
            .into_iter()
            .map(|row| {
                let mut row = row.into_iter().flatten();
                let table = row.next().expect("a table name");
                let count = row.next().and_then(|c| c.parse().ok()).expect("a count");
                (table, count)
            })
            .collect()
    }

    /// Document numbering that would give a name already taken: for every `ir_sequence` that
    /// numbers transfers (through a picking type), sale orders or purchase orders, the next number
    /// it hands out (its PostgreSQL sequence for `standard`, `number_next` for `no_gap`) must be
    /// past the highest number among the names of that table with its prefix. Returns how many
    /// numberings were checked and the collisions, each naming sequence, prefix and numbers.
    pub fn numbering_collisions(&self) -> (usize, Vec<String>) {
        let numberings = self.rows(
            "SELECT s.id, coalesce(s.prefix, ''), coalesce(s.suffix, ''), s.implementation, \
             s.number_next, coalesce(s.number_increment, 1), d.tab, \
             to_regclass('public.ir_sequence_' || CASE WHEN s.id < 100 THEN lpad(s.id::text, 3, '0') \
             ELSE s.id::text END) IS NOT NULL \
             FROM ir_sequence s JOIN ( \
             SELECT DISTINCT sequence_id AS id, 'stock_picking' AS tab FROM stock_picking_type \
             WHERE sequence_id IS NOT NULL \
             UNION SELECT id, 'sale_order' FROM ir_sequence WHERE code = 'sale.order' \
             UNION SELECT id, 'purchase_order' FROM ir_sequence WHERE code = 'purchase.order' \
             ) d ON d.id = s.id WHERE NOT coalesce(s.use_date_range, false) ORDER BY s.id",
        );
        let mut problems = Vec::new();
        for row in &numberings {
            let text = |i: usize| row[i].clone().unwrap_or_default();
            let (id, prefix, suffix, implementation, table) =
                (text(0), text(1), text(2), text(3), text(6));
            let number_next: i64 = text(4).parse().expect("number_next");
            let increment: i64 = text(5).parse().expect("number_increment");
            let next = if implementation != "standard" {
                number_next
            } else if text(7) == "t" {
                let state = self
                    .scalar(&format!(
                        "SELECT last_value || ':' || is_called FROM public.{}",
                        ident(&format!("ir_sequence_{id:0>3}"))
                    ))
                    .expect("a sequence state");
                let (last, called) = state.split_once(':').expect("last_value:is_called");
                let last: i64 = last.parse().expect("last_value");
                if called == "true" {
                    last + increment
                } else {
                    last
                }
            } else {
                problems.push(format!(
                    "ir_sequence {id} ({prefix}) has no PostgreSQL sequence"
                ));
                continue;
            };
            let highest: i64 = self
                .scalar(&format!(
                    "SELECT coalesce(max(substr(name, {start}, length(name) - {start} - {suffix_len} + 1)::bigint), 0) \
                     FROM public.{table} WHERE starts_with(name, {prefix_literal}) \
                     AND right(name, {suffix_len}) = {suffix_literal} \
                     AND substr(name, {start}, length(name) - {start} - {suffix_len} + 1) ~ '^[0-9]+$'",
                    start = prefix.chars().count() + 1,
                    suffix_len = suffix.chars().count(),
                    table = ident(&table),
                    prefix_literal = literal(&prefix),
                    suffix_literal = literal(&suffix),
                ))
                .and_then(|v| v.parse().ok())
                .expect("highest number");
            if next <= highest {
                problems.push(format!(
                    "ir_sequence {id} ({prefix}…{suffix}, {table}) would give number {next}, \
                     but {table} already has number {highest} with that prefix"
                ));
            }
        }
        (numberings.len(), problems)
    }

    /// Whether the tool's side schema `odoo_migrate` exists in this database.
    pub fn has_side_schema(&self) -> bool {
        self.count("SELECT 1 FROM pg_namespace WHERE nspname = 'odoo_migrate'") != 0
    }

    /// An MD5 digest of every row of every table of the public schema, by table name.
    pub fn table_digests(&self) -> std::collections::BTreeMap<String, String> {
        let name = self.name.clone();
        block_on(async move {
            let client = connect(&name).await;
            let tables: Vec<String> = client
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
                    &[],
                )
                .await
                .expect("list tables")
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut digests = std::collections::BTreeMap::new();
            for table in tables {
                let digest: String = client
                    .query_one(
                        &format!(
                            "SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) \
                             FROM (SELECT md5(x::text) AS h FROM public.{} x) q",
                            ident(&table)
                        ),
                        &[],
                    )
                    .await
                    .expect("table digest")
                    .get(0);
                digests.insert(table, digest);
            }
            digests
        })
    }
}

/// Whether a database of that name exists on the test server.
pub fn database_exists_named(name: &str) -> bool {
    let name = name.to_string();
    block_on(async move {
        let admin = connect(&maintenance_db()).await;
        database_exists(&admin, &name).await
    })
}

impl Drop for Database {
    fn drop(&mut self) {
        // Never panics (it may run while a failed test unwinds): in a thread of its own, with its
        // own runtime, so that it works inside and outside a tokio runtime.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let (client, connection) = admin_config()
                    .connect(NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        ident(&name)
                    ))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                eprintln!("warning: test database {} not dropped: {error}", self.name)
            }
            Err(_) => eprintln!("warning: test database {} not dropped", self.name),
        }
    }
}

/// A source (Odoo 16) and a target (Odoo 19) database for one test, both fresh copies.
pub struct DatabasePair {
    pub source: Database,
    pub target: Database,
}

impl DatabasePair {
    /// Copies both templates (restoring them first if needed), at the same time.
    pub fn new(test: &str) -> DatabasePair {
        Self::of(Dump::Source, Dump::Target, test)
    }

    /// A fresh copy of the wide pair (the apps real companies run).
    pub fn wide(test: &str) -> DatabasePair {
        Self::of(Dump::WideSource, Dump::WideTarget, test)
    }

    fn of(source: Dump, target: Dump, test: &str) -> DatabasePair {
        let (source, target) = std::thread::scope(|scope| {
            let source = scope.spawn(|| Database::copy_of(source, test));
            let target = Database::copy_of(target, test);
            let source = source
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (source, target)
        });
        DatabasePair { source, target }
    }

    pub fn source_name(&self) -> &str {
        &self.source.name
    }

    pub fn target_name(&self) -> &str {
        &self.target.name
    }

    pub fn source_url(&self) -> String {
        self.source.url()
    }

    pub fn target_url(&self) -> String {
        self.target.url()
    }

    pub async fn source_client(&self) -> Client {
        self.source.client().await
    }

    pub async fn target_client(&self) -> Client {
        self.target.client().await
    }

    /// `--source` and `--target` of this pair, then `args`: the arguments of one call of the binary.
    pub fn args(&self, args: &[&str]) -> Vec<String> {
        [
            "--source",
            &self.source.url(),
            "--target",
            &self.target.url(),
        ]
        .into_iter()
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect()
    }

    /// Runs the binary with `--source` and `--target` of this pair before `args`.
    pub fn run(&self, args: &[&str]) -> Outcome {
        self.run_with(args, &[])
    }

    /// [`DatabasePair::run`] with extra environment variables (see [`odoo_migrate`]).
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let all = self.args(args);
        odoo_migrate(&all.iter().map(String::as_str).collect::<Vec<_>>(), env)
    }

    /// Runs `run`, then `verify`, and asserts that both exit 0.
    pub fn run_and_verify(&self) {
        self.run(&["run"]).assert_code(0);
        self.run(&["verify"]).assert_code(0);
    }
}

/// Runs the binary from `source` to `target` (any URLs: another role, a password) with `args`
/// after them, and extra environment variables `env` (see [`odoo_migrate`]).
pub fn migrate(source: &str, target: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut all = vec!["--source", source, "--target", target];
    all.extend_from_slice(args);
    odoo_migrate(&all, env)
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} instead of {code}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Asserts that the standard error holds `text`.
    pub fn assert_stderr_contains(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "expected {text:?} in stderr:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts that the standard output holds `text`.
    pub fn assert_stdout_contains(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} in stdout:\n{}",
            self.stdout
        );
        self
    }
}

impl From<Outcome> for (i32, String, String) {
    fn from(outcome: Outcome) -> Self {
        (outcome.code, outcome.stdout, outcome.stderr)
    }
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Self {
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `program` with the environment the binary gets in the tests: the caller's ODOO_MIGRATE_SOURCE,
/// ODOO_MIGRATE_TARGET and ODOO_MIGRATE_FAULT removed, NO_COLOR set.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env_remove("ODOO_MIGRATE_SOURCE")
        .env_remove("ODOO_MIGRATE_TARGET")
        .env_remove("ODOO_MIGRATE_FAULT")
        // the judge runs where a test asks for it, not because the developer's shell names an Odoo
        .env_remove("ODOO_MIGRATE_ODOO_BIN")
        .env_remove("ODOO_MIGRATE_ODOO_PYTHON")
        .env("NO_COLOR", "1");
    command
}

/// The path of the binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_odoo-migrate");

/// Runs the real binary with `args` and extra environment variables `env`. The caller's
/// ODOO_MIGRATE_SOURCE, ODOO_MIGRATE_TARGET and ODOO_MIGRATE_FAULT are not inherited (give them in
/// `env` when wanted); NO_COLOR is set. The exit code is -1 when a signal ended the process.
pub fn odoo_migrate(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    clean_command(BINARY)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run odoo-migrate")
        .into()
}

/// Starts a run that pauses at `point`, waits until it says so, lets `act` do its harm, and
/// returns the run's exit code.
pub fn run_and_act_while_paused(
    pair: &DatabasePair,
    chunk: &str,
    point: &str,
    act: impl FnOnce(u32),
) -> i32 {
    use std::io::{BufRead, BufReader};
    let mut child = clean_command(BINARY)
        .args(pair.args(&["run", "--chunk-size", chunk]))
        .env("ODOO_MIGRATE_PAUSE", point)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start odoo-migrate");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        let paused = line.starts_with("paused at");
        seen.push(line);
        if paused {
            act(child.id());
            break;
        }
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait for odoo-migrate");
    assert!(
        seen.iter().any(|l| l.starts_with("paused at")),
        "the run never reached {point}: {seen:?} {rest:?}"
    );
    status.code().unwrap_or(-1)
}

/// Tables whose digest differs between two `table_digests` (or that one side lacks).
pub fn differing_tables(
    expected: &std::collections::BTreeMap<String, String>,
    actual: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    expected
        .iter()
        .filter(|(table, digest)| actual.get(*table) != Some(digest))
        .map(|(table, _)| table.clone())
        .chain(
            actual
                .keys()
                .filter(|t| !expected.contains_key(*t))
                .cloned(),
        )
        .collect()
}
