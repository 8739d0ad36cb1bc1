//! Connections to the source and target databases: parsing the libpq-style settings, redacting them
//! for display, opening pools, and turning connection failures into one-line errors that say what to do.
//!
//! The source is always opened with `default_transaction_read_only = on`: the tool never writes to it,
//! and PostgreSQL enforces that promise rather than our discipline alone.
//!
//! Beyond what tokio-postgres parses, the settings read here as libpq reads them: `sslmode` with
//! `verify-ca` / `verify-full` and `sslrootcert` (and `PGSSLMODE`, `PGSSLROOTCERT`), see
//! [`crate::io::tls`]; the password file (`passfile`, `PGPASSFILE`, `~/.pgpass`), see
//! [`crate::io::pgpass`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Config;
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::io::exit::{Status, refuse};
use crate::io::pgpass;
use crate::io::tls::{self, SslMode};

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
    tls: Tls,
    password: PasswordSource,
}

/// The TLS settings of one side and the connector built from them.
#[derive(Clone)]
struct Tls {
    mode: SslMode,
    root_cert: Option<PathBuf>,
    connector: MakeRustlsConnect,
}

/// Where the password came from, for the messages of a refused login.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PasswordSource {
    /// In the connection string or `PGPASSWORD`.
    Given,
    /// From the password file.
    File(PathBuf),
    /// None; what the password file said, and the line it was looked up by.
    Missing(pgpass::Lookup, pgpass::Key),
}

/// The libpq settings tokio-postgres does not parse, taken out of the connection string.
#[derive(Debug, Default, PartialEq, Eq)]
struct ClientParams {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    passfile: Option<String>,
}

