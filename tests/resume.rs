//! Interrupted runs resume without loss or duplicate: the real process is killed (abort, as with
//! `kill -9`) at named fault points — during planning, before, inside and after chunks of several
//! tables, before the finishing steps — and the resumed run must leave a target equal, table by
//! table and mapping by mapping, to the target of an uninterrupted run.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use common::{DatabasePair, rules_file};

/// Small chunks, so that large tables commit several times.
const CHUNK: &str = "400";

fn final_state(pair: &DatabasePair) -> (BTreeMap<String, String>, Option<String>) {
    // The mappings, and the keys and indexes of their table (set aside during a large load and
    // built again at its end, also after a kill).
    let mappings = pair.target.scalar(
        "SELECT md5(string_agg(model || ':' || source_id || ':' || target_id || ':' || how, ',' ORDER BY model, source_id)) \
         || ' ' || (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname) \
                    FROM pg_constraint WHERE conrelid = 'odoo_migrate.id_map'::regclass) \
         || ' ' || (SELECT string_agg(pg_get_indexdef(indexrelid), ', ' ORDER BY 1) \
                    FROM pg_index WHERE indrelid = 'odoo_migrate.id_map'::regclass) \
         FROM odoo_migrate.id_map",
    );
    (pair.target.state_digests(), mappings)
}

/// The target of an uninterrupted run, computed once.
fn reference() -> &'static (BTreeMap<String, String>, Option<String>) {
    static REFERENCE: OnceLock<(BTreeMap<String, String>, Option<String>)> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let pair = DatabasePair::new("resume_reference");
        pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
        final_state(&pair)
    })
}

fn run_with_fault(pair: &DatabasePair, fault: &str) -> common::Outcome {
    run_with_fault_and(pair, fault, &[])
}

fn run_with_fault_and(pair: &DatabasePair, fault: &str, options: &[&str]) -> common::Outcome {
    let args = [&["run", "--chunk-size", CHUNK][..], options].concat();
    pair.run_with(&args, &[("ODOO_MIGRATE_FAULT", fault)])
}

fn assert_same_as_reference(pair: &DatabasePair, what: &str) {
    let (digests, mappings) = final_state(pair);
    let (expected_digests, expected_mappings) = reference();
    let differing = common::differing_tables(expected_digests, &digests);
    assert!(
        differing.is_empty(),
        "{what}: tables differ from the uninterrupted run: {differing:?}"
    );
    assert_eq!(&mappings, expected_mappings, "{what}: mappings differ");
}

fn killed_then_resumed(fault: &str) {
    killed_then_resumed_with(fault, &[]);
}

/// Kills a run started with `options` at `fault`, resumes it with the default options.
fn killed_then_resumed_with(fault: &str, options: &[&str]) {
    let pair = DatabasePair::new(&format!(
        "resume_{}{}",
        fault.replace(':', "_"),
        if options.is_empty() { "" } else { "_opt" }
    ));
    let killed = run_with_fault_and(&pair, fault, options);
    assert_ne!(killed.code, 0, "{fault}: the process should have died");
    assert!(
        killed.stderr.contains("fault injected"),
        "{fault}: {}",
        killed.stderr
    );
    let resumed = pair.run(&["run", "--chunk-size", CHUNK]);
    resumed.assert_code(0);
    assert!(
        resumed.stdout.contains("finished"),
        "{fault}: {}",
        resumed.stdout
    );
    assert_same_as_reference(&pair, fault);
    assert_eq!(
        pair.target.scalar(common::INDEXES_BUT_PLAN_COLUMNS),
        pristine_indexes().clone(),
        "{fault}: indexes differ from the fresh target's"
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.deferred_indexes"),
        0
    );
    pair.run(&["verify"]).assert_code(0);
}

/// The index definitions of a fresh target, read once.
fn pristine_indexes() -> &'static Option<String> {
    static PRISTINE: OnceLock<Option<String>> = OnceLock::new();
    PRISTINE.get_or_init(|| {
        common::Database::copy_of(common::Dump::Target, "resume_pristine_indexes")
            .scalar(common::INDEXES)
    })
}

