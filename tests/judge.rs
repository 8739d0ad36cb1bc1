//! Odoo 19's judge in `verify` (`--odoo-bin`): it runs on a migrated demo pair, leaves the target's
//! rows as they were, records its results in `odoo_migrate.verification_results`, and each of
//! three kinds of damage done to the target afterwards (a wrong
//! `product_product.combination_indices`, an analytic plan without its column, a wrong
//! `stock_move.is_in`) changes exactly the judge's result that names it, and nothing else.
//!
//! The migrated demo passes every check of the judge (skips with their reasons aside); each damage
//! is compared with the judge's results just before it, and the delta is asserted.
//!
//! The same judge passes on a migration of the demo database after a day of work in Odoo 16
//! (`holdout/odoo16_flows.dump`): every check, and its business actions run on migrated records.
//!
//! Needs an Odoo 19 installation as made by `../shared/odoo19/setup.sh DIR` (DIR/venv and
//! DIR/src), named by `ODOO_MIGRATE_ODOO19=DIR`; without it the test fails and says how to make
//! one, unless `ODOO_MIGRATE_SKIP_JUDGE=1`.

mod common;

use std::collections::BTreeMap;

use common::odoo::{Odoo, odoo19};
use common::{Database, DatabasePair, Dump, Outcome, migrate};
use serde_json::Value;

/// (check, subject) → (passed, target_value) of the judge's results of one `verify`.
type Judged = BTreeMap<(String, String), (bool, String)>;

fn verify(pair: &DatabasePair, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let (source, target) = (pair.source_url(), pair.target_url());
    let mut args = vec!["--source", &source, "--target", &target, "--format", "json"];
    args.push("verify");
    args.extend(extra);
    common::odoo_migrate(&args, env)
}

/// Runs the judge alone and returns its results as `verify` stored them in the target. Every
/// differing id is listed in the details (JUDGE_EXAMPLES).
fn judge(pair: &DatabasePair, odoo: &Odoo) -> Judged {
    let (python, odoo_bin, conf) = (
        odoo.python.display().to_string(),
        odoo.odoo_bin.display().to_string(),
        odoo.conf.display().to_string(),
    );
    let outcome = verify(
        pair,
        &[
            "--check",
            "odoo",
            "--odoo-bin",
            &odoo_bin,
            "--odoo-python",
            &python,
            "--odoo-conf",
            &conf,
        ],
        &[("JUDGE_EXAMPLES", "100000")],
    );
    assert!(
        [0, 4].contains(&outcome.code),
        "verify with the judge: exit {}\n{}\n{}",
        outcome.code,
        outcome.stdout,
        outcome.stderr
    );
    pair.target
        .rows(
            "SELECT check_name, subject, passed::text, target_value FROM odoo_migrate.verification_results \
             WHERE run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')",
        )
        .into_iter()
        .map(|row| {
            let text = |i: usize| row[i].clone().unwrap_or_default();
            ((text(0), text(1)), (text(2) == "true", text(3)))
        })
        .collect()
}

/// The failures that differ between two runs of the judge: a result that fails in one run only,
/// or fails in both with other figures (results that pass, e.g. a read of one record more, and
/// new results that pass do not count).
fn delta(before: &Judged, after: &Judged) -> Vec<String> {
    let keys: std::collections::BTreeSet<&(String, String)> =
        before.keys().chain(after.keys()).collect();
    let failure = |judged: &Judged, key: &(String, String)| {
        judged
            .get(key)
            .filter(|(passed, _)| !passed)
            .map(|(_, value)| value.clone())
    };
    keys.into_iter()
        .filter(|key| failure(before, key) != failure(after, key))
        .map(|key| {
            format!(
                "{} {}: {:?} → {:?}",
                key.0,
                key.1,
                failure(before, key),
                failure(after, key)
            )
        })
        .collect()
}

