//! Damages that `verify` must see: one migrated target is copied once per damage (`CREATE
//! DATABASE … TEMPLATE`, no second migration), each copy is damaged in one way and verified in
//! full (every check, not `--check` alone), and exactly the damage's check must fail, with a
//! failure whose detail or subject names the damage. Used by `verify.rs` (the demo pair's checks)
//! and `wide.rs` (the checks of each app).

use serde_json::Value;

use super::{Database, DatabasePair};

/// One damage: the check that must fail (alone), the SQL that makes it on a copy of the migrated
/// target, and a text the failure's detail (or subject) must hold.
pub struct Damage {
    pub check: &'static str,
    pub sql: String,
    pub names: String,
}

/// `verify --format json` (and `options`) of `target` against the pair's source: its exit code
/// and every result.
pub fn verify_results(
    pair: &DatabasePair,
    target: &Database,
    options: &[&str],
) -> (i32, Vec<Value>) {
    let args = [&["--format", "json", "verify"][..], options].concat();
    let outcome = super::migrate(&pair.source.url(), &target.url(), &args, &[]);
    let json: Value = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", outcome.stdout, outcome.stderr));
    let results = json["results"].as_array().expect("results").clone();
    (outcome.code, results)
}

/// The failed results of a `verify` of `target` with `options`, and its exit code.
pub fn verify_failures(
    pair: &DatabasePair,
    target: &Database,
    options: &[&str],
) -> (i32, Vec<Value>) {
    let (code, results) = verify_results(pair, target, options);
    let failed = results
        .into_iter()
        .filter(|r| r["passed"] == false)
        .collect();
    (code, failed)
}

/// The names of the checks of these results, sorted, each once.
pub fn checks_of(results: &[Value]) -> Vec<String> {
    let mut checks: Vec<String> = results
        .iter()
        .map(|r| r["check"].as_str().unwrap().to_string())
        .collect();
    checks.sort();
    checks.dedup();
    checks
}

/// Each damage on a copy of the pair's (migrated) target, `at_a_time` copies verified at once: a
/// full `verify` of the copy exits 4, fails exactly the damage's check, and a failure names the
/// damage. `prefix` names the copies (`<prefix>_<check>`). A `verify` reads the row counts of
/// both databases in one transaction, a lock per table: on the wide pair (744 and 904 tables)
/// several at once exhaust a shared server's lock table (`max_locks_per_transaction`).
pub fn assert_each_fails_alone(
    pair: &DatabasePair,
    damages: &[Damage],
    prefix: &str,
    at_a_time: usize,
) {
    for batch in damages.chunks(at_a_time) {
        let copies: Vec<Database> = batch
            .iter()
            .map(|d| pair.target.copy(&format!("{prefix}_{}", d.check)))
            .collect();
        std::thread::scope(|scope| {
            for (damage, copy) in batch.iter().zip(&copies) {
                scope.spawn(move || {
                    copy.execute(&damage.sql);
                    let (code, failed) = verify_failures(pair, copy, &[]);
                    assert_eq!(code, 4, "{}: {failed:?}", damage.check);
                    assert_eq!(
                        checks_of(&failed),
                        [damage.check],
                        "{}: exactly that check fails in a full verify",
                        damage.check
                    );
                    assert!(
                        failed.iter().any(|r| {
                            r["detail"].as_str().unwrap().contains(&damage.names)
                                || r["subject"].as_str().unwrap().contains(&damage.names)
                        }),
                        "{}: a failure names {:?}: {failed:?}",
                        damage.check,
                        damage.names
                    );
                });
            }
        });
    }
}

/// The checks of the pair's target's current verification that did not apply (the source lacks
/// their app), and those that did, sorted.
pub fn applicable_and_not(target: &Database) -> (Vec<String>, Vec<String>) {
    let not_applicable = target.column(
        "SELECT DISTINCT v.check_name FROM odoo_migrate.current_verification cv \
         JOIN odoo_migrate.verification_results v ON v.run_id = cv.verify_id AND v.check_name = cv.check_name \
         WHERE v.target_value = 'not applicable' ORDER BY 1",
    );
    let applicable = target
        .column("SELECT DISTINCT check_name FROM odoo_migrate.verification_summary ORDER BY 1")
        .into_iter()
        .filter(|c| !not_applicable.contains(c))
        .collect();
    (applicable, not_applicable)
}
