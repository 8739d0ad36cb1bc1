//! The test harness on real databases: restores the Odoo dumps once into template databases
//! (again only when a dump's checksum changes), gives each test fresh copies made with
//! `CREATE DATABASE … TEMPLATE …` and drops them afterwards, and runs the real binary.
//!
//! Settings: `ODOO_MIGRATE_TEST_PG` (a libpq URL to the maintenance database) or the PG*
//! variables, default `postgres://postgres@127.0.0.1:5432/postgres`; `ODOO_MIGRATE_DUMPS`, the
//! directory of `odoo16_demo.dump` and `odoo19_empty.dump`, default `../shared/odoo-dumps`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sha2::{Digest, Sha256};
use tokio_postgres::{Client, Config, NoTls};

/// Advisory lock key held while templates are restored ("omtestrs").
const RESTORE_LOCK: i64 = 0x6f6d_7465_7374_7273;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Which dump a database comes from.
#[derive(Debug, Clone, Copy)]
pub enum Dump {
    Source,
    Target,
}

impl Dump {
    fn file(self) -> String {
        match self {
            Dump::Source => std::env::var("ODOO_MIGRATE_SOURCE_DUMP")
                .unwrap_or_else(|_| "odoo16_demo.dump".to_string()),
            Dump::Target => std::env::var("ODOO_MIGRATE_TARGET_DUMP")
                .unwrap_or_else(|_| "odoo19_empty.dump".to_string()),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Dump::Source => "omt_tpl_src_",
            Dump::Target => "omt_tpl_tgt_",
        }
    }
}

pub fn dumps_dir() -> PathBuf {
    std::env::var_os("ODOO_MIGRATE_DUMPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/odoo-dumps"))
}

/// The admin connection settings.
pub fn admin_config() -> Config {
    if let Ok(url) = std::env::var("ODOO_MIGRATE_TEST_PG") {
        return Config::from_str(&url).expect("ODOO_MIGRATE_TEST_PG is not a valid libpq URL");
    }
    let mut config = Config::new();
    config.host(std::env::var("PGHOST").unwrap_or_else(|_| "127.0.0.1".into()));
    config.port(
        std::env::var("PGPORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(5432),
    );
    config.user(std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into()));
    if let Ok(password) = std::env::var("PGPASSWORD") {
        config.password(password);
    }
    config.dbname("postgres");
    config
}

fn host_port_user() -> (String, u16, String, Option<String>) {
    let config = admin_config();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_string();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    (host, port, user, password)
}

/// A libpq URL to database `name` on the test server.
pub fn url(name: &str) -> String {
    let (host, port, user, password) = host_port_user();
    match password {
        Some(password) => format!("postgres://{user}:{password}@{host}:{port}/{name}"),
        None => format!("postgres://{user}@{host}:{port}/{name}"),
    }
}

/// Runs `work` on a fresh current-thread runtime (usable from sync code and from inside tests).
pub fn block_on<F: std::future::Future + Send>(work: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime")
                    .block_on(work)
            })
            .join()
            .expect("harness thread panicked")
    })
}

