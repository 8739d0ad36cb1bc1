//! How the tool finds its servers and logs in: the parts a URL leaves out come from the PG*
//! variables, as libpq does, so that two clusters on one host are told apart by PGPORT; the
//! password, when neither the URL nor PGPASSWORD gives one, comes from the password file
//! (`~/.pgpass`, `PGPASSFILE`); a server that cannot be reached, or asks for a password the tool
//! does not have, is named in one line that says what to do.
//!
//! The test server trusts local logins, so what the tool sends as a password is seen by a fake
//! server on 127.0.0.1 (`fake_server`), which asks every client for one. The end-to-end login with
//! a password file against the real server changes its pg_hba.conf for one role and is ignored by
//! default (`cargo test --test connections -- --ignored`, as root).

mod common;
mod fake_server;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{admin_config, maintenance_db, odoo_migrate};
use fake_server::{Behaviour, FakeServer};
use tokio_postgres::config::Host;

/// A URL to the test server's maintenance database that names the host but no port.
fn portless_url() -> String {
    let config = admin_config();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) if !host.contains(':') => host.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let user = config.get_user().unwrap_or("postgres");
    format!("postgres://{user}@{host}/{}", maintenance_db())
}

fn test_port() -> String {
    admin_config()
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string()
}

#[test]
fn pgport_names_the_server_of_a_url_without_port() {
    let url = portless_url();
    let args = ["--source", &url, "--target", &url, "config", "check"];

    let right = odoo_migrate(&args, &[("PGPORT", &test_port())]);
    assert_eq!(right.code, 0, "{}\n{}", right.stdout, right.stderr);

    // Nothing listens on port 1: reaching the server anyway would mean PGPORT was ignored.
    let wrong = odoo_migrate(&args, &[("PGPORT", "1")]);
    assert_eq!(wrong.code, 7, "{}\n{}", wrong.stdout, wrong.stderr);
    assert!(
        format!("{}{}", wrong.stdout, wrong.stderr).contains(":1 (connection refused)"),
        "the message names the port PGPORT gave: {}{}",
        wrong.stdout,
        wrong.stderr
    );
}

/// A password file of the test's own, with `mode`, removed when dropped.
struct PasswordFile(PathBuf);

