//! Shared helpers of the unit tests: a connection to the test server, for the few functions whose
//! result is SQL that only a real PostgreSQL can judge. The server is found as the end-to-end
//! tests find it (`tests/common`): `ODOO_MIGRATE_TEST_PG`, else `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, with 127.0.0.1:5432 and `postgres` by default.

use std::str::FromStr;

use tokio_postgres::{Client, Config, NoTls};

/// A connection to the test server's maintenance database; panics with the way to point the
/// tests at another server when none answers.
pub async fn test_server() -> Client {
    let mut config = match std::env::var("ODOO_MIGRATE_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => {
            Config::from_str(url.trim()).expect("ODOO_MIGRATE_TEST_PG is a libpq URL")
        }
        _ => Config::new(),
    };
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        config.host(variable("PGHOST").unwrap_or_else(|| "127.0.0.1".into()));
    }
    if config.get_ports().is_empty() {
        config.port(
            variable("PGPORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432),
        );
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
    let (client, connection) = config.connect(NoTls).await.unwrap_or_else(|error| {
        panic!(
            "the test server does not answer ({error}); point the tests at one with \
             ODOO_MIGRATE_TEST_PG=postgres://USER@HOST:PORT/postgres or PGHOST/PGPORT/PGUSER"
        )
    });
    tokio::spawn(connection);
    client
}