impl Endpoint {
    /// Parses a `postgres://user:pw@host:port/db` URL or a `key=value` libpq string.
    /// Parts the URL leaves out come from the usual PG* environment variables, then from defaults
    /// (127.0.0.1, 5432, the login of the current user); the password, when none is given, from the
    /// password file.
    pub fn parse(side: Side, text: &str) -> Result<Endpoint> {
        let invalid = |error: &dyn fmt::Display| {
            refuse(
                Status::Usage,
                format!(
                    "the {} connection string is not valid ({error}); give it as postgres://user@host:port/database (user:password@ when a password is needed)",
                    side.label()
                ),
            )
        };
        let environment_port = std::env::var("PGPORT")
            .ok()
            .filter(|port| port.parse::<u16>().is_ok());
        let text = match &environment_port {
            Some(port) => with_default_port(text, port),
            None => text.to_string(),
        };
        let (text, params) = take_client_params(&text).map_err(|error| invalid(&error))?;
        let mut config = Config::from_str(&text).map_err(|error| invalid(&error))?;
        let host_given = apply_environment_defaults(&mut config);
        if config.get_dbname().is_none() {
            return Err(refuse(
                Status::Usage,
                format!(
                    "the {} connection string names no database; add it: postgres://user@host:port/DATABASE",
                    side.label()
                ),
            ));
        }
        let tls = tls_settings(side, &mut config, &params)?;
        let password = find_password(&mut config, host_given, params.passfile.as_deref());
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
        Ok(Endpoint {
            side,
            config,
            tls,
            password,
        })
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

    /// `sslmode` and `sslrootcert`, for programs that hand them to libpq (`odoo-bin
    /// --db_sslmode`, `PGSSLROOTCERT`).
    pub fn tls_parts(&self) -> (&'static str, Option<&std::path::Path>) {
        (self.tls.mode.name(), self.tls.root_cert.as_deref())
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
            self.tls.connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .build()
            .with_context(|| format!("cannot set up the {} connection pool", self.side.label()))?;
        let first = pool.get().await.map_err(|error| self.explain(&error))?;
        self.log_session(&first).await;
        drop(first);
        Ok(pool)
    }

    /// One connection outside any pool, for work that holds a session (locks, COPY).
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) = self
            .config
            .connect(self.tls.connector.clone())
            .await
            .map_err(|error| self.explain(&error))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
        self.log_session(&client).await;
        Ok(client)
    }

    /// At debug level, what the server says of the new session: its process id and whether it is
    /// encrypted (`pg_stat_ssl`), with the TLS version.
    async fn log_session(&self, client: &tokio_postgres::Client) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let row = client
            .query_opt(
                "SELECT pg_backend_pid(), s.ssl, coalesce(s.version, '') \
                 FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
                &[],
            )
            .await;
        match row {
            Ok(Some(row)) => {
                let pid: i32 = row.get(0);
                let ssl: bool = row.get(1);
                let version: String = row.get(2);
                tracing::debug!(
                    side = self.side.label(),
                    endpoint = %self,
                    pid,
                    ssl,
                    tls_version = %version,
                    sslmode = self.tls.mode.name(),
                    "connected"
                );
            }
            Ok(None) => tracing::debug!(side = self.side.label(), endpoint = %self, "connected"),
            Err(error) => tracing::debug!(
                side = self.side.label(),
                %error,
                "connected; pg_stat_ssl cannot be read"
            ),
        }
    }

    /// Turns a failed connection attempt into a one-line error naming the database and what to do.
    fn explain(&self, error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
        let side = self.side.label();
        let place = self.to_string();
        let address = format!("{}:{}", self.host(), self.port());
        let backend = find_cause::<tokio_postgres::Error>(error);
        let db = backend.and_then(|e| e.as_db_error());
        let message = match db.map(|db| db.code().code()) {
            Some("28P01") | Some("28000") => format!(
                "the {side} database {place} refused the login: wrong user or password; check the {side} connection string{}",
                match &self.password {
                    PasswordSource::File(path) =>
                        format!(" (the password came from {})", path.display()),
                    _ => String::new(),
                }
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
                db.map_or(String::new(), |db| db.message().to_string())
            ),
            None => {
                return refuse(
                    Status::Connection,
                    self.explain_without_server(error, &address),
                );
            }
        };
        refuse(Status::Connection, message)
    }

    /// The message for a connection that failed before the server answered with an error: no
    /// password to give, TLS refused or failed, or nothing (or no PostgreSQL) at the address.
    fn explain_without_server(
        &self,
        error: &(dyn std::error::Error + 'static),
        address: &str,
    ) -> String {
        let side = self.side.label();
        let cause = root_cause(error);
        let driver = find_cause::<tokio_postgres::Error>(error).map(ToString::to_string);
        if cause == "password missing" {
            return format!(
                "the {side} server asks for a password: give it in the URL, in PGPASSWORD or in ~/.pgpass{}",
                self.password_note()
            );
        }
        if cause == "server does not support TLS" {
            return format!(
                "the {side} server at {address} does not accept TLS connections, and sslmode={} requires TLS; turn ssl on in the server's postgresql.conf, or use sslmode=prefer or sslmode=disable to connect unencrypted",
                self.tls.mode.name()
            );
        }
        if let Some(handshake) = tls::handshake_error(error) {
            return format!(
                "the {side} server at {address} cannot be trusted: {}",
                tls::explain_handshake(
                    handshake,
                    self.tls.mode,
                    self.tls.root_cert.as_deref(),
                    &self.host()
                )
            );
        }
        if driver.as_deref() == Some("error performing TLS handshake") {
            return format!(
                "the TLS handshake with the {side} server at {address} failed: {cause} (sslmode={}); check the server's TLS settings",
                self.tls.mode.name()
            );
        }
        let (reason, advice) = unreachable_reason(error, &cause);
        format!("cannot reach the {side} database at {address} ({reason}); {advice}")
    }

    /// Why the password file gave no password, when one was read.
    fn password_note(&self) -> String {
        match &self.password {
            PasswordSource::Missing(pgpass::Lookup::NoMatch { path }, key) => {
                format!(" ({} has no line for {key})", path.display())
            }
            PasswordSource::Missing(pgpass::Lookup::Ignored { path, reason }, _) => {
                format!(" ({} was ignored: {reason})", path.display())
            }
            _ => String::new(),
        }
    }
}

