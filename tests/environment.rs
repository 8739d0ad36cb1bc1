//! Broken environments and wrong databases, on real dumps modified by the tests: every case ends
//! with a clear error (or a clean success where the tool can cope), and an unchanged or resumable
//! target.

mod common;

use common::{DatabasePair, odoo_migrate};

fn has_side_schema(database: &common::Database) -> bool {
    database.count("SELECT 1 FROM pg_namespace WHERE nspname = 'odoo_migrate'") == 1
}

#[test]
fn a_database_wide_statement_timeout_does_not_cut_the_copy() {
    let pair = DatabasePair::new("env_statement_timeout");
    for database in [&pair.source, &pair.target] {
        database.execute(&format!(
            "ALTER DATABASE {} SET statement_timeout = '20ms'",
            database.name
        ));
    }
    pair.run(&["run"]).assert_code(0);
    pair.run(&["verify"]).assert_code(0);
}

#[test]
fn a_table_locked_by_another_session_is_named_and_the_run_resumes_later() {
    let pair = DatabasePair::new("env_lock");
    let target = pair.target.name.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        common::block_on(async move {
            let mut client = common::connect(&target).await;
            let transaction = client.transaction().await.unwrap();
            transaction
                .batch_execute("LOCK TABLE res_partner IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
            transaction.rollback().await.unwrap();
        })
    });
    locked_rx.recv().unwrap();
    let blocked = odoo_migrate(
        &[
            "--source",
            &pair.source.url(),
            "--target",
            &pair.target.url(),
            "run",
        ],
        &[("ODOO_MIGRATE_LOCK_TIMEOUT", "1s")],
    );
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(blocked.code, 1, "{}", blocked.stderr);
    assert!(blocked.stderr.contains("res_partner"), "{}", blocked.stderr);
    assert!(
        blocked.stderr.contains("holds a lock"),
        "{}",
        blocked.stderr
    );
    pair.run(&["run"]).assert_code(0);
    pair.run(&["verify"]).assert_code(0);
}

#[test]
fn a_read_only_source_role_is_enough() {
    let pair = DatabasePair::new("env_reader");
    let role = format!("omt_reader_{}", std::process::id());
    pair.source.execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT pg_read_all_data TO {role}"
    ));
    let source =
        pair.source
            .url()
            .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let before = pair.source.table_digests();
    let outcome = odoo_migrate(
        &["--source", &source, "--target", &pair.target.url(), "run"],
        &[],
    );
    let verify = odoo_migrate(
        &[
            "--source",
            &source,
            "--target",
            &pair.target.url(),
            "verify",
        ],
        &[],
    );
    pair.source
        .execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    assert_eq!(
        pair.source.table_digests(),
        before,
        "the source is unchanged"
    );
}

#[test]
fn a_target_role_that_may_not_create_the_side_schema_gets_a_clear_error() {
    let pair = DatabasePair::new("env_no_create");
    let role = format!("omt_guest_{}", std::process::id());
    pair.target.execute(&format!(
        "CREATE ROLE {role} LOGIN; REVOKE CREATE ON DATABASE {} FROM PUBLIC; \
         GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        pair.target.name
    ));
    let target =
        pair.target
            .url()
            .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    let outcome = odoo_migrate(
        &[
            "--source",
            &pair.source.url(),
            "--target",
            &target,
            "analyze",
        ],
        &[],
    );
    pair.target
        .execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
    assert_eq!(outcome.code, 7, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("permission denied"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("database owner"),
        "{}",
        outcome.stderr
    );
    assert!(!has_side_schema(&pair.target));
}

#[test]
fn a_module_the_target_lacks_stops_the_run_before_anything_is_written() {
    let pair = DatabasePair::new("env_module");
    pair.source.execute(
        "INSERT INTO ir_module_module (name, state, latest_version) VALUES ('x_our_addon', 'installed', '16.0.1.0')",
    );
    let outcome = pair.run(&["run"]);
    outcome.assert_code(3);
    assert!(outcome.stderr.contains("x_our_addon"), "{}", outcome.stderr);
    assert!(!has_side_schema(&pair.target), "nothing written");
    // A rule saying what became of it lets the run go.
    let rules = std::env::temp_dir().join(format!("addon-{}.toml", std::process::id()));
    std::fs::write(
        &rules,
        "[modules.x_our_addon]\nremoved = true\nnote = \"not needed in 19\"\n",
    )
    .unwrap();
    let go = pair.run(&["--rules", rules.to_str().unwrap(), "run"]);
    let _ = std::fs::remove_file(rules);
    go.assert_code(0);
}

#[test]
fn a_target_with_business_data_of_its_own_is_refused() {
    let pair = DatabasePair::new("env_not_fresh");
    pair.target.execute(
        "INSERT INTO crm_lead (name, type, active) VALUES ('Somebody else''s lead', 'lead', true)",
    );
    let outcome = pair.run(&["run"]);
    outcome.assert_code(8);
    assert!(
        outcome.stderr.contains("crm_lead: 1 rows"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("freshly created"),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.runs WHERE command = 'run'"),
        0
    );
}

#[test]
fn a_source_that_changes_during_the_run_is_detected() {
    let pair = DatabasePair::new("env_source_changes");
    let source = pair.source.name.clone();
    let code = common::run_and_act_while_paused(&pair, "400", "after_chunk_commit:40", |_| {
        common::block_on(async move {
            common::connect(&source)
                .await
                .batch_execute(
                    "INSERT INTO res_partner (name, active, type) VALUES ('Typed in during the night', true, 'contact')",
                )
                .await
                .unwrap();
        })
    });
    assert_eq!(code, 8, "a changed source is a wrong database for this run");
    assert_eq!(
        pair.target.count("SELECT 1 FROM odoo_migrate.problems WHERE kind = 'source_changed' AND message LIKE '%res_partner%'"),
        1
    );
}

#[test]
fn a_source_record_edited_in_place_during_the_run_is_detected() {
    let pair = DatabasePair::new("env_source_edited");
    let source = pair.source.name.clone();
    let code = common::run_and_act_while_paused(&pair, "400", "after_chunk_commit:40", |_| {
        common::block_on(async move {
            // As Odoo writes: the value and write_date, nothing added or removed.
            common::connect(&source)
                .await
                .batch_execute(
                    "UPDATE res_partner SET name = name || ' (edited at night)', write_date = now() at time zone 'utc' \
                     WHERE id = (SELECT min(id) FROM res_partner)",
                )
                .await
                .unwrap();
        })
    });
    assert_eq!(code, 8, "a changed source is a wrong database for this run");
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'source_changed' \
             AND message LIKE '%res_partner: records written at % since the plan%'"
        ),
        1
    );
}

#[test]
fn no_command_writes_to_the_source() {
    let pair = DatabasePair::new("env_source_untouched");
    let before = pair.source.table_digests();
    for command in [
        &["analyze"][..],
        &["rehearse", "--sample", "2"],
        &["run"],
        &["status"],
        &["verify", "--deep"],
        &["run", "--update", "res.partner:name"],
        &["rollback"],
    ] {
        let outcome = pair.run(command);
        assert_eq!(outcome.code, 0, "{command:?}: {}", outcome.stderr);
        assert_eq!(
            pair.source.table_digests(),
            before,
            "{command:?} changed the source"
        );
    }
}
