//! Foreign keys around the load, both ways (`--foreign-keys replica` and `set-aside`): every key is
//! in force and validated after a run, and a rule that writes an id pointing nowhere fails the run
//! naming the key and the value, leaves that key set aside and recorded, and `rollback` gives back
//! the pristine target with every key. The columns, keys, indexes and fields that the rules'
//! final SQL adds (the analytic plans' columns) are there after a run, with the lines in them, and
//! `rollback` takes them away again.

mod common;

use common::{Database, DatabasePair, Dump, rules_file};

const KEYS: &str = "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) \
     FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace";

/// [`KEYS`] but for the keys of the analytic plans' columns (`x_plan<id>_id`), which a run adds as
/// Odoo 19 does when a plan is created.
const KEYS_BUT_PLAN_COLUMNS: &str = "SELECT string_agg(conname || ':' || convalidated, ',' ORDER BY conname) \
     FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace \
     AND conname !~ '_x_plan[0-9]+_id_fkey$'";

/// Every column of the public schema's tables, for comparing a rolled-back target with a pristine one.
const COLUMNS: &str = "SELECT md5(string_agg(table_name || '.' || column_name || ':' || data_type, ',' \
     ORDER BY table_name, column_name)) FROM information_schema.columns WHERE table_schema = 'public'";

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
        // The pristine keys and indexes, and those of the analytic plans' columns (below).
        assert_eq!(
            pair.target.scalar(KEYS_BUT_PLAN_COLUMNS),
            pristine.scalar(KEYS)
        );
        assert_eq!(
            pair.target.scalar(common::INDEXES_BUT_PLAN_COLUMNS),
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

/// Since 18 every root analytic plan but the project plan has its column `x_plan<id>_id` on the
/// analytic lines, with a key, an index and a manual field, and the lines of its accounts are in
/// it: the rules' final SQL makes them, and `rollback` takes them away with the rest of the run.
#[test]
fn analytic_plan_columns_are_made_and_rollback_takes_them_away() {
    let pair = DatabasePair::new("plan_columns");
    let pristine = Database::copy_of(Dump::Target, "plan_columns_pristine");
    // The demo has analytic accounts of two root plans but no analytic line: one line each.
    pair.source.execute(
        "INSERT INTO account_analytic_line (id, name, date, amount, unit_amount, account_id, plan_id, company_id) \
         SELECT 9000 + row_number() OVER (ORDER BY a.root_plan_id), 'Cost', '2026-01-05', -100, 1, a.id, a.plan_id, 1 \
         FROM (SELECT DISTINCT ON (p.id) p.id AS root_plan_id, a.id, a.plan_id FROM account_analytic_account a \
         JOIN account_analytic_plan p ON p.id = a.plan_id WHERE p.parent_id IS NULL ORDER BY p.id, a.id) a",
    );
    let lines = pair.source.rows(
        "SELECT l.id::text, l.account_id::text, a.plan_id::text FROM account_analytic_line l \
         JOIN account_analytic_account a ON a.id = l.account_id WHERE l.id > 9000 ORDER BY l.id",
    );
    assert!(lines.len() >= 2, "two root plans with accounts: {lines:?}");
    pair.run(&["run"]).assert_code(0);

    let plans = pair.target.id_map("account.analytic.plan");
    let accounts = pair.target.id_map("account.analytic.account");
    let migrated_lines = pair.target.id_map("account.analytic.line");
    let project_plan = pair
        .target
        .scalar("SELECT value FROM ir_config_parameter WHERE key = 'analytic.project_plan'")
        .expect("19 names its project plan");
    let mut columns_made = 0;
    for line in &lines {
        let id = |v: &Option<String>| v.as_deref().unwrap().parse::<i32>().unwrap();
        let (line_id, account, plan) = (
            migrated_lines[&id(&line[0])],
            accounts[&id(&line[1])],
            plans[&id(&line[2])],
        );
        let stored = |column: &str| {
            pair.target.scalar(&format!(
                "SELECT {column}::text FROM account_analytic_line WHERE id = {line_id}"
            ))
        };
        if plan.to_string() == project_plan {
            assert_eq!(stored("account_id"), Some(account.to_string()));
            continue;
        }
        let column = format!("x_plan{plan}_id");
        assert_eq!(stored("account_id"), None, "{column}");
        assert_eq!(stored(&column), Some(account.to_string()));
        assert_eq!(
            pair.target.count(&format!(
                "SELECT 1 FROM ir_model_fields WHERE model = 'account.analytic.line' AND name = '{column}' \
                 AND state = 'manual' AND ttype = 'many2one' AND relation = 'account.analytic.account'"
            )),
            1
        );
        assert_eq!(
            pair.target.count(&format!(
                "SELECT 1 FROM pg_constraint WHERE conrelid = 'account_analytic_line'::regclass AND contype = 'f' \
                 AND convalidated AND pg_get_constraintdef(oid) LIKE 'FOREIGN KEY ({column}) REFERENCES account_analytic_account(id)%'"
            )),
            1
        );
        columns_made += 1;
    }
    assert!(
        columns_made > 0,
        "a line of a plan other than the project plan: {lines:?}"
    );
    // verify --deep does not take the moved accounts for changed values.
    pair.run(&["verify", "--deep"]).assert_code(0);

    pair.run(&["rollback"]).assert_code(0);
    pair.target.assert_same_tables_as(&pristine);
    assert_eq!(pair.target.scalar(COLUMNS), pristine.scalar(COLUMNS));
    assert_eq!(pair.target.scalar(KEYS), pristine.scalar(KEYS));
    assert_eq!(
        pair.target.scalar(common::INDEXES),
        pristine.scalar(common::INDEXES)
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM ir_model_fields WHERE name ~ '^x_plan[0-9]+_id$'"),
        0
    );
}

/// A rollback killed after it removed the run's rows, while it restores the foreign keys it set
/// aside for that, leaves keys missing; `rollback` again, without naming the run (as the failed
/// rollback's message says to do), restores them and the target is the pristine one, keys and
/// indexes included. A third `rollback` has nothing left to do and says so.
#[test]
fn a_rollback_killed_while_restoring_keys_is_finished_by_the_next_rollback() {
    let pair = DatabasePair::new("keys_rollback_killed");
    let pristine = Database::copy_of(Dump::Target, "keys_rollback_killed_pristine");
    pair.run(&["run"]).assert_code(0);

    let killed = pair.run_with(
        &["rollback"],
        &[("ODOO_MIGRATE_FAULT", "after_foreign_key_restored")],
    );
    assert_ne!(
        killed.code, 0,
        "the rollback was not killed: {}",
        killed.stderr
    );
    let keys = |database: &Database| -> Vec<String> {
        database.column(
            "SELECT conname::text FROM pg_constraint WHERE contype = 'f' \
             AND connamespace = 'public'::regnamespace ORDER BY 1",
        )
    };
    let left = keys(&pair.target);
    let missing = keys(&pristine)
        .into_iter()
        .filter(|key| !left.contains(key))
        .count();
    assert!(missing > 0, "the killed rollback left no key aside");

    pair.run(&["rollback"])
        .assert_code(0)
        .assert_stdout_contains("left aside are now restored");
    pair.target.assert_same_tables_as(&pristine);
    assert_eq!(pair.target.scalar(KEYS), pristine.scalar(KEYS));
    assert_eq!(
        pair.target.scalar(common::INDEXES),
        pristine.scalar(common::INDEXES)
    );
    pair.run(&["rollback"])
        .assert_code(2)
        .assert_stderr_contains("no migration run to roll back");
    // Named, the finished rollback's run is refused as such, and the target stays as it is.
    let run = pair
        .target
        .scalar("SELECT max(number) FROM odoo_migrate.runs WHERE command = 'run'")
        .expect("the run");
    pair.run(&["rollback", "--run", &run])
        .assert_code(2)
        .assert_stderr_contains(&format!("run {run} was already rolled back"));
    pair.target.assert_same_tables_as(&pristine);
}

/// A rollback of a run killed once it had set its indexes aside, itself killed while it builds
/// them again (its keys already restored), leaves only indexes aside: the next `rollback` builds
/// them and the target is the pristine one.
#[test]
fn a_rollback_killed_while_building_indexes_again_is_finished_by_the_next_rollback() {
    let pair = DatabasePair::new("indexes_rollback_killed");
    let pristine = Database::copy_of(Dump::Target, "indexes_rollback_killed_pristine");
    let killed = pair.run_with(
        &["run", "--rebuild-indexes-from", "1"],
        &[("ODOO_MIGRATE_FAULT", "after_indexes_set_aside:3")],
    );
    assert_ne!(killed.code, 0, "the run was not killed: {}", killed.stderr);
    let aside = |database: &Database| {
        database
            .scalar("SELECT count(*) FROM odoo_migrate.deferred_indexes")
            .expect("a count")
    };
    assert_ne!(
        aside(&pair.target),
        "0",
        "the killed run set no index aside"
    );

    let killed = pair.run_with(
        &["rollback"],
        &[("ODOO_MIGRATE_FAULT", "after_index_built")],
    );
    assert_ne!(
        killed.code, 0,
        "the rollback was not killed: {}",
        killed.stderr
    );
    assert_ne!(
        aside(&pair.target),
        "0",
        "the killed rollback left no index aside"
    );
    assert_eq!(
        pair.target
            .scalar("SELECT count(*) FROM odoo_migrate.deferred_constraints")
            .as_deref(),
        Some("0"),
        "the killed rollback had restored every key"
    );

    pair.run(&["rollback"])
        .assert_code(0)
        .assert_stdout_contains("left aside are now restored");
    assert_eq!(aside(&pair.target), "0");
    pair.target.assert_same_tables_as(&pristine);
    assert_eq!(
        pair.target.scalar(common::INDEXES),
        pristine.scalar(common::INDEXES)
    );
}
