//! A wrong password is refused with a one-line error that names the cause and never the password.
//! The test server trusts every local login, so the test asks for a password from one role of its
//! own: it puts lines for that role at the top of `pg_hba.conf` of the cluster serving the test
//! server (`ODOO_MIGRATE_TEST_PG` / `PG*`) and reloads it, and puts the file back at the end. That
//! changes the server's configuration, so the test is ignored by default and run by `.ci/run` as
//! root (`cargo test --test wrong_password -- --ignored`).

mod common;

use std::path::PathBuf;

use common::{DatabasePair, admin, migrate};

const PASSWORD: &str = "right-horse-battery";
const WRONG: &str = "wrong-s3cret-staple";

/// The role's password lines, installed for the test's life.
struct PasswordRequired {
    hba_file: PathBuf,
    original: String,
    role: String,
}

impl PasswordRequired {
    fn install() -> PasswordRequired {
        // The cluster on this machine that serves the test server: its pg_hba.conf is the one read.
        common::cluster::test_cluster();
        let role = format!("omt_pw_{}", std::process::id());
        admin(&format!("CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"));
        let hba_file = PathBuf::from(admin("SHOW hba_file").expect("the hba file"));
        let original =
            std::fs::read_to_string(&hba_file).expect("readable pg_hba.conf (run as root)");
        // Whichever way the tests reach the server (socket, IPv4, IPv6), this role needs a password.
        std::fs::write(
            &hba_file,
            format!(
                "local all {role} scram-sha-256\nhost all {role} all scram-sha-256\n{original}"
            ),
        )
        .expect("writable pg_hba.conf (run as root)");
        admin("SELECT pg_reload_conf()");
        let guard = PasswordRequired {
            hba_file,
            original,
            role,
        };
        guard.wait_until_asked();
        guard
    }

    /// The reload is asynchronous: waits until a login without password is refused.
    fn wait_until_asked(&self) {
        let url = common::url_as(&self.role, None, &common::maintenance_db());
        for _ in 0..100 {
            let refused = common::block_on(async {
                let config: tokio_postgres::Config = url.parse().expect("the role's URL");
                config.connect(tokio_postgres::NoTls).await.is_err()
            });
            if refused {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "the server did not start asking {} for a password",
            self.role
        );
    }

    /// The source's URL as this role with `password`.
    fn source_url(&self, password: &str, pair: &DatabasePair) -> String {
        common::url_as(&self.role, Some(password), &pair.source.name)
    }
}

impl Drop for PasswordRequired {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.hba_file, &self.original);
        admin("SELECT pg_reload_conf()");
        admin(&format!("DROP ROLE IF EXISTS {}", self.role));
    }
}

#[test]
#[ignore = "changes pg_hba.conf of the test server: run by .ci/run as root"]
fn a_wrong_password_is_named_and_never_shown() {
    let pair = DatabasePair::new("wrong_password");
    let required = PasswordRequired::install();
    let wrong_source = required.source_url(WRONG, &pair);
    let outcome = migrate(&wrong_source, &pair.target.url(), &["analyze"], &[]);
    assert_eq!(outcome.code, 7, "{}", outcome.stderr);
    outcome.assert_stderr_contains(
        "refused the login: wrong user or password; check the source connection string",
    );
    assert_eq!(
        outcome.stderr.trim().lines().count(),
        1,
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains(WRONG) && !outcome.stdout.contains(WRONG),
        "{}",
        outcome.stderr
    );
    // The right one gets past the login (what the role may read is another matter).
    let right_source = required.source_url(PASSWORD, &pair);
    let outcome = migrate(&right_source, &pair.target.url(), &["analyze"], &[]);
    assert!(
        !outcome.stderr.contains("refused the login"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains(PASSWORD), "{}", outcome.stderr);
}