#[test]
fn killed_while_planning() {
    killed_then_resumed("before_plan");
    killed_then_resumed("before_plan_commit");
    killed_then_resumed("after_foreign_keys_set_aside");
    // Resumed with foreign key triggers off, after keys were dropped: they are restored.
    killed_then_resumed_with(
        "after_foreign_keys_set_aside",
        &["--foreign-keys", "set-aside"],
    );
}

#[test]
fn killed_while_indexes_are_set_aside() {
    // Every table with a row loses its secondary indexes for the load; the process dies while
    // they are being set aside, with all of them aside, and while they are built again.
    for fault in [
        "after_indexes_set_aside:3",
        "before_finish",
        "after_index_built:5",
    ] {
        killed_then_resumed_with(fault, &["--rebuild-indexes-from", "1"]);
    }
}

#[test]
fn killed_at_the_start_of_a_chunk() {
    killed_then_resumed("before_chunk:7");
}

#[test]
fn killed_after_reading_a_chunk() {
    killed_then_resumed("after_chunk_rows:40");
}

#[test]
fn killed_before_a_chunk_commits() {
    killed_then_resumed("before_chunk_commit:90");
}

#[test]
fn killed_after_a_chunk_committed() {
    killed_then_resumed("after_chunk_commit:150");
}

#[test]
fn killed_before_the_finishing_steps() {
    killed_then_resumed("before_finish");
    killed_then_resumed("after_foreign_keys_checked");
    killed_then_resumed_with(
        "after_foreign_key_restored:500",
        &["--foreign-keys", "set-aside"],
    );
    killed_then_resumed("before_sequences");
}

/// Killed inside the rules' final SQL, its work done but not committed: its transaction is rolled
/// back but the ids it drew from the sequences are not, and the rows it creates (the manual fields
/// of the analytic plans' columns) must still get the ids of an uninterrupted run (found by
/// `bench/kill_trials.sh`: `ir_model_fields` differed after such a kill).
#[test]
fn killed_inside_the_final_sql() {
    killed_then_resumed("before_final_sql_commit");
}

#[test]
fn killed_while_making_per_company_copies() {
    // The copies and their external ids are inserted, the sequences moved past them, and the
    // process dies before the commit: the resumed run must give them the same ids.
    let pair = DatabasePair::new("resume_company_copies_probe");
    pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    assert!(
        pair.target.count("SELECT 1 FROM odoo_migrate.copied_rows") > 0,
        "the demo pair should need per-company copies, or this test proves nothing"
    );
    drop(pair);
    killed_then_resumed("before_company_copies_commit");
}

#[test]
fn killed_several_times_in_a_row() {
    let pair = DatabasePair::new("resume_several");
    for fault in [
        "before_chunk_commit:3",
        "after_chunk_rows:30",
        "before_chunk:60",
    ] {
        let killed = run_with_fault(&pair, fault);
        assert_ne!(killed.code, 0, "{fault}");
    }
    pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    assert_same_as_reference(&pair, "three kills");
}

/// Cuts the demo's big tables (mail_message, res_country_state) into slices of a few chunks.
const SLICED: [&str; 4] = ["--jobs", "4", "--slice-from", "1000"];

