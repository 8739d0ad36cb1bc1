//! The PostgreSQL cluster behind the test server, for the tests that act on the server itself
//! (restart it, give it a tablespace on a small filesystem, change its `pg_hba.conf`): the
//! Debian-managed cluster (`pg_lsclusters`) listening on the test server's port, checked to be the
//! one that answers there. Only the server the tests were given is ever touched.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{admin, server, server_answers};

/// One line of `pg_lsclusters`.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub version: String,
    pub name: String,
    pub port: u16,
    /// The OS user the server runs as (who must own its files).
    pub owner: String,
    pub data_directory: PathBuf,
}

/// The clusters `pg_lsclusters` lists on this machine.
fn clusters() -> Vec<Cluster> {
    let output = Command::new("pg_lsclusters")
        .arg("-h")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pg_lsclusters ({e}): this test needs a Debian-managed cluster (postgresql-common)"
            )
        });
    assert!(output.status.success(), "pg_lsclusters failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [version, name, port, _status, owner, data, ..] => Some(Cluster {
                    version: version.to_string(),
                    name: name.to_string(),
                    port: port.parse().ok()?,
                    owner: owner.to_string(),
                    data_directory: PathBuf::from(data),
                }),
                _ => None,
            }
        })
        .collect()
}

/// Whether `host` names this machine (a Unix socket directory, localhost or a loopback address).
fn is_local(host: &str) -> bool {
    host.starts_with('/')
        || host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The cluster that serves the test server (`ODOO_MIGRATE_TEST_PG` / `PG*`): the one
/// `pg_lsclusters` lists on its port, whose data directory is the one the server reports. Panics
/// saying what is missing when the server is not a cluster of this machine.
pub fn test_cluster() -> Cluster {
    let server = server();
    assert!(
        is_local(&server.host),
        "the test server {}:{} is not on this machine: this test acts on the server itself \
         (run it where the server runs, or point ODOO_MIGRATE_TEST_PG / PGHOST at a local one)",
        server.host,
        server.port
    );
    let cluster = clusters()
        .into_iter()
        .find(|c| c.port == server.port)
        .unwrap_or_else(|| {
            panic!(
                "no cluster of pg_lsclusters listens on port {}, the test server's port",
                server.port
            )
        });
    let reported = admin("SHOW data_directory").map(PathBuf::from);
    assert_eq!(
        reported.as_ref(),
        Some(&cluster.data_directory),
        "the server on port {} is not cluster {}/{} of pg_lsclusters",
        server.port,
        cluster.version,
        cluster.name
    );
    cluster
}

impl Cluster {
    /// Restarts this cluster with `pg_ctlcluster` and waits until the test server answers again.
    pub fn restart(&self) {
        let restarted = Command::new("pg_ctlcluster")
            .args([
                "--skip-systemctl-redirect",
                &self.version,
                &self.name,
                "restart",
            ])
            .status()
            .expect("pg_ctlcluster restart");
        assert!(
            restarted.success(),
            "pg_ctlcluster {} {} restart failed",
            self.version,
            self.name
        );
        for _ in 0..60 {
            if server_answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "cluster {}/{} did not answer again on port {}",
            self.version, self.name, self.port
        );
    }
}