pub async fn connect(database: &str) -> Client {
    let mut config = admin_config();
    config.dbname(database);
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|error| {
        panic!(
            "cannot connect to the test PostgreSQL server ({error}); start it (bash .ci/run does) \
             or point ODOO_MIGRATE_TEST_PG / PGHOST, PGPORT, PGUSER at one"
        )
    });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn checksum(path: &PathBuf) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|error| {
        panic!(
            "cannot read the dump {} ({error}); set ODOO_MIGRATE_DUMPS to the directory of odoo16_demo.dump and odoo19_empty.dump",
            path.display()
        )
    });
    let digest = Sha256::digest(&bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn pg_restore() -> PathBuf {
    if let Ok(path) = which("pg_restore") {
        return path;
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/pg_restore"))
        .filter(|p| p.exists())
        .collect();
    candidates.sort();
    candidates
        .pop()
        .expect("pg_restore not found: install the PostgreSQL client (bash .ci/run does)")
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

async fn database_exists(admin: &Client, name: &str) -> bool {
    admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .expect("query pg_database")
        .is_some()
}

/// The template database of a dump, restored if needed.
pub fn template(dump: Dump) -> String {
    let path = dumps_dir().join(dump.file());
    let name = format!("{}{}", dump.prefix(), checksum(&path));
    block_on(async {
        let admin = connect("postgres").await;
        if database_exists(&admin, &name).await {
            return;
        }
        admin
            .execute("SELECT pg_advisory_lock($1)", &[&RESTORE_LOCK])
            .await
            .expect("advisory lock");
        if !database_exists(&admin, &name).await {
            let loading = format!("{name}_loading");
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {loading} WITH (FORCE)"))
                .await
                .expect("drop a half-restored template");
            admin
                .batch_execute(&format!("CREATE DATABASE {loading}"))
                .await
                .expect("create template database");
            let (host, port, user, password) = host_port_user();
            let mut command = Command::new(pg_restore());
            command
                .args([
                    "--no-owner",
                    "--no-acl",
                    "-h",
                    &host,
                    "-p",
                    &port.to_string(),
                ])
                .args(["-U", &user, "-d", &loading])
                .arg(&path);
            if let Some(password) = password {
                command.env("PGPASSWORD", password);
            }
            let output = command.output().expect("run pg_restore");
            assert!(
                output.status.success(),
                "pg_restore of {} failed: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            admin
                .batch_execute(&format!("ALTER DATABASE {loading} RENAME TO {name}"))
                .await
                .expect("rename the restored template");
            // Templates of older dumps are no longer used.
            for row in admin
                .query(
                    "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
                    &[&format!("{}%", dump.prefix()), &name],
                )
                .await
                .expect("list templates")
            {
                let old: String = row.get(0);
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
                    .await;
            }
        }
        admin
            .execute("SELECT pg_advisory_unlock($1)", &[&RESTORE_LOCK])
            .await
            .expect("advisory unlock");
    });
    name
}

/// A database copied from a template, dropped when this value is dropped.
pub struct Database {
    pub name: String,
}

impl Database {
    /// A fresh copy of the dump's template, named after the test.
    pub fn copy_of(dump: Dump, test: &str) -> Database {
        let template = template(dump);
        let side = match dump {
            Dump::Source => "s",
            Dump::Target => "t",
        };
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
        let name = format!(
            "omt_{label}_{side}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        block_on(async {
            let admin = connect("postgres").await;
            // A template being cloned must have no other session; retry while another test's
            // clone of the same template is under way.
            let mut attempts = 0;
            loop {
                match admin
                    .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .await
                {
                    Ok(()) => break,
                    Err(error) if attempts < 50 => {
                        attempts += 1;
                        let _ = error;
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    Err(error) => panic!("cannot copy template {template}: {error}"),
                }
            }
        });
        Database { name }
    }

    pub fn url(&self) -> String {
        url(&self.name)
    }

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

    pub fn count(&self, sql: &str) -> i64 {
        self.scalar(&format!("SELECT count(*) FROM ({sql}) q"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    }

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
                             FROM (SELECT md5(x::text) AS h FROM public.\"{}\" x) q",
                            table.replace('"', "\"\"")
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

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        block_on(async move {
            let admin = connect("postgres").await;
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        });
    }
}

/// A source and a target for one test.
pub struct DatabasePair {
    pub source: Database,
    pub target: Database,
}

impl DatabasePair {
    pub fn new(test: &str) -> DatabasePair {
        DatabasePair {
            source: Database::copy_of(Dump::Source, test),
            target: Database::copy_of(Dump::Target, test),
        }
    }

    /// Runs the binary with `--source` and `--target` of this pair before `args`.
    pub fn run(&self, args: &[&str]) -> Outcome {
        let mut all = vec![
            "--source".to_string(),
            self.source.url(),
            "--target".to_string(),
            self.target.url(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        odoo_migrate(&all.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    }
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
}

/// Runs the real binary with `args` and extra environment variables; the caller's
/// ODOO_MIGRATE_SOURCE/TARGET are not inherited.
pub fn odoo_migrate(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_odoo-migrate"))
        .args(args)
        .env_remove("ODOO_MIGRATE_SOURCE")
        .env_remove("ODOO_MIGRATE_TARGET")
        .env_remove("ODOO_MIGRATE_FAULT")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run odoo-migrate");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
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
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_odoo-migrate"))
        .args([
            "--source",
            &pair.source.url(),
            "--target",
            &pair.target.url(),
            "run",
            "--chunk-size",
            chunk,
        ])
        .env("ODOO_MIGRATE_PAUSE", point)
        .env_remove("ODOO_MIGRATE_FAULT")
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
