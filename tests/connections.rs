//! How the tool finds its servers: the parts a URL leaves out come from the PG* variables, as
//! libpq does, so that two clusters on one host are told apart by PGPORT.

mod common;

use common::{admin_config, maintenance_db, odoo_migrate};
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
        format!("{}{}", wrong.stdout, wrong.stderr).contains(":1/"),
        "the message names the port PGPORT gave: {}{}",
        wrong.stdout,
        wrong.stderr
    );
}
