//! Broken environments and wrong databases, on real dumps modified by the tests: every case ends
//! with a clear error (or a clean success where the tool can cope), and an unchanged or resumable
//! target.

mod common;

use common::{DatabasePair, migrate, rules_file};

#[test]
fn a_database_wide_statement_timeout_does_not_cut_the_copy() {
    let pair = DatabasePair::new("env_statement_timeout");
    for database in [&pair.source, &pair.target] {
        database.execute(&format!(
            "ALTER DATABASE {} SET statement_timeout = '20ms'",
            database.name
        ));
    }
    pair.run_and_verify();
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
    let blocked = pair.run_with(&["run"], &[("ODOO_MIGRATE_LOCK_TIMEOUT", "1s")]);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(blocked.code, 1, "{}", blocked.stderr);
    blocked.assert_stderr_contains("res_partner");
    blocked.assert_stderr_contains("holds a lock");
    pair.run_and_verify();
}

#[test]
fn a_read_only_source_role_is_enough() {
    let pair = DatabasePair::new("env_reader");
    let role = format!("omt_reader_{}", std::process::id());
    pair.source.execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{role}'; GRANT pg_read_all_data TO {role}"
    ));
    // As that role, whoever the test role is (its password works where the server asks for one).
    let source = common::url_as(&role, Some(&role), &pair.source.name);
    // That URL logs in as the role, and the role really cannot write: whatever user
    // ODOO_MIGRATE_TEST_PG names, the run below cannot be a superuser's.
    let write = {
        let mut config = common::admin_config();
        config.user(&role).password(&role).dbname(&pair.source.name);
        common::block_on(async move {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let user: String = client
                .query_one("SELECT current_user::text", &[])
                .await
                .unwrap()
                .get(0);
            let write = client
                .batch_execute("UPDATE res_partner SET name = name WHERE id = (SELECT min(id) FROM res_partner)")
                .await;
            (user, write.map_err(|e| common::describe(&e)))
        })
    };
    assert_eq!(write.0, role, "the role's URL logs in as the role");
    assert!(
        write
            .1
            .as_ref()
            .is_err_and(|e| e.contains("permission denied")),
        "the role may not write to the source: {:?}",
        write.1
    );
    let before = pair.source.table_digests();
    let outcome = migrate(&source, &pair.target.url(), &["run"], &[]);
    let verify = migrate(&source, &pair.target.url(), &["verify"], &[]);
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
        "CREATE ROLE {role} LOGIN PASSWORD '{role}'; REVOKE CREATE ON DATABASE {} FROM PUBLIC; \
         GRANT USAGE ON SCHEMA public TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        pair.target.name
    ));
    let target = common::url_as(&role, Some(&role), &pair.target.name);
    let outcome = migrate(&pair.source.url(), &target, &["analyze"], &[]);
    pair.target
        .execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"));
    outcome
        .assert_code(7)
        .assert_stderr_contains("permission denied")
        .assert_stderr_contains("database owner");
    assert!(!pair.target.has_side_schema());
}

#[test]
fn a_module_the_target_lacks_stops_the_run_before_anything_is_written() {
    let pair = DatabasePair::new("env_module");
    pair.source.execute(
        "INSERT INTO ir_module_module (name, state, latest_version) VALUES ('x_our_addon', 'installed', '16.0.1.0')",
    );
    pair.run(&["run"])
        .assert_code(3)
        .assert_stderr_contains("x_our_addon");
    assert!(!pair.target.has_side_schema(), "nothing written");
    // A rule saying what became of it lets the run go.
    let rules = rules_file(
        "addon",
        "[modules.x_our_addon]\nremoved = true\nnote = \"not needed in 19\"\n",
    );
    pair.run(&["--rules", rules.arg(), "run"]).assert_code(0);
}

#[test]
fn a_target_with_business_data_of_its_own_is_refused() {
    let pair = DatabasePair::new("env_not_fresh");
    pair.target.execute(
        "INSERT INTO crm_lead (name, type, active) VALUES ('Somebody else''s lead', 'lead', true)",
    );
    pair.run(&["run"])
        .assert_code(8)
        .assert_stderr_contains("crm_lead: 1 rows")
        .assert_stderr_contains("freshly created");
    // Refused before anything is written: not even the side schema.
    assert!(!pair.target.has_side_schema());
}

/// Runs a migration that pauses after a few chunks while `sql` changes the source; its exit code.
fn run_while_the_source_changes(pair: &DatabasePair, sql: &str) -> i32 {
    common::run_and_act_while_paused(pair, "400", "after_chunk_commit:40", |_| {
        pair.source.execute(sql)
    })
}

#[test]
fn a_source_that_changes_during_the_run_is_detected() {
    let pair = DatabasePair::new("env_source_changes");
    let code = run_while_the_source_changes(
        &pair,
        "INSERT INTO res_partner (name, active, type) VALUES ('Typed in during the night', true, 'contact')",
    );
    assert_eq!(code, 8, "a changed source is a wrong database for this run");
    assert_eq!(
        pair.target.count("SELECT 1 FROM odoo_migrate.problems WHERE kind = 'source_changed' AND message LIKE '%res_partner%'"),
        1
    );
}

#[test]
fn a_source_record_edited_in_place_during_the_run_is_detected() {
    let pair = DatabasePair::new("env_source_edited");
    // As Odoo writes: the value and write_date, nothing added or removed.
    let code = run_while_the_source_changes(
        &pair,
        "UPDATE res_partner SET name = name || ' (edited at night)', write_date = now() at time zone 'utc' \
         WHERE id = (SELECT min(id) FROM res_partner)",
    );
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
