//! TLS against the real test server, which has `ssl = on` with Debian's self-signed "snakeoil"
//! certificate: `sslmode=require` (and `prefer`, the default) encrypts the session, `disable` does
//! not, both for single connections (`config check`) and for the pools (`analyze`); `verify-ca`
//! accepts the server's certificate as its own root; `verify-full` accepts it with the host name
//! the certificate gives and refuses another name, or a root certificate that did not sign it,
//! with a message that says what to do. Whether a session is encrypted is what the server says in
//! `pg_stat_ssl`, which the tool logs at debug level for each new session.
//!
//! A server that refuses TLS is played by the fake server of `fake_server`.

mod common;
mod fake_server;

use std::net::ToSocketAddrs;
use std::path::PathBuf;

use common::{admin_config, maintenance_db, odoo_migrate};
use fake_server::{Behaviour, FakeServer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::Host;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// A certificate authority made for these tests, whose key was thrown away: it signed nothing,
/// so no server's certificate chains to it.
const FOREIGN_AUTHORITY: &str = "-----BEGIN CERTIFICATE-----
MIIByzCCAXGgAwIBAgIUWL8cKD16c9k0aWThkCmuvE24qCowCgYIKoZIzj0EAwIw
OjE4MDYGA1UEAwwvb2Rvby1taWdyYXRlIHRlc3QgYXV0aG9yaXR5IHRoYXQgc2ln
bmVkIG5vdGhpbmcwIBcNMjYxMjA3MDgzNTM1WhgPMjEyNjExMTMwODM1MzVaMDox
ODA2BgNVBAMML29kb28tbWlncmF0ZSB0ZXN0IGF1dGhvcml0eSB0aGF0IHNpZ25l
ZCBub3RoaW5nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfvSu1sh54JmyfKk1
wNglEKKEsF9uuZfG2OYn4sCpcW3kHUdUYgg092IGGL4PiIDDeRQ/xnWLPRljD6RN
zv47aKNTMFEwHQYDVR0OBBYEFHxoHEBKCn2d6VKSjrBjsCuMfNOhMB8GA1UdIwQY
MBaAFHxoHEBKCn2d6VKSjrBjsCuMfNOhMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZI
zj0EAwIDSAAwRQIgOPjYdtekC3HRiJmDIbZaFbL01ath56GvF+5tZ+2B9S0CIQDR
YkP1sIsLM2RkPRndm8Y/LyBzcPyN11b8V0zICwdA1w==
-----END CERTIFICATE-----
";

/// The test server over TCP, with TLS on.
struct TlsServer {
    host: String,
    port: u16,
    user: String,
    /// The server's certificate file (`ssl_cert_file`), readable here.
    certificate: PathBuf,
}

fn admin_scalar(sql: &str) -> String {
    let sql = sql.to_string();
    common::block_on(async move {
        common::connect(&maintenance_db())
            .await
            .query_one(sql.as_str(), &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    })
}

fn tls_server() -> TlsServer {
    let config = admin_config();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        other => panic!("the TLS tests need the test server over TCP, not {other:?}"),
    };
    assert_eq!(
        admin_scalar("SHOW ssl"),
        "on",
        "the TLS tests need ssl = on in the test server's postgresql.conf (Debian's clusters have it, with the snakeoil certificate)"
    );
    let mut certificate = PathBuf::from(admin_scalar("SHOW ssl_cert_file"));
    if certificate.is_relative() {
        certificate = PathBuf::from(admin_scalar("SHOW data_directory")).join(certificate);
    }
    assert!(
        std::fs::metadata(&certificate).is_ok(),
        "the server's certificate {} must be readable by the tests",
        certificate.display()
    );
    TlsServer {
        host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        user: config.get_user().unwrap_or("postgres").to_string(),
        certificate,
    }
}

impl TlsServer {
    /// A URL to `database` through `host`, with `query`.
    fn url_via(&self, host: &str, database: &str, query: &str) -> String {
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        format!(
            "postgres://{}@{host}:{}/{database}?{query}",
            self.user, self.port
        )
    }

    fn url(&self, query: &str) -> String {
        self.url_via(&self.host, &maintenance_db(), query)
    }

    fn certificate(&self) -> &str {
        self.certificate.to_str().expect("a UTF-8 path")
    }

    /// The DNS names the server's certificate is valid for.
    fn certificate_names(&self) -> Vec<String> {
        let der = CertificateDer::from_pem_file(&self.certificate)
            .unwrap_or_else(|e| panic!("{}: {e}", self.certificate.display()));
        let certificate = Certificate::from_der(der.as_ref()).expect("an X.509 certificate");
        let names = certificate
            .tbs_certificate
            .get::<SubjectAltName>()
            .expect("a readable subjectAltName")
            .map(|(_, names)| names.0)
            .unwrap_or_default();
        names
            .into_iter()
            .filter_map(|name| match name {
                GeneralName::DnsName(name) => Some(name.to_string()),
                _ => None,
            })
            .collect()
    }
}

/// `ssl=true` or `ssl=false` for each session the tool logged as connected on `side`.
fn sessions(stderr: &str, side: &str) -> Vec<bool> {
    stderr
        .lines()
        .filter(|line| line.contains(" connected ") && line.contains(&format!("side=\"{side}\"")))
        .filter_map(|line| {
            if line.contains(" ssl=true") {
                Some(true)
            } else if line.contains(" ssl=false") {
                Some(false)
            } else {
                None
            }
        })
        .collect()
}

/// `config check` of `source` and `target` with the debug log and `env`.
fn check(source: &str, target: &str, env: &[(&str, &str)]) -> common::Outcome {
    let mut all = vec![
        ("ODOO_MIGRATE_LOG", "odoo_migrate=debug"),
        ("PGSSLMODE", ""),
    ];
    all.extend_from_slice(env);
    odoo_migrate(
        &["--source", source, "--target", target, "config", "check"],
        &all,
    )
}

#[test]
fn require_and_prefer_encrypt_the_session_and_disable_does_not() {
    let server = tls_server();
    let outcome = check(
        &server.url("sslmode=require"),
        &server.url("sslmode=disable"),
        &[],
    );
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(
        sessions(&outcome.stderr, "source"),
        [true],
        "{}",
        outcome.stderr
    );
    assert_eq!(
        sessions(&outcome.stderr, "target"),
        [false],
        "{}",
        outcome.stderr
    );

    // Without sslmode: PGSSLMODE, and without it prefer, which takes TLS when the server offers it.
    let plain = server.url("application_name=x");
    let outcome = check(&plain, &plain, &[("PGSSLMODE", "disable")]);
    assert_eq!(
        sessions(&outcome.stderr, "source"),
        [false],
        "{}",
        outcome.stderr
    );
    let outcome = check(&plain, &server.url("sslmode=disable"), &[]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(
        sessions(&outcome.stderr, "source"),
        [true],
        "{}",
        outcome.stderr
    );
    // The connection string wins over PGSSLMODE.
    assert_eq!(
        sessions(&outcome.stderr, "target"),
        [false],
        "{}",
        outcome.stderr
    );
}

#[test]
fn the_pools_are_encrypted_too() {
    // analyze opens a pool on each side, then finds no Odoo in these two databases (exit 8).
    let server = tls_server();
    let source = server.url_via(&server.host, &maintenance_db(), "sslmode=require");
    let target = server.url_via(
        &server.host,
        "template1",
        &format!("sslmode=verify-ca&sslrootcert={}", server.certificate()),
    );
    let outcome = odoo_migrate(
        &["--source", &source, "--target", &target, "analyze"],
        &[("ODOO_MIGRATE_LOG", "odoo_migrate=debug")],
    );
    assert_eq!(outcome.code, 8, "{}{}", outcome.stdout, outcome.stderr);
    assert!(outcome.stderr.contains("not an Odoo"), "{}", outcome.stderr);
    for side in ["source", "target"] {
        assert_eq!(
            sessions(&outcome.stderr, side),
            [true],
            "{side}: {}",
            outcome.stderr
        );
    }
}

#[test]
fn verify_full_checks_the_root_and_the_name() {
    let server = tls_server();
    let names = server.certificate_names();
    let name = names
        .iter()
        .find(|name| {
            (name.as_str(), server.port)
                .to_socket_addrs()
                .is_ok_and(|mut addresses| addresses.any(|address| address.ip().is_loopback()))
        })
        .unwrap_or_else(|| {
            panic!(
                "the server's certificate names {names:?}, none of which resolves to this machine: verify-full cannot be tried here"
            )
        });
    let own_root = format!("sslrootcert={}", server.certificate());
    let by_name = server.url_via(
        name,
        &maintenance_db(),
        &format!("sslmode=verify-full&{own_root}"),
    );
    let outcome = check(
        &by_name,
        &server.url(&format!("sslmode=verify-ca&{own_root}")),
        &[],
    );
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(
        sessions(&outcome.stderr, "source"),
        [true],
        "{}",
        outcome.stderr
    );
    assert_eq!(
        sessions(&outcome.stderr, "target"),
        [true],
        "{}",
        outcome.stderr
    );

    // The same certificate through an address it does not name.
    let foreign = std::env::temp_dir().join(format!("omt_tls_foreign_{}.crt", std::process::id()));
    std::fs::write(&foreign, FOREIGN_AUTHORITY).expect("write the foreign root");
    let by_address = server.url(&format!("sslmode=verify-full&{own_root}"));
    let unsigned = server.url_via(
        name,
        &maintenance_db(),
        &format!("sslmode=verify-full&sslrootcert={}", foreign.display()),
    );
    let other_database = server.url_via(&server.host, "template1", "");
    for (source, expected) in [
        (
            by_address,
            format!(
                "error: the source server at {}:{} cannot be trusted: its certificate does not name the host {} (sslmode=verify-full); connect with a host name the certificate gives, or use sslmode=verify-ca to check the signature only",
                server.host, server.port, server.host
            ),
        ),
        (
            unsigned,
            format!(
                "error: the source server at {name}:{} cannot be trusted: its certificate was not signed by a certificate of {} (sslmode=verify-full); give the authority that signed it in sslrootcert=FILE or PGSSLROOTCERT, or use sslmode=require to encrypt without checking the certificate",
                server.port,
                foreign.display()
            ),
        ),
    ] {
        let outcome = odoo_migrate(
            &["--source", &source, "--target", &other_database, "analyze"],
            &[],
        );
        assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
        assert_eq!(outcome.stderr.trim(), expected);
    }
    let _ = std::fs::remove_file(&foreign);
}

#[test]
fn a_missing_root_certificate_says_what_to_do() {
    let server = tls_server();
    let missing = "/nonexistent/odoo-migrate/root.crt";
    let outcome = odoo_migrate(
        &[
            "--source",
            &server.url("sslmode=verify-ca"),
            "--target",
            &server.url(""),
            "analyze",
        ],
        &[("PGSSLROOTCERT", missing)],
    );
    assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stderr.contains(&format!(
            "the source connection cannot be secured: the root certificate file {missing} does not exist; give the certificate of the authority that signed the server's certificate in sslrootcert=FILE or PGSSLROOTCERT, or use sslmode=require"
        )),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_server_without_tls_is_refused_when_tls_is_required_and_used_plain_when_preferred() {
    let fake = FakeServer::start(Behaviour::AskPassword);
    let port = fake.port;
    let outcome = check(
        &fake.url("odoo", "sales", "sslmode=require"),
        &fake.url("odoo", "stock", "sslmode=prefer"),
        &[("PGPASSWORD", "pw")],
    );
    let seen = fake.finish();
    assert_eq!(outcome.code, 7, "{}{}", outcome.stdout, outcome.stderr);
    assert!(
        outcome.stdout.contains(&format!(
            "source: postgres://odoo@127.0.0.1:{port}/sales — the source server at 127.0.0.1:{port} does not accept TLS connections, and sslmode=require requires TLS; turn ssl on in the server's postgresql.conf, or use sslmode=prefer or sslmode=disable to connect unencrypted"
        )),
        "{}",
        outcome.stdout
    );
    // require: asked for TLS and stopped there; prefer: asked, then logged in without it.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].asked_tls && seen[0].user.is_none(), "{seen:?}");
    assert!(seen[1].asked_tls, "{seen:?}");
    assert_eq!(seen[1].password.as_deref(), Some("pw"), "{seen:?}");
}
