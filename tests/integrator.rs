//! What an integrator reads at 7 a.m. must be true: `status` of a killed run says it was
//! interrupted, a newer dump of the same database is not taken as already migrated, and a
//! refused run leaves the target as it was.

mod common;

use common::{DatabasePair, odoo_migrate};

/// Runs `run` on the pair with a fault point that kills the process there.
fn run_killed_at(pair: &DatabasePair, fault: &str) -> common::Outcome {
    let (source, target) = (pair.source.url(), pair.target.url());
    odoo_migrate(
        &[
            "--source",
            &source,
            "--target",
            &target,
            "run",
            "--chunk-size",
            "500",
        ],
        &[("ODOO_MIGRATE_FAULT", fault)],
    )
}

#[test]
fn status_of_a_killed_run_says_interrupted_and_how_to_resume() {
    let pair = DatabasePair::new("status_killed");
    let killed = run_killed_at(&pair, "after_chunk_commit:3");
    assert_ne!(killed.code, 0, "the fault point must end the process");
    // The run's row still says running: only its lock tells that nobody works on it.
    assert_eq!(
        pair.target
            .scalar("SELECT status FROM odoo_migrate.runs WHERE command = 'run'")
            .as_deref(),
        Some("running")
    );

    let text = pair.run(&["status"]);
    text.assert_code(0);
    assert!(text.stdout.contains("(interrupted)"), "{}", text.stdout);
    assert!(text.stdout.contains("odoo-migrate run"), "{}", text.stdout);
    let json = pair.run(&["--format", "json", "status"]);
    json.assert_code(0);
    let status: serde_json::Value = serde_json::from_str(&json.stdout).expect("status JSON");
    assert_eq!(status["status"], "interrupted", "{}", json.stdout);

    // Resumed, it finishes, and status says so.
    pair.run(&["run"]).assert_code(0);
    let done = pair.run(&["--format", "json", "status"]);
    let status: serde_json::Value = serde_json::from_str(&done.stdout).expect("status JSON");
    assert_eq!(status["status"], "finished", "{}", done.stdout);
}

#[test]
fn a_newer_snapshot_of_the_source_is_refused_not_taken_as_migrated() {
    let pair = DatabasePair::new("newer_snapshot");
    pair.run(&["run"]).assert_code(0);
    let before = pair.target.table_digests();

    // The same Odoo database a day later: one partner more, one partner written.
    pair.source.execute(
        "INSERT INTO res_partner (name, active, create_date, write_date) VALUES ('Came later', true, now(), now())",
    );
    let again = pair.run(&["run"]);
    again.assert_code(8);
    assert!(
        again.stderr.contains("another snapshot") && again.stderr.contains("res_partner"),
        "{}",
        again.stderr
    );
    assert_eq!(
        common::differing_tables(&before, &pair.target.table_digests()),
        Vec::<String>::new(),
        "a refused run changes nothing in the target"
    );
}

#[test]
fn a_run_refused_for_a_filled_target_writes_nothing_into_it() {
    let pair = DatabasePair::new("refused_writes_nothing");
    pair.target
        .execute("INSERT INTO crm_lead (name, type) VALUES ('A lead of the new company', 'lead')");
    let refused = pair.run(&["run"]);
    refused.assert_code(8);
    assert!(refused.stderr.contains("crm_lead"), "{}", refused.stderr);
    assert_eq!(
        pair.target
            .scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'odoo_migrate'")
            .as_deref(),
        Some("0"),
        "no side schema written by a refused run"
    );
}
