//! A wrong password is refused with a one-line error that names the cause and never the password.
//! The test server trusts every local login, so the test asks for a password from one role of its
//! own: it puts a line for that role at the top of `pg_hba.conf` and reloads the server, and puts
//! the file back at the end. That changes the shared server's configuration, so the test is
//! ignored by default and run by `.ci/run` as root (`cargo test --test wrong_password -- --ignored`).

mod common;

use std::path::PathBuf;

use common::{DatabasePair, odoo_migrate};

const PASSWORD: &str = "right-horse-battery";
const WRONG: &str = "wrong-s3cret-staple";

/// The role's password line, installed for the test's life.
struct PasswordRequired {
    hba_file: PathBuf,
    original: String,
    role: String,
}

fn admin(sql: &str) -> Option<String> {
    let sql = sql.to_string();
    common::block_on(async move {
        common::connect("postgres")
            .await
            .query_opt(sql.as_str(), &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .and_then(|row| row.try_get::<_, String>(0).ok())
    })
}

impl PasswordRequired {
    fn install() -> PasswordRequired {
        let role = format!("omt_pw_{}", std::process::id());
        admin(&format!("CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"));
        let hba_file = PathBuf::from(admin("SHOW hba_file").expect("the hba file"));
        let original =
            std::fs::read_to_string(&hba_file).expect("readable pg_hba.conf (run as root)");
        std::fs::write(
            &hba_file,
            format!("host all {role} 127.0.0.1/32 scram-sha-256\n{original}"),
        )
        .expect("writable pg_hba.conf (run as root)");
        admin("SELECT pg_reload_conf()::text");
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
        for _ in 0..100 {
            let output = std::process::Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    &self.role,
                    "-d",
                    "postgres",
                    "-w",
                    "-c",
                    "SELECT 1",
                ])
                .output()
                .expect("psql");
            if !output.status.success() {
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

impl Drop for PasswordRequired {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.hba_file, &self.original);
        admin("SELECT pg_reload_conf()::text");
        admin(&format!("DROP ROLE IF EXISTS {}", self.role));
    }
}

#[test]
#[ignore = "changes pg_hba.conf of the test server: run by .ci/run as root"]
fn a_wrong_password_is_named_and_never_shown() {
    let pair = DatabasePair::new("wrong_password");
    let required = PasswordRequired::install();
    let wrong_source = format!(
        "postgres://{}:{WRONG}@127.0.0.1:5432/{}",
        required.role, pair.source.name
    );
    let outcome = odoo_migrate(
        &[
            "--source",
            &wrong_source,
            "--target",
            &pair.target.url(),
            "analyze",
        ],
        &[],
    );
    assert_eq!(outcome.code, 7, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "refused the login: wrong user or password; check the source connection string"
        ),
        "{}",
        outcome.stderr
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
    let right_source = format!(
        "postgres://{}:{PASSWORD}@127.0.0.1:5432/{}",
        required.role, pair.source.name
    );
    let outcome = odoo_migrate(
        &[
            "--source",
            &right_source,
            "--target",
            &pair.target.url(),
            "analyze",
        ],
        &[],
    );
    assert!(
        !outcome.stderr.contains("refused the login"),
        "{}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains(PASSWORD), "{}", outcome.stderr);
}
