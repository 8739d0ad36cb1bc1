//! The target's disk fills up during a run: the table being written fails with a message that says
//! so and what to do, nothing of it is half-written, and once there is room the next run resumes
//! and ends verified. The "disk" is a tablespace on a tmpfs of a few hundred kilobytes that holds
//! the target's `mail_message`; mounting it needs root and the test server's cluster on this
//! machine (the one serving `ODOO_MIGRATE_TEST_PG` / `PGPORT`, found with `pg_lsclusters`), so the
//! test is ignored by default and run by `.ci/run` (`cargo test --test disk_full -- --ignored`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::DatabasePair;

/// A tmpfs mounted for the test with a tablespace in it; unmounted and dropped at the end, after
/// the databases that use it (declare it before them).
struct TinyVolume {
    mount_point: PathBuf,
    tablespace: String,
}

fn sh(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

impl TinyVolume {
    fn mount(size: &str) -> TinyVolume {
        // The server's own OS user must own the tablespace's directory.
        let owner = common::cluster::test_cluster().owner;
        let mount_point =
            std::env::temp_dir().join(format!("omt_disk_full_{}", std::process::id()));
        std::fs::create_dir_all(&mount_point).unwrap();
        let point = mount_point.to_str().unwrap();
        sh(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", point],
        );
        let location = mount_point.join("tablespace");
        std::fs::create_dir(&location).unwrap();
        sh("chown", &[&owner, location.to_str().unwrap()]);
        let tablespace = format!("omt_tiny_{}", std::process::id());
        common::admin(&format!(
            "CREATE TABLESPACE {tablespace} LOCATION '{}'",
            location.display()
        ));
        TinyVolume {
            mount_point,
            tablespace,
        }
    }

    fn grow(&self, size: &str) {
        sh(
            "mount",
            &[
                "-o",
                &format!("remount,size={size}"),
                self.mount_point.to_str().unwrap(),
            ],
        );
    }
}

impl Drop for TinyVolume {
    fn drop(&mut self) {
        common::admin(&format!("DROP TABLESPACE IF EXISTS {}", self.tablespace));
        let _ = Command::new("umount").arg(&self.mount_point).status();
        let _ = std::fs::remove_dir_all(&self.mount_point);
    }
}

#[test]
#[ignore = "mounts a filesystem: needs root and a local server; run by .ci/run"]
fn a_full_disk_fails_the_table_cleanly_and_the_run_resumes_once_there_is_room() {
    let volume = TinyVolume::mount("256k");
    let pair = DatabasePair::new("disk_full");
    // The demo's messages take about 800 kB: they cannot fit.
    pair.target.execute(&format!(
        "ALTER TABLE mail_message SET TABLESPACE {}",
        volume.tablespace
    ));
    // The fresh Odoo 19 database has messages of its own.
    let before = pair.target.count("SELECT 1 FROM mail_message");

    let failed = pair.run(&["run"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("mail_message")
            && failed
                .stderr
                .contains("the target's disk is full: free space or grow the volume"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        pair.target.count("SELECT 1 FROM mail_message"),
        before,
        "nothing of the table is half-written"
    );
    assert_eq!(
        pair.target
            .scalar(
                "SELECT status FROM odoo_migrate.model_state WHERE source_table = 'mail_message'"
            )
            .as_deref(),
        Some("failed")
    );

    volume.grow("64m");
    pair.run(&["run"]).assert_code(0);
    pair.run(&["verify"]).assert_code(0);
    assert!(
        pair.target.count("SELECT 1 FROM mail_message") > before,
        "the messages arrived"
    );
}
