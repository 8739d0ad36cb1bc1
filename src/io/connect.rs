//! Connections to the source and target databases: parsing the libpq-style settings, redacting them
//! for display, opening pools, and turning connection failures into one-line errors that say what to do.
//!
//! The source is always opened with `default_transaction_read_only = on`: the tool never writes to it,
//! and PostgreSQL enforces that promise rather than our discipline alone.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::Host;
use tokio_postgres::{Config, NoTls};

use crate::io::exit::{Status, refuse};

/// Which of the two databases a connection goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// Parsed connection settings of one side, with a redacted form for anything shown to a person.
#[derive(Clone)]
pub struct Endpoint {
    pub side: Side,
    config: Config,
}

impl Endpoint {
    /// Parses a `postgres://user:pw@host:port/db` URL or a `key=value` libpq string.
    /// Parts the URL leaves out come from the usual PG* environment variables, then from defaults
    /// (127.0.0.1, 5432, the login of the current user).
    pub fn parse(side: Side, text: &str) -> Result<Endpoint> {
        let environment_port = std::env::var("PGPORT")
            .ok()
            .filter(|port| port.parse::<u16>().is_ok());
        let text = match &environment_port {
            Some(port) => with_default_port(text, port),
            None => text.to_string(),
        };
        let mut config = Config::from_str(&text).map_err(|error| {
            refuse(
                Status::Usage,
                format!(
                    "the {} connection string is not valid ({error}); give it as postgres://user@host:port/database (user:password@ when a password is needed)",
                    side.label()
                ),
            )
        })?;
        apply_environment_defaults(&mut config);
        if config.get_dbname().is_none() {
            return Err(refuse(
                Status::Usage,
                format!(
                    "the {} connection string names no database; add it: postgres://user@host:port/DATABASE",
                    side.label()
                ),
            ));
        }
        config.application_name("odoo-migrate");
        config.connect_timeout(Duration::from_secs(10));
        config.keepalives_idle(Duration::from_secs(30));
        // A server- or database-wide statement timeout must not cut a long COPY short; waiting for
        // a lock held by someone else has a bound, so that a busy table is named, not waited on
        // forever.
        let lock_timeout = std::env::var("ODOO_MIGRATE_LOCK_TIMEOUT")
            .ok()
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| "60s".to_string());
        // JIT compiles each chunk's query again, for statements that stream rather than compute.
        let mut options =
            format!("-c statement_timeout=0 -c lock_timeout={lock_timeout} -c jit=off");
        if side == Side::Source {
            options.push_str(" -c default_transaction_read_only=on");
        }
        config.options(&options);
        Ok(Endpoint { side, config })
    }

    pub fn database(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// Host, port and database, enough to tell whether two endpoints are the same database.
    pub fn identity(&self) -> String {
        format!("{}:{}/{}", self.host(), self.port(), self.database())
    }

    /// The host (or Unix socket directory), port, user and password, for programs that take them
    /// apart (`odoo-bin --db_host --db_port -r -w`).
    pub fn parts(&self) -> (String, u16, String, Option<String>) {
        let user = self.config.get_user().unwrap_or("").to_string();
        let password = self
            .config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        (self.host(), self.port(), user, password)
    }

    fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "127.0.0.1".to_string(),
        }
    }

    fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    /// Opens a pool of at most `size` connections and checks that one connection works.
    pub async fn pool(&self, size: usize) -> Result<Pool> {
        let manager = Manager::from_config(
            self.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .build()
            .with_context(|| format!("cannot set up the {} connection pool", self.side.label()))?;
        drop(pool.get().await.map_err(|error| self.explain(error))?);
        Ok(pool)
    }

    /// One connection outside any pool, for work that holds a session (locks, COPY).
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|error| self.explain(deadpool_postgres::PoolError::Backend(error)))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
        Ok(client)
    }

    /// Turns a failed connection attempt into a one-line error naming the database and what to do.
    fn explain(&self, error: deadpool_postgres::PoolError) -> anyhow::Error {
        let side = self.side.label();
        let place = self.to_string();
        let backend = match &error {
            deadpool_postgres::PoolError::Backend(backend) => Some(backend),
            _ => None,
        };
        let code = backend
            .and_then(|e| e.as_db_error())
            .map(|db| db.code().code().to_string());
        let message = match code.as_deref() {
            Some("28P01") | Some("28000") => format!(
                "the {side} database {place} refused the login: wrong user or password; check the {side} connection string"
            ),
            Some("3D000") => format!(
                "the {side} database {place} does not exist; restore it or correct the database name"
            ),
            Some("42501") => format!(
                "the {side} role may not connect to {place}: permission denied; grant CONNECT or use another role"
            ),
            Some("57P03") => format!(
                "the {side} server at {place} is starting up or shutting down; try again in a moment"
            ),
            Some(other) => format!(
                "the {side} database {place} refused the connection (SQLSTATE {other}): {}",
                backend
                    .and_then(|e| e.as_db_error())
                    .map_or(String::new(), |db| db.message().to_string())
            ),
            None => format!(
                "cannot reach the {side} database {place}: {}; is the server running and the host and port right?",
                root_cause(&error)
            ),
        };
        refuse(Status::Connection, message)
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The redacted form: user, host, port and database, never the password.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.config.get_user().unwrap_or("");
        write!(
            f,
            "postgres://{user}@{}:{}/{}",
            self.host(),
            self.port(),
            self.database()
        )
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({}: {self})", self.side.label())
    }
}