/// The ids the newest `verify` lists as differing for a recomputed field.
fn differing_ids(pair: &DatabasePair, subject: &str) -> Vec<i64> {
    let detail = pair
        .target
        .scalar(&format!(
            "SELECT detail FROM odoo_migrate.verification_results WHERE check_name = 'odoo-recompute' \
             AND subject = '{subject}' AND NOT passed \
             AND run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')"
        ))
        .unwrap_or_default();
    detail
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// A migrated record of `model` in `table` that the judge does not list as differing for
/// `subject`.
fn agreeing_record(pair: &DatabasePair, model: &str, table: &str, subject: &str) -> i64 {
    let differing = differing_ids(pair, subject);
    let listed: Vec<String> = differing.iter().map(i64::to_string).collect();
    pair.target
        .scalar(&format!(
            "SELECT t.id FROM {table} t JOIN odoo_migrate.id_map m ON m.model = '{model}' \
             AND m.target_id = t.id WHERE NOT (t.id = ANY('{{{}}}'::int[])) ORDER BY t.id LIMIT 1",
            listed.join(",")
        ))
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no migrated {model} on which the judge agrees for {subject}"))
}

#[test]
fn the_judge_sees_each_damage_and_nothing_else() {
    let Some(odoo) = odoo19() else {
        return;
    };
    let pair = DatabasePair::new("judge");
    pair.run(&["run"]).assert_code(0);
    refusals(&pair, &odoo);

    let rows_before = pair.target.table_digests();
    let baseline = judge(&pair, &odoo);
    assert_eq!(
        pair.target.table_digests(),
        rows_before,
        "the judge leaves every row of the target as it was"
    );
    // Odoo 19 finds nothing to object to on the migrated demo: every check recorded, each passed
    // (or skipped with its reason, e.g. a field a view model lacks, a value the rules call
    // unknowable).
    for check in [
        "odoo-judge",
        "odoo-registry",
        "odoo-trial-balance",
        "odoo-read",
        "odoo-recompute",
        "odoo-constraints",
        "odoo-analytic",
        "odoo-actions",
    ] {
        let results: Vec<_> = baseline.iter().filter(|(k, _)| k.0 == check).collect();
        assert!(!results.is_empty(), "{check} recorded: {baseline:?}");
        assert!(results.iter().all(|(_, v)| v.0), "{check}: {results:?}");
    }
    // The demo has a record for each business action: each ran, none was skipped.
    for action in [
        "post_invoice",
        "register_payment",
        "confirm_quotation",
        "validate_transfer",
    ] {
        let result = baseline.get(&("odoo-actions".to_string(), action.to_string()));
        assert!(
            result.is_some_and(|(passed, value)| *passed && value != "skipped"),
            "{action} ran and passed on the migrated demo: {result:?}"
        );
    }

    // A variant whose attribute value ids are not Odoo 19's: variant lookup would break.
    let subject = "product.product.combination_indices";
    let product = agreeing_record(&pair, "product.product", "product_product", subject);
    pair.target.execute(&format!(
        "UPDATE product_product SET combination_indices = \
         CASE WHEN combination_indices = '' THEN '0' ELSE combination_indices || ',0' END WHERE id = {product}"
    ));
    let damaged = judge(&pair, &odoo);
    assert_one_more_differing(&pair, &baseline, &damaged, subject, product);
    pair.target.execute(&format!(
        "UPDATE product_product SET combination_indices = \
         regexp_replace(combination_indices, '(^|,)0$', '') WHERE id = {product}"
    ));

    // A move whose direction is wrong: stock valuation in 19 relies on is_in.
    let subject = "stock.move.is_in";
    let stock_move = agreeing_record(&pair, "stock.move", "stock_move", subject);
    let flip =
        format!("UPDATE stock_move SET is_in = NOT coalesce(is_in, false) WHERE id = {stock_move}");
    pair.target.execute(&flip);
    let damaged = judge(&pair, &odoo);
    assert_one_more_differing(&pair, &baseline, &damaged, subject, stock_move);
    pair.target.execute(&flip);

    // An analytic plan whose column (x_plan<id>_id) is missing: Odoo 19 cannot place its lines.
    let plan = pair
        .target
        .rows(
            "INSERT INTO account_analytic_plan (name, complete_name, parent_path) \
             VALUES ('{\"en_US\": \"Judge damage\"}', 'Judge damage', '') RETURNING id",
        )
        .first()
        .and_then(|row| row[0].clone())
        .expect("a new plan");
    pair.target.execute(&format!(
        "UPDATE account_analytic_plan SET parent_path = id || '/' WHERE id = {plan}"
    ));
    let damaged = judge(&pair, &odoo);
    let changes = delta(&baseline, &damaged);
    let column = format!("account.analytic.line.x_plan{plan}_id");
    assert_eq!(
        damaged.get(&("odoo-analytic".to_string(), column.clone())),
        Some(&(false, "failed".to_string())),
        "{changes:?}"
    );
    // What else may fail is what Odoo 19 itself cannot do without that column: read the analytic
    // accounts and check their company consistency, which look up their plan's column. Nothing
    // outside analytic accounting.
    assert!(
        changes.iter().all(|c| {
            (c.starts_with("odoo-analytic ") && c.contains(&format!(".x_plan{plan}_id:")))
                || c.starts_with("odoo-read account.analytic.account:")
                || c.starts_with("odoo-constraints account.analytic.account.")
        }),
        "only the new plan's column and what reads it fail: {changes:#?}"
    );
    pair.target.execute(&format!(
        "DELETE FROM account_analytic_plan WHERE id = {plan}"
    ));
    assert!(
        delta(&baseline, &judge(&pair, &odoo)).is_empty(),
        "undone, the damages leave the judge where it was"
    );
    if let Some(own) = odoo.conf.parent() {
        let _ = std::fs::remove_dir_all(own);
    }
}

/// The damaged field is the only change: one record more differs, and it is the damaged one.
fn assert_one_more_differing(
    pair: &DatabasePair,
    baseline: &Judged,
    damaged: &Judged,
    subject: &str,
    id: i64,
) {
    let changes = delta(baseline, damaged);
    let key = ("odoo-recompute".to_string(), subject.to_string());
    let count = |judged: &Judged| -> i64 {
        judged.get(&key).map_or(0, |(passed, value)| {
            if *passed {
                0
            } else {
                value
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(-1)
            }
        })
    };
    assert_eq!(changes.len(), 1, "only {subject} changes: {changes:#?}");
    assert_eq!(
        damaged.get(&key).map(|v| v.0),
        Some(false),
        "{subject} fails"
    );
    assert_eq!(
        count(damaged),
        count(baseline) + 1,
        "one record more differs: {changes:?}"
    );
    assert!(
        differing_ids(pair, subject).contains(&id),
        "the damaged record {id} is named"
    );
}

/// Clear refusals: no --odoo-bin for --check odoo, a path that is not there, an odoo-bin that is
/// not Odoo 19; and without --odoo-bin the judge is reported as not run.
fn refusals(pair: &DatabasePair, odoo: &Odoo) {
    let outcome = verify(pair, &["--check", "odoo"], &[]);
    outcome.assert_code(2);
    assert!(outcome.stderr.contains("--odoo-bin"), "{}", outcome.stderr);

    let outcome = verify(
        pair,
        &["--check", "odoo", "--odoo-bin", "/nowhere/odoo-bin"],
        &[],
    );
    outcome.assert_code(2);
    assert!(
        outcome.stderr.contains("/nowhere/odoo-bin: does not exist"),
        "{}",
        outcome.stderr
    );

    let older = odoo.conf.with_file_name("odoo-bin-17");
    std::fs::write(&older, "print('Odoo Server 17.0')\n").expect("write a fake odoo-bin");
    let python = odoo.python.display().to_string();
    let outcome = verify(
        pair,
        &[
            "--check",
            "odoo",
            "--odoo-bin",
            &older.display().to_string(),
            "--odoo-python",
            &python,
        ],
        &[],
    );
    outcome.assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("is Odoo 17.0; the judge needs Odoo 19"),
        "{}",
        outcome.stderr
    );

    // An Odoo that dies before it loads the registry (as when its code cannot open the
    // database): the failed odoo-registry shows what Odoo said last.
    let broken = odoo.conf.with_file_name("odoo-bin-broken");
    std::fs::write(
        &broken,
        "import sys\nif '--version' in sys.argv:\n    print('Odoo Server 19.0')\n    sys.exit(0)\n\
         sys.stderr.write('Traceback (most recent call last):\\n  ...\\n\
         psycopg2.errors.UndefinedTable: relation \"ir_module_module\" does not exist\\n')\n\
         sys.exit(1)\n",
    )
    .expect("write a broken odoo-bin");
    let outcome = verify(
        pair,
        &[
            "--check",
            "odoo",
            "--odoo-bin",
            &broken.display().to_string(),
            "--odoo-python",
            &python,
        ],
        &[],
    );
    outcome.assert_code(4);
    let registry = pair.target.rows(
        "SELECT passed::text, detail FROM odoo_migrate.verification_results \
         WHERE check_name = 'odoo-registry' \
         AND run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')",
    );
    assert_eq!(registry.len(), 1, "{registry:?}");
    assert_eq!(registry[0][0].as_deref(), Some("false"));
    assert!(
        registry[0][1]
            .as_deref()
            .is_some_and(|d| d.contains("relation \"ir_module_module\" does not exist")),
        "{registry:?}"
    );

    let outcome = verify(pair, &["--check", "counts"], &[]);
    let json: Value = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", outcome.stdout, outcome.stderr));
    assert_eq!(json["not_run"], serde_json::json!([]), "only counts asked");
    let outcome = verify(pair, &[], &[]);
    let json: Value = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", outcome.stdout, outcome.stderr));
    assert_eq!(json["not_run"], serde_json::json!(["odoo"]), "{json}");
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.verification_results WHERE check_name LIKE 'odoo-%' \
             AND run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')"
        ),
        0,
        "without --odoo-bin the judge records nothing"
    );
}

