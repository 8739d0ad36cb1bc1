//! Foreign keys around the load, both ways (`--foreign-keys replica` and `set-aside`): every key is
//! in force and validated after a run, and a rule that writes an id pointing nowhere fails the run
//! naming the key and the value, leaves that key set aside and recorded, and `rollback` gives back
//! the pristine target with every key.

mod common;

use common::{Database, DatabasePair, Dump, rules_file};

const KEYS: &str = "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) \
     FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace";

#[test]
fn every_way_ends_with_every_key_and_index_in_force_and_the_same_rows() {
    let replica = DatabasePair::new("keys_replica");
    let set_aside = DatabasePair::new("keys_set_aside");
    // Triggers off and the indexes of every table with a row built after the load; keys dropped
    // and restored with every index kept during the load.
    let outcome = replica.run(&[
        "run",
        "--foreign-keys",
        "replica",
        "--rebuild-indexes-from",
        "1",
    ]);
    outcome.assert_code(0);
    outcome.assert_stderr_contains("secondary indexes set aside for the load");
    set_aside
        .run(&[
            "run",
            "--foreign-keys",
            "set-aside",
            "--rebuild-indexes-from",
            "0",
        ])
        .assert_code(0);
    let pristine = Database::copy_of(Dump::Target, "keys_pristine");
    for pair in [&replica, &set_aside] {
        assert_eq!(pair.target.scalar(KEYS), pristine.scalar(KEYS));
        assert_eq!(
            pair.target.scalar(common::INDEXES),
            pristine.scalar(common::INDEXES)
        );
        assert_eq!(
            pair.target
                .count("SELECT 1 FROM odoo_migrate.deferred_constraints"),
            0
        );
        // The mappings' index by target id, set aside for the replica run's load, is back.
        assert_eq!(
            pair.target.count(
                "SELECT 1 FROM pg_indexes WHERE schemaname = 'odoo_migrate' AND indexname = 'id_map_target'"
            ),
            1
        );
    }

    let differing = common::differing_tables(
        &replica.target.table_digests(),
        &set_aside.target.table_digests(),
    );
    // The side schema records the option chosen; the business tables are identical.
    assert!(
        differing.iter().all(|t| t.starts_with("odoo_migrate.")),
        "{differing:?}"
    );
    replica.run(&["verify"]).assert_code(0);
}

fn an_orphan_fails_the_run_and_rollback_restores(strategy: &str) {
    let pair = DatabasePair::new(&format!("keys_orphan_{}", strategy.replace('-', "_")));
    let pristine = Database::copy_of(
        Dump::Target,
        &format!("keys_orphan_pristine_{}", strategy.replace('-', "_")),
    );
    let rules = rules_file(
        &format!("orphan-{strategy}"),
        "[models.\"res.partner\"]\ncolumns.country_id = { sql = \"CASE WHEN s.id = 7 THEN 999999 END\", note = \"points nowhere on purpose\" }\n",
    );
    let outcome = pair.run(&[
        "--rules",
        rules.arg(),
        "run",
        "--foreign-keys",
        strategy,
        "--rebuild-indexes-from",
        "1",
    ]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("res_partner.res_partner_country_id_fkey")
            && outcome.stderr.contains("999999"),
        "{strategy}: {}",
        outcome.stderr
    );
    // The key that does not hold is set aside and recorded; the others are in force.
    assert_eq!(
        pair.target
            .scalar(
                "SELECT string_agg(constraint_name, ',') FROM odoo_migrate.deferred_constraints"
            )
            .as_deref(),
        Some("res_partner_country_id_fkey")
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM pg_constraint WHERE conname = 'res_partner_country_id_fkey'"),
        0
    );
    pair.run(&["verify"]).assert_code(4);

    pair.run(&["rollback"]).assert_code(0);
    let differing =
        common::differing_tables(&pristine.table_digests(), &pair.target.table_digests());
    assert!(differing.is_empty(), "{strategy}: {differing:?}");
    assert_eq!(pair.target.scalar(KEYS), pristine.scalar(KEYS));
    assert_eq!(
        pair.target.scalar(common::INDEXES),
        pristine.scalar(common::INDEXES)
    );
}

#[test]
fn an_orphan_fails_the_run_with_triggers_off() {
    an_orphan_fails_the_run_and_rollback_restores("replica");
}

#[test]
fn an_orphan_fails_the_run_with_keys_set_aside() {
    an_orphan_fails_the_run_and_rollback_restores("set-aside");
}