/// A run whose big tables are copied in slices by several jobs at once is killed while slices of
/// one table are in flight, at different checkpoints, or once some slices are done and the others
/// not: each slice resumes after its own checkpoint (one resuming from another's would copy rows
/// twice or leave some out) and the target equals the uninterrupted run's, which was not sliced.
#[test]
fn killed_while_the_slices_of_a_table_are_in_flight() {
    for (fault, state) in [
        (
            "after_slice_chunk_commit:3",
            "slices at different checkpoints",
        ),
        ("after_slice_chunk_commit:9", "some slices done, others not"),
    ] {
        let pair = DatabasePair::new(&format!("resume_{}", fault.replace(':', "_")));
        let killed = run_with_fault_and(&pair, fault, &SLICED);
        assert!(
            killed.stderr.contains("fault injected"),
            "{fault}: {}",
            killed.stderr
        );
        // The kill left a table with a slice that committed rows and another not finished.
        let in_flight = pair.target.count(
            "SELECT 1 FROM odoo_migrate.slices s JOIN odoo_migrate.model_state m USING (run_id, source_table) \
             WHERE m.status <> 'done' AND s.status <> 'done' AND EXISTS (SELECT 1 FROM odoo_migrate.slices o \
             WHERE o.run_id = s.run_id AND o.source_table = s.source_table AND o.slice <> s.slice AND o.rows_done > 0)",
        );
        assert!(in_flight > 0, "{fault}: no table was killed with {state}");
        if fault.ends_with(":9") {
            assert!(
                pair.target.count(
                    "SELECT 1 FROM odoo_migrate.slices s JOIN odoo_migrate.model_state m USING (run_id, source_table) \
                     WHERE m.status <> 'done' AND s.status = 'done'"
                ) > 0,
                "{fault}: no table was killed with {state}"
            );
        }
        let resumed = pair.run(&[&["run", "--chunk-size", CHUNK][..], &SLICED].concat());
        resumed.assert_code(0);
        assert_same_as_reference(&pair, fault);
        // Every slice read its own range once: the table's rows are the sum of its slices'.
        assert_eq!(
            pair.target.count(
                "SELECT 1 FROM odoo_migrate.model_state m JOIN odoo_migrate.slices s USING (run_id, source_table) \
                 GROUP BY m.source_table, m.status, m.rows_done, m.rows_total \
                 HAVING m.status <> 'done' OR bool_or(s.status <> 'done') OR m.rows_done <> m.rows_total \
                 OR m.rows_done <> sum(s.rows_done)"),
            0,
            "{fault}: a table's rows are not its slices'"
        );
        pair.run(&["verify"]).assert_code(0);
    }
}

/// A deadline stops the slices at a chunk boundary too; the next run finishes them.
#[test]
fn a_deadline_stops_sliced_tables_cleanly_and_the_next_run_finishes() {
    let pair = DatabasePair::new("resume_deadline_slices");
    let stopped = pair.run(
        &[
            &["run", "--chunk-size", CHUNK, "--max-duration", "0s"][..],
            &SLICED,
        ]
        .concat(),
    );
    stopped.assert_code(5);
    assert!(
        pair.target.count("SELECT 1 FROM odoo_migrate.slices") > 0,
        "the demo's big tables should be sliced, or this test proves nothing"
    );
    pair.run(&[&["run", "--chunk-size", CHUNK][..], &SLICED].concat())
        .assert_code(0);
    assert_same_as_reference(&pair, "deadline with slices");
}