/// The URL with `port` after each of its hosts that names none: libpq's rule that `PGPORT` fills
/// what the URL leaves out, where tokio-postgres would put 5432. Key=value strings and URLs
/// without a host or with a `port` parameter are left as they are (the environment fills them
/// later, or they name their port).
fn with_default_port(text: &str, port: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    if !matches!(scheme, "postgres" | "postgresql") {
        return text.to_string();
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let query = tail.split_once('?').map_or("", |(_, query)| query);
    if hosts.is_empty() || query.split('&').any(|pair| pair.starts_with("port=")) {
        return text.to_string();
    }
    let hosts: Vec<String> = hosts
        .split(',')
        .map(|chunk| {
            let has_port = match chunk.strip_prefix('[') {
                Some(bracketed) => bracketed
                    .split_once(']')
                    .is_some_and(|(_, after)| after.starts_with(':')),
                None => chunk.contains(':'),
            };
            if has_port {
                chunk.to_string()
            } else {
                format!("{chunk}:{port}")
            }
        })
        .collect();
    format!("{scheme}://{userinfo}{}{tail}", hosts.join(","))
}

fn apply_environment_defaults(config: &mut Config) {
    if config.get_hosts().is_empty() {
        let host = std::env::var("PGHOST").unwrap_or_else(|_| "127.0.0.1".to_string());
        if host.starts_with('/') {
            config.host_path(host);
        } else {
            config.host(&host);
        }
    }
    if config.get_ports().is_empty() {
        let port = std::env::var("PGPORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(5432);
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = std::env::var("PGUSER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "postgres".to_string());
        config.user(&user);
    }
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_dbname().is_none()
        && let Ok(database) = std::env::var("PGDATABASE")
    {
        config.dbname(&database);
    }
}

/// What to do about a database error, by its SQLSTATE, for the error line the user reads.
pub fn hint(error: &anyhow::Error) -> Option<&'static str> {
    let code = error.chain().find_map(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .map(|c| c.code().to_string())
    })?;
    hint_for_code(&code)
}

/// What to do about a server error, by its SQLSTATE.
pub fn hint_for_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "55P03" => {
            "another session holds a lock on a target table: find it in pg_locks, stop it, and run again (committed chunks are kept)"
        }
        "53100" => {
            "the target's disk is full: free space or grow the volume, then run again (committed chunks are kept)"
        }
        "53200" => "the server ran out of memory: lower --jobs, then run again",
        "53300" => "the server has no free connection slots: lower --jobs or raise max_connections",
        "57014" => "a statement was cancelled (statement timeout or an administrator): run again",
        "42501" => {
            "the role lacks a privilege: connect to the target as the database owner (the role Odoo uses)"
        }
        "25006" => {
            "the target accepts no writes (a standby, or default_transaction_read_only): use the primary"
        }
        _ => return None,
    })
}

/// Replaces the password of any connection URL found in `text` by `***`, for messages that quote
/// user input or server output.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        out.push_str(head);
        let end_of_authority = tail
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end_of_authority];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end_of_authority..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_passwords_in_urls() {
        assert_eq!(
            redact("failed: postgres://odoo:s3cr3t@db:5432/prod and more"),
            "failed: postgres://odoo:***@db:5432/prod and more"
        );
        assert_eq!(redact("postgres://odoo@db/prod"), "postgres://odoo@db/prod");
    }

    #[test]
    fn displayed_endpoint_never_shows_the_password() {
        let endpoint =
            Endpoint::parse(Side::Target, "postgres://odoo:s3cr3t@db.example:6543/prod").unwrap();
        let shown = format!("{endpoint} {endpoint:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("postgres://odoo@db.example:6543/prod"),
            "{shown}"
        );
    }

    #[test]
    fn pgport_fills_the_port_a_url_leaves_out() {
        let cases = [
            ("postgres://u@db/x", "postgres://u@db:5433/x"),
            (
                "postgresql://u:p@db?sslmode=off",
                "postgresql://u:p@db:5433?sslmode=off",
            ),
            ("postgres://u@db:6000/x", "postgres://u@db:6000/x"),
            ("postgres://u@a,b:6000/x", "postgres://u@a:5433,b:6000/x"),
            ("postgres://u@[::1]/x", "postgres://u@[::1]:5433/x"),
            ("postgres://u@[::1]:6000/x", "postgres://u@[::1]:6000/x"),
            ("postgres:///x", "postgres:///x"),
            ("postgres://u@db/x?port=7000", "postgres://u@db/x?port=7000"),
            ("host=db dbname=x", "host=db dbname=x"),
        ];
        for (given, expected) in cases {
            assert_eq!(with_default_port(given, "5433"), expected, "{given}");
        }
        let endpoint = Config::from_str(&with_default_port("postgres://u@db/x", "5433")).unwrap();
        assert_eq!(endpoint.get_ports(), &[5433]);
    }

    #[test]
    fn a_url_without_database_is_refused() {
        // SAFETY of the test: PGDATABASE may be set in the environment; clear the case by naming one.
        let error = Endpoint::parse(Side::Source, "not a url at all ===").unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
    }
}