/// The demo database after a day of work in Odoo 16 (`holdout/odoo16_flows.dump`: new orders,
/// deliveries, invoices and payments), migrated into an empty Odoo 19: the judge passes every
/// check, and each of its business actions (post an invoice after the migrated numbers, register
/// a payment, confirm a quotation with its delivery numbered after the migrated ones, validate a
/// ready transfer) ran on a migrated record exactly when the source had one to act on.
#[test]
fn the_judge_agrees_with_a_migrated_day_of_work() {
    let Some(odoo) = odoo19() else {
        return;
    };
    let flows = Database::copy_of(Dump::Flows, "judge_flows_src");
    let target = Database::copy_of(Dump::Target, "judge_flows_tgt");
    migrate(&flows.url(), &target.url(), &["run"], &[]).assert_code(0);
    let mut args = vec![
        "verify".to_string(),
        "--check".to_string(),
        "odoo".to_string(),
    ];
    args.extend(odoo.verify_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = migrate(&flows.url(), &target.url(), &args, &[]);
    let results = "FROM odoo_migrate.verification_results \
         WHERE run_id = (SELECT max(id) FROM odoo_migrate.runs WHERE command = 'verify')";
    assert_eq!(
        outcome.code,
        0,
        "the judge fails on the migrated day of work: {:#?}\n{}",
        target.rows(&format!(
            "SELECT check_name, subject, detail {results} AND NOT passed"
        )),
        outcome.stderr
    );
    let actions = target.rows(&format!(
        "SELECT subject, target_value, detail {results} AND check_name = 'odoo-actions'"
    ));
    // Each action needs a migrated record to act on; the source says which it has.
    for (action, records) in [
        (
            "post_invoice",
            "SELECT 1 FROM account_move WHERE move_type = 'out_invoice' AND state = 'posted'",
        ),
        (
            "register_payment",
            "SELECT 1 FROM account_move WHERE move_type = 'out_invoice' AND state = 'posted' \
             AND payment_state IN ('not_paid', 'partial')",
        ),
        (
            "confirm_quotation",
            "SELECT 1 FROM sale_order WHERE state IN ('draft', 'sent')",
        ),
        (
            "validate_transfer",
            "SELECT 1 FROM stock_picking WHERE state = 'assigned'",
        ),
    ] {
        let row = actions
            .iter()
            .find(|row| row[0].as_deref() == Some(action))
            .unwrap_or_else(|| panic!("{action} recorded: {actions:?}"));
        let skipped = row[2].as_deref().is_some_and(|d| d.starts_with("skipped"));
        assert_eq!(
            skipped,
            flows.count(records) == 0,
            "{action} runs exactly when the source has a record for it: {row:?}"
        );
    }
}