#[test]
fn a_deadline_stops_cleanly_and_the_next_run_finishes() {
    let pair = DatabasePair::new("resume_deadline");
    let stopped = pair.run(&["run", "--chunk-size", CHUNK, "--max-duration", "0s"]);
    stopped.assert_code(5);
    stopped.assert_stdout_contains("deadline");
    let status = pair.run(&["--format", "json", "status"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["status"], "paused");
    pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    assert_same_as_reference(&pair, "deadline");
}

#[test]
fn a_second_run_at_the_same_time_is_refused() {
    let pair = DatabasePair::new("resume_lock");
    // First create the side schema, then hold the run lock as a running run would.
    pair.run(&["--format", "json", "analyze"]).assert_code(0);
    let target = pair.target.name.clone();
    let (holder_ready, release) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let (ready_tx, ready_rx) = holder_ready;
    let (release_tx, release_rx) = release;
    let holder = std::thread::spawn(move || {
        common::block_on(async move {
            let client = common::connect(&target).await;
            client
                .execute("SELECT pg_advisory_lock($1)", &[&0x6f64_6f6f_5f72_756e_i64])
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            let _ = release_rx.recv();
        })
    });
    ready_rx.recv().unwrap();
    let outcome = pair.run(&["run"]);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    outcome.assert_code(2);
    outcome.assert_stderr_contains("another odoo-migrate run");
    assert_eq!(pair.target.count("SELECT 1 FROM odoo_migrate.id_map"), 0);
}

#[test]
fn resuming_refuses_a_target_changed_behind_its_back() {
    let pair = DatabasePair::new("resume_changed");
    let killed = run_with_fault(&pair, "after_chunk_commit:150");
    assert_ne!(killed.code, 0);
    // Delete a record that a finished table of the run had created.
    let finished = pair
        .target
        .scalar(
            "SELECT model || '|' || target_table FROM odoo_migrate.model_state \
             WHERE status = 'done' AND kind = 'model' AND rows_created > 0 ORDER BY source_table LIMIT 1",
        )
        .expect("a table finished before the kill");
    let (model, table) = finished.split_once('|').unwrap();
    pair.target.execute(&format!(
        "DELETE FROM {table} WHERE id = (SELECT min(target_id) FROM odoo_migrate.id_map \
         WHERE model = '{model}' AND how = 'created')"
    ));
    let outcome = pair.run(&["run", "--chunk-size", CHUNK]);
    outcome.assert_code(8);
    outcome.assert_stderr_contains(model);
    outcome.assert_stderr_contains("rollback");
}

#[test]
fn ctrl_c_stops_at_a_chunk_boundary_and_the_next_run_finishes() {
    let pair = DatabasePair::new("resume_sigint");
    let code = common::run_and_act_while_paused(&pair, CHUNK, "before_chunk_commit:25", |pid| {
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill -INT");
        assert!(sent.success());
    });
    assert_eq!(code, 6, "an interrupted run exits 6");
    let status = pair.run(&["--format", "json", "status"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["status"], "interrupted");
    assert!(json["models_done"].as_i64().unwrap() < json["models_total"].as_i64().unwrap());
    pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    assert_same_as_reference(&pair, "SIGINT");
}

#[test]
fn lost_connections_are_retried_or_resumed() {
    let pair = DatabasePair::new("resume_terminate");
    let target = pair.target.name.clone();
    let source = pair.source.name.clone();
    let mut cut = Vec::new();
    let code = common::run_and_act_while_paused(&pair, CHUNK, "after_chunk_rows:30", |_| {
        for database in [&target, &source] {
            let database = database.clone();
            cut.push(common::block_on(async move {
                let admin = common::connect(&common::maintenance_db()).await;
                // How many of the run's connections to this database were really ended.
                admin
                    .query_one(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE datname = $1 AND application_name = 'odoo-migrate'",
                        &[&database],
                    )
                    .await
                    .unwrap()
                    .get::<_, i64>(0)
            }));
        }
    });
    // The paused run holds connections to both databases: each was cut, else the test proves
    // nothing about lost connections.
    assert!(
        cut.iter().all(|&n| n > 0),
        "connections ended on the target and the source: {cut:?}"
    );
    // The copy retries its chunk on fresh connections; if the session that holds the run lost
    // its own connection, the run fails and the next one resumes.
    if code != 0 {
        assert_eq!(code, 1, "a lost connection is a failure, not a crash");
        pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    }
    assert_same_as_reference(&pair, "terminated connections");
}

#[test]
fn keep_going_finishes_the_other_tables_and_the_failed_one_is_retried() {
    let pair = DatabasePair::new("resume_keep_going");
    let rules = rules_file(
        "keep-going",
        "[models.\"crm.lead\"]\ncolumns.name = { sql = \"NULL\", note = \"breaks the table on purpose\" }\n",
    );
    let failed = pair.run(&[
        "--rules",
        rules.arg(),
        "run",
        "--chunk-size",
        CHUNK,
        "--keep-going",
    ]);
    failed.assert_code(1);
    failed.assert_stderr_contains("crm_lead");
    failed.assert_stderr_contains("column name");
    let status = pair.run(&["--format", "json", "status"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["models_failed"], 1);
    assert_eq!(
        json["models_done"].as_i64().unwrap() + 1,
        json["models_total"].as_i64().unwrap(),
        "every other table finished"
    );
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'table_failed' AND table_name = 'crm_lead'"
        ),
        1
    );
    // With the rule fixed, the next run retries only the failed table and finishes.
    pair.run(&["run", "--chunk-size", CHUNK]).assert_code(0);
    assert_same_as_reference(&pair, "keep going");
}

#[test]
fn a_target_filled_from_another_source_is_refused() {
    let pair = DatabasePair::new("resume_other_source");
    pair.run(&["run"]).assert_code(0);
    pair.source
        .execute("UPDATE ir_config_parameter SET value = 'another-database-uuid' WHERE key = 'database.uuid'");
    let outcome = pair.run(&["run"]);
    outcome.assert_code(8);
    outcome.assert_stderr_contains("another source database");
}