impl PasswordFile {
    fn new(name: &str, text: &str, mode: u32) -> PasswordFile {
        let path = std::env::temp_dir().join(format!("omt_{name}_{}.pgpass", std::process::id()));
        std::fs::write(&path, text).expect("write the password file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("set its mode");
        PasswordFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `config check` of both URLs, with `env`; PGPASSWORD is emptied unless `env` sets it.
fn check(source: &str, target: &str, env: &[(&str, &str)]) -> common::Outcome {
    let mut all = vec![("PGPASSWORD", "")];
    all.extend_from_slice(env);
    odoo_migrate(
        &["--source", source, "--target", target, "config", "check"],
        &all,
    )
}

#[test]
fn the_password_file_gives_the_password_of_the_first_matching_line() {
    let server = FakeServer::start(Behaviour::AskPassword);
    let port = server.port;
    let file = PasswordFile::new(
        "first_match",
        &format!(
            "# host:port:database:user:password\n\
             127.0.0.1:{port}:other_db:odoo:not-this-one\n\
             127.0.0.1:{port}:sales:odoo:from\\:the\\\\file\n\
             127.0.0.1:{port}:sales:odoo:not-the-second-match\n\
             *:*:*:*:fallback\n"
        ),
        0o600,
    );
    let outcome = check(
        &server.url("odoo", "sales", ""),
        &server.url("admin", "stock", ""),
        &[("PGPASSFILE", file.path())],
    );
    let seen = server.finish();
    let passwords: Vec<Option<&str>> = seen.iter().map(|s| s.password.as_deref()).collect();
    assert_eq!(
        passwords,
        [Some("from:the\\file"), Some("fallback")],
        "{seen:?}\n{}{}",
        outcome.stdout,
        outcome.stderr
    );
    assert_eq!(seen[0].user.as_deref(), Some("odoo"));
    assert_eq!(seen[0].database.as_deref(), Some("sales"));
    // The fake server refuses every login: the message says where the password came from.
    assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains(&format!(
            "refused the login: wrong user or password; check the source connection string (the password came from {})",
            file.path()
        )),
        "{}",
        outcome.stdout
    );
    let shown = format!("{}{}", outcome.stdout, outcome.stderr);
    assert!(
        !shown.contains("fallback") && !shown.contains("from:the"),
        "{shown}"
    );
}

#[test]
fn the_url_and_pgpassword_come_before_the_password_file() {
    let server = FakeServer::start(Behaviour::AskPassword);
    let file = PasswordFile::new("precedence", "*:*:*:*:from-file\n", 0o600);
    let in_url = format!("postgres://odoo:in-url@127.0.0.1:{}/sales", server.port);
    let outcome = check(
        &in_url,
        &server.url("odoo", "stock", ""),
        &[("PGPASSFILE", file.path()), ("PGPASSWORD", "from-env")],
    );
    let seen = server.finish();
    let passwords: Vec<Option<&str>> = seen.iter().map(|s| s.password.as_deref()).collect();
    assert_eq!(
        passwords,
        [Some("in-url"), Some("from-env")],
        "{}{}",
        outcome.stdout,
        outcome.stderr
    );
    // `passfile` in the URL names another file than PGPASSFILE.
    let server = FakeServer::start(Behaviour::AskPassword);
    let other = PasswordFile::new("passfile_param", "*:*:*:*:from-passfile\n", 0o600);
    let target = server.url("odoo", "stock", &format!("passfile={}", other.path()));
    check(
        &server.url("odoo", "sales", ""),
        &target,
        &[("PGPASSFILE", file.path())],
    );
    let passwords: Vec<Option<String>> = server.finish().into_iter().map(|s| s.password).collect();
    assert_eq!(
        passwords,
        [
            Some("from-file".to_string()),
            Some("from-passfile".to_string())
        ]
    );
}

#[test]
fn a_server_asking_for_a_password_the_tool_lacks_says_where_to_give_it() {
    let server = FakeServer::start(Behaviour::AskPassword);
    let port = server.port;
    let no_match = PasswordFile::new("no_match", "db.example:5432:*:*:elsewhere\n", 0o600);
    let readable = PasswordFile::new("readable", "*:*:*:*:too-open\n", 0o644);
    let source = server.url("odoo", "sales", &format!("passfile={}", no_match.path()));
    let target = server.url("odoo", "stock", &format!("passfile={}", readable.path()));
    let outcome = check(&source, &target, &[]);
    let seen = server.finish();
    assert!(
        seen.iter().all(|s| s.password.is_none()),
        "no password was sent: {seen:?}"
    );
    assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
    let asks = "server asks for a password: give it in the URL, in PGPASSWORD or in ~/.pgpass";
    assert!(
        outcome.stdout.contains(&format!(
            "the source {asks} ({} has no line for 127.0.0.1:{port}:sales:odoo)",
            no_match.path()
        )),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains(&format!(
            "the target {asks} ({} was ignored: its group or others may access it (mode 0644)",
            readable.path()
        )),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stderr
            .contains(&format!("password file {} is ignored", readable.path())),
        "libpq's warning: {}",
        outcome.stderr
    );
    assert!(!outcome.stdout.contains("too-open"), "{}", outcome.stdout);
}

#[test]
fn an_address_that_closes_the_connection_is_said_unreachable() {
    let server = FakeServer::start(Behaviour::CloseAtOnce);
    let target = common::url(&maintenance_db());
    for sslmode in ["prefer", "disable"] {
        let source = server.url("odoo", "sales", &format!("sslmode={sslmode}"));
        let outcome = odoo_migrate(&["--source", &source, "--target", &target, "analyze"], &[]);
        assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
        assert!(
            outcome.stderr.contains(&format!(
                "cannot reach the source database at 127.0.0.1:{} (the connection was closed before the server answered); is a PostgreSQL server listening there",
                server.port
            )),
            "sslmode={sslmode}: {}",
            outcome.stderr
        );
        assert!(
            !outcome.stderr.contains("bytes remaining"),
            "{}",
            outcome.stderr
        );
        assert_eq!(
            outcome.stderr.trim().lines().count(),
            1,
            "{}",
            outcome.stderr
        );
    }
    server.finish();
}

const ROLE_PASSWORD: &str = "pgpass-horse-battery";

fn admin(sql: &str) -> Option<String> {
    let sql = sql.to_string();
    common::block_on(async move {
        common::connect(&maintenance_db())
            .await
            .query_opt(sql.as_str(), &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .and_then(|row| row.try_get::<_, String>(0).ok())
    })
}

/// A role of the test's own that must give its password (SCRAM) over TCP from 127.0.0.1: one
/// line for it at the top of pg_hba.conf, and only that line removed afterwards, so that the rest
/// of the server's configuration, and anyone else's use of it, is untouched.
struct PasswordRole {
    hba_file: PathBuf,
    line: String,
    role: String,
}

impl PasswordRole {
    fn install() -> PasswordRole {
        let role = format!("omt_connect_pw_{}", std::process::id());
        admin(&format!("DROP ROLE IF EXISTS {role}"));
        admin(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{ROLE_PASSWORD}'"
        ));
        let hba_file = PathBuf::from(admin("SHOW hba_file").expect("the hba file"));
        let original =
            std::fs::read_to_string(&hba_file).expect("readable pg_hba.conf (run as root)");
        let line = format!("host all {role} 127.0.0.1/32 scram-sha-256");
        std::fs::write(&hba_file, format!("{line}\n{original}"))
            .expect("writable pg_hba.conf (run as root)");
        admin("SELECT pg_reload_conf()::text");
        let guard = PasswordRole {
            hba_file,
            line,
            role,
        };
        guard.wait_until_asked();
        guard
    }

    /// The reload is asynchronous: waits until a login of the role without password is refused.
    fn wait_until_asked(&self) {
        let mut config = admin_config();
        config.host("127.0.0.1").user(&self.role);
        for _ in 0..100 {
            let attempt = common::block_on({
                let config = config.clone();
                async move { config.connect(tokio_postgres::NoTls).await.map(|_| ()) }
            });
            if attempt.is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "the server did not start asking {} for a password",
            self.role
        );
    }
}

impl Drop for PasswordRole {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(&self.hba_file) {
            let kept: String = text
                .lines()
                .filter(|line| *line != self.line)
                .map(|line| format!("{line}\n"))
                .collect();
            let _ = std::fs::write(&self.hba_file, kept);
        }
        admin("SELECT pg_reload_conf()::text");
        admin(&format!("DROP ROLE IF EXISTS {}", self.role));
    }
}

#[test]
#[ignore = "adds a line to pg_hba.conf of the test server: run as root with --ignored"]
fn a_role_asked_for_its_password_logs_in_with_the_password_file() {
    let required = PasswordRole::install();
    let port = admin_config().get_ports().first().copied().unwrap_or(5432);
    let url = |sslmode: &str| {
        format!(
            "postgres://{}@127.0.0.1:{port}/{}?sslmode={sslmode}",
            required.role,
            maintenance_db()
        )
    };
    let right = PasswordFile::new(
        "scram_right",
        &format!(
            "127.0.0.1:{port}:{}:{}:{ROLE_PASSWORD}\n",
            maintenance_db(),
            required.role
        ),
        0o600,
    );
    // Over TLS (SCRAM with channel binding) and without.
    let outcome = check(
        &url("require"),
        &url("disable"),
        &[("PGPASSFILE", right.path())],
    );
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(
        outcome.stdout.matches(" — connected").count(),
        2,
        "{}",
        outcome.stdout
    );

    let wrong = PasswordFile::new("scram_wrong", "*:*:*:*:not-the-password\n", 0o600);
    let outcome = check(
        &url("prefer"),
        &url("prefer"),
        &[("PGPASSFILE", wrong.path())],
    );
    assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains(&format!(
            "refused the login: wrong user or password; check the source connection string (the password came from {})",
            wrong.path()
        )),
        "{}",
        outcome.stdout
    );

    let outcome = check(
        &url("prefer"),
        &url("prefer"),
        &[("PGPASSFILE", "/nonexistent/odoo-migrate.pgpass")],
    );
    assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains(
            "the source server asks for a password: give it in the URL, in PGPASSWORD or in ~/.pgpass"
        ),
        "{}",
        outcome.stdout
    );
}