/// What to say of a connection that failed below PostgreSQL's protocol: what happened, and what
/// to check.
fn unreachable_reason(
    error: &(dyn std::error::Error + 'static),
    cause: &str,
) -> (String, &'static str) {
    use std::io::ErrorKind;
    const RUNNING: &str = "is the server running and the host and port right?";
    const CLOSED: &str = "the connection was closed before the server answered";
    const LISTENING: &str =
        "is a PostgreSQL server listening there (not a proxy with nothing behind it)?";
    match find_cause::<std::io::Error>(error).map(std::io::Error::kind) {
        Some(ErrorKind::ConnectionRefused) => ("connection refused".to_string(), RUNNING),
        Some(ErrorKind::TimedOut) => (
            "no answer within 10 seconds".to_string(),
            "is the host right, and does every firewall on the way let the port through?",
        ),
        Some(ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) => {
            (CLOSED.to_string(), LISTENING)
        }
        _ if cause == "bytes remaining on stream" || cause == "connection closed" => {
            (CLOSED.to_string(), LISTENING)
        }
        _ if cause.starts_with("failed to lookup address") => (
            format!("the host name does not resolve: {cause}"),
            "check the host name",
        ),
        _ => (cause.to_string(), RUNNING),
    }
}

/// The first error of type `T` among `error` and its causes.
fn find_cause<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

/// The TLS settings: `sslmode` and `sslrootcert` of the connection string, else `PGSSLMODE` and
/// `PGSSLROOTCERT`, else `prefer` and `~/.postgresql/root.crt`. As in libpq, TLS is not used over
/// Unix sockets.
fn tls_settings(side: Side, config: &mut Config, params: &ClientParams) -> Result<Tls> {
    let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mode_text = params
        .sslmode
        .clone()
        .or_else(|| variable("PGSSLMODE"))
        .unwrap_or_else(|| "prefer".to_string());
    let mut mode = SslMode::parse(&mode_text).map_err(|error| {
        refuse(
            Status::Usage,
            format!("the {} connection: {error}", side.label()),
        )
    })?;
    let hosts = config.get_hosts();
    if !hosts.is_empty() && hosts.iter().all(|host| matches!(host, Host::Unix(_))) {
        mode = SslMode::Disable;
    }
    let root_cert = params
        .sslrootcert
        .clone()
        .or_else(|| variable("PGSSLROOTCERT"))
        .map(PathBuf::from)
        .or_else(tls::default_root_cert);
    let connector = tls::connector(mode, root_cert.as_deref()).map_err(|error| {
        refuse(
            Status::Connection,
            format!("the {} connection cannot be secured: {error}", side.label()),
        )
    })?;
    config.ssl_mode(mode.for_driver());
    Ok(Tls {
        mode,
        root_cert,
        connector,
    })
}

/// Looks the password up in the password file when the connection string and `PGPASSWORD` give
/// none (an empty password counts as none, as in libpq), and sets it.
fn find_password(config: &mut Config, host_given: bool, passfile: Option<&str>) -> PasswordSource {
    if config
        .get_password()
        .is_some_and(|password| !password.is_empty())
    {
        return PasswordSource::Given;
    }
    let key = pgpass_key(config, !host_given);
    let Some(file) = pgpass::file(passfile) else {
        return PasswordSource::Missing(pgpass::Lookup::Absent, key);
    };
    match pgpass::lookup(&file, &key) {
        pgpass::Lookup::Found { path, password } => {
            config.password(password);
            PasswordSource::File(path)
        }
        other => PasswordSource::Missing(other, key),
    }
}

/// The host:port:database:user of the first host, as libpq matches it in the password file: a
/// host left to the default, or the default socket directory, is `localhost`.
fn pgpass_key(config: &Config, host_defaulted: bool) -> pgpass::Key {
    let host = match config.get_hosts().first() {
        _ if host_defaulted => "localhost".to_string(),
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path))
            if ["/var/run/postgresql", "/run/postgresql", "/tmp"]
                .iter()
                .any(|default| path.as_path() == std::path::Path::new(default)) =>
        {
            "localhost".to_string()
        }
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    pgpass::Key {
        host,
        port: config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(5432)
            .to_string(),
        database: config.get_dbname().unwrap_or("").to_string(),
        user: config.get_user().unwrap_or("").to_string(),
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
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

/// Fills what the connection string leaves out from the PG* variables, then the defaults; says
/// whether a host was named (by the string or `PGHOST`).
fn apply_environment_defaults(config: &mut Config) -> bool {
    let mut host_given = true;
    if config.get_hosts().is_empty() {
        let environment = std::env::var("PGHOST").ok().filter(|host| !host.is_empty());
        host_given = environment.is_some();
        let host = environment.unwrap_or_else(|| "127.0.0.1".to_string());
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
    if config.get_password().is_none_or(<[u8]>::is_empty)
        && let Ok(password) = std::env::var("PGPASSWORD")
        && !password.is_empty()
    {
        config.password(password);
    }
    if config.get_dbname().is_none()
        && let Ok(database) = std::env::var("PGDATABASE")
    {
        config.dbname(&database);
    }
    host_given
}

/// The libpq settings tokio-postgres does not know (`sslmode`, whose `verify-*` values it
/// refuses, `sslrootcert`, `passfile`), taken out of a URL's query or a key=value string; the
/// rest is given back as it was.
fn take_client_params(text: &str) -> Result<(String, ClientParams), String> {
    const OURS: [&str; 3] = ["sslmode", "sslrootcert", "passfile"];
    const UNSUPPORTED: [&str; 4] = ["sslcert", "sslkey", "sslpassword", "sslcrl"];
    let mut params = ClientParams::default();
    let mut take = |key: &str, value: String| -> Result<bool, String> {
        if UNSUPPORTED.contains(&key) {
            return Err(format!(
                "{key} is not supported: client certificates and revocation lists are not implemented; authenticate with a password"
            ));
        }
        let slot = match key {
            "sslmode" => &mut params.sslmode,
            "sslrootcert" => &mut params.sslrootcert,
            "passfile" => &mut params.passfile,
            _ => return Ok(false),
        };
        *slot = Some(value);
        Ok(true)
    };
    let is_url = text.starts_with("postgres://") || text.starts_with("postgresql://");
    if is_url {
        let Some((head, query)) = text.split_once('?') else {
            return Ok((text.to_string(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(&percent_decode(key)?, percent_decode(value)?)? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        return Ok((rest, params));
    }
    let Some(pairs) = keyword_pairs(text) else {
        // Not well formed: tokio-postgres says why.
        return Ok((text.to_string(), params));
    };
    if !pairs
        .iter()
        .any(|(key, _)| OURS.contains(&key.as_str()) || UNSUPPORTED.contains(&key.as_str()))
    {
        return Ok((text.to_string(), params));
    }
    let mut kept = Vec::new();
    for (key, value) in pairs {
        let quoted = format!(
            "{key}='{}'",
            value.replace('\\', "\\\\").replace('\'', "\\'")
        );
        if !take(&key, value)? {
            kept.push(quoted);
        }
    }
    Ok((kept.join(" "), params))
}

/// The `key=value` pairs of a libpq keyword string, read as tokio-postgres reads them (values
/// quoted with `'` or bare, `\` escaping the next character); `None` when not well formed.
fn keyword_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\'' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                }
            }
            if value.is_empty() {
                return None;
            }
        }
        pairs.push((key, value));
    }
}

/// `%XX` sequences decoded, as in a URL's query.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let decoded = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text} is not UTF-8 once decoded"))
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
    fn libpq_tls_and_passfile_settings_are_taken_out_of_urls() {
        let (rest, params) = take_client_params(
            "postgres://u@db:5432/x?sslmode=verify-full&application_name=a&sslrootcert=%2Ftmp%2Fmy%20ca.crt&passfile=/p",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@db:5432/x?application_name=a");
        assert_eq!(
            params,
            ClientParams {
                sslmode: Some("verify-full".into()),
                sslrootcert: Some("/tmp/my ca.crt".into()),
                passfile: Some("/p".into()),
            }
        );
        let (rest, params) = take_client_params("postgres://u@db/x?sslmode=require").unwrap();
        assert_eq!(rest, "postgres://u@db/x");
        assert_eq!(params.sslmode.as_deref(), Some("require"));
        let untouched = "postgres://u@db/x?application_name=a";
        assert_eq!(take_client_params(untouched).unwrap().0, untouched);
        let refused = take_client_params("postgres://u@db/x?sslcert=/c.crt").unwrap_err();
        assert!(refused.contains("sslcert is not supported"), "{refused}");
    }

    #[test]
    fn libpq_tls_settings_are_taken_out_of_keyword_strings() {
        let (rest, params) = take_client_params(
            r"host=db dbname='my \'db' sslmode = verify-ca user=o\ doo sslrootcert='/tmp/a b.crt'",
        )
        .unwrap();
        assert_eq!(params.sslmode.as_deref(), Some("verify-ca"));
        assert_eq!(params.sslrootcert.as_deref(), Some("/tmp/a b.crt"));
        let config = Config::from_str(&rest).unwrap();
        assert_eq!(config.get_dbname(), Some("my 'db"));
        assert_eq!(config.get_user(), Some("o doo"));
        assert_eq!(config.get_hosts(), &[Host::Tcp("db".into())]);
        // Without any of them the string is passed on as it is.
        let plain = "host=db dbname=x";
        assert_eq!(take_client_params(plain).unwrap().0, plain);
    }

    #[test]
    fn verify_modes_are_require_to_the_driver_and_checked_by_the_tool() {
        let endpoint = Endpoint::parse(
            Side::Source,
            "postgres://u:pw@db/x?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt",
        )
        .unwrap_err();
        assert_eq!(crate::io::exit::status_of(&endpoint), Status::Connection);
        assert!(
            endpoint
                .to_string()
                .contains("/nonexistent/root.crt does not exist"),
            "{endpoint}"
        );
        let endpoint =
            Endpoint::parse(Side::Source, "postgres://u:pw@db/x?sslmode=require").unwrap();
        assert_eq!(endpoint.tls.mode, SslMode::Require);
        assert_eq!(
            endpoint.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        let endpoint =
            Endpoint::parse(Side::Source, "postgres://u:pw@db/x?sslmode=disable").unwrap();
        assert_eq!(
            endpoint.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        // libpq ignores sslmode over a Unix socket, where the server offers no TLS.
        let endpoint = Endpoint::parse(
            Side::Source,
            "host=/var/run/postgresql dbname=x user=u password=pw sslmode=require",
        )
        .unwrap();
        assert_eq!(
            endpoint.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        let error =
            Endpoint::parse(Side::Target, "postgres://u:pw@db/x?sslmode=allow").unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
    }

    #[test]
    fn password_file_lines_are_looked_up_as_libpq_does() {
        let config = Config::from_str("postgres://odoo@db.example:6432/prod").unwrap();
        assert_eq!(
            pgpass_key(&config, false).to_string(),
            "db.example:6432:prod:odoo"
        );
        // No host given anywhere: libpq's default is the local socket, matched as localhost.
        assert_eq!(pgpass_key(&config, true).host, "localhost");
        let config = Config::from_str("host=/var/run/postgresql dbname=prod user=odoo").unwrap();
        assert_eq!(pgpass_key(&config, false).host, "localhost");
        let config = Config::from_str("host=/srv/pg dbname=prod user=odoo").unwrap();
        assert_eq!(pgpass_key(&config, false).host, "/srv/pg");
    }

    #[test]
    fn a_url_without_database_is_refused() {
        // A valid URL that names host, port and user but no database (PGDATABASE is not read).
        for text in [
            "postgres://odoo@db.example:5432",
            "host=db.example port=5432 user=odoo",
        ] {
            let error = Endpoint::parse(Side::Source, text).unwrap_err();
            assert_eq!(crate::io::exit::status_of(&error), Status::Usage, "{text}");
            assert!(
                error.to_string().contains("names no database"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn an_unparsable_url_is_refused_as_not_valid() {
        let error = Endpoint::parse(Side::Source, "not a url at all ===").unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
        assert!(error.to_string().contains("is not valid"), "{error}");
    }
}
