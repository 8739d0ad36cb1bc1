//! `verify` on a real migration passes every check; then the target is damaged in each way a check
//! exists for, and exactly that check fails, with the detail that names the damage.

mod common;

use common::DatabasePair;
use serde_json::Value;

/// Runs one check (or all with `None`) and returns its exit code and failed results.
fn failures(pair: &DatabasePair, check: Option<&str>) -> (i32, Vec<Value>) {
    let mut args = vec!["--format", "json", "verify"];
    if let Some(check) = check {
        args.extend(["--check", check]);
    }
    let outcome = pair.run(&args);
    let json: Value = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", outcome.stdout, outcome.stderr));
    let failed = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .cloned()
        .collect();
    (outcome.code, failed)
}

fn failed_checks(failed: &[Value]) -> Vec<String> {
    let mut checks: Vec<String> = failed
        .iter()
        .map(|r| r["check"].as_str().unwrap().to_string())
        .collect();
    checks.sort();
    checks.dedup();
    checks
}

#[test]
fn every_check_passes_then_each_damage_fails_its_own_check() {
    let pair = DatabasePair::new("verify_damage");
    pair.run(&["run"]).assert_code(0);
    let reports = common::Scratch::path_for("om-verify", "");
    let all = pair.run(&["verify", "--report-dir", reports.arg()]);
    all.assert_code(0);
    for check in [
        "trial-balance",
        "journal-totals",
        "open-balances",
        "revenue-per-month",
        "stock-on-hand",
        "stock-valuation",
        "order-states",
    ] {
        assert_eq!(
            pair.target.count(&format!(
                "SELECT 1 FROM odoo_migrate.verification_summary WHERE check_name = '{check}' AND ok"
            )),
            1,
            "{check} passes and is summarized"
        );
    }
    assert!(
        std::fs::read_dir(reports.path()).unwrap().count() >= 1,
        "CSV written"
    );

    // An amount changed: the trial balance names the account.
    let line = pair
        .target
        .scalar(
            "SELECT l.id || '|' || (a.code_store ->> l.company_id::text) FROM account_move_line l \
             JOIN account_move m ON m.id = l.move_id AND m.state = 'posted' \
             JOIN account_account a ON a.id = l.account_id WHERE l.debit > 0 ORDER BY l.id LIMIT 1",
        )
        .unwrap();
    let (line_id, code) = line.split_once('|').unwrap();
    pair.target.execute(&format!(
        "UPDATE account_move_line SET debit = debit + 1, balance = balance + 1 WHERE id = {line_id}"
    ));
    let (code_exit, failed) = failures(&pair, Some("trial-balance"));
    assert_eq!(code_exit, 4);
    assert_eq!(failed_checks(&failed), ["trial-balance"]);
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("|{code}:")),
        "{failed:?}"
    );
    assert_eq!(
        failures(&pair, Some("stock-on-hand")).0,
        0,
        "other checks are unaffected"
    );
    pair.target.execute(&format!(
        "UPDATE account_move_line SET debit = debit - 1, balance = balance - 1 WHERE id = {line_id}"
    ));

    // A journal item deleted: the trial balance and the counts both see it.
    let saved = pair
        .target
        .scalar(&format!(
            "SELECT to_jsonb(l)::text FROM account_move_line l WHERE id = {line_id}"
        ))
        .unwrap();
    pair.target.execute(&format!(
        "ALTER TABLE account_move_line DISABLE TRIGGER ALL; DELETE FROM account_move_line WHERE id = {line_id}; \
         ALTER TABLE account_move_line ENABLE TRIGGER ALL"
    ));
    let (_, failed) = failures(&pair, Some("trial-balance"));
    assert_eq!(failed_checks(&failed), ["trial-balance"]);
    let (_, failed) = failures(&pair, Some("counts"));
    assert_eq!(failed_checks(&failed), ["counts"]);
    assert_eq!(failed[0]["subject"], "account.move.line");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("missing from account_move_line"),
        "{failed:?}"
    );
    pair.target.execute(&format!(
        "ALTER TABLE account_move_line DISABLE TRIGGER ALL; \
         INSERT INTO account_move_line SELECT * FROM jsonb_populate_record(NULL::account_move_line, '{}'::jsonb); \
         ALTER TABLE account_move_line ENABLE TRIGGER ALL",
        saved.replace('\'', "''")
    ));
    assert_eq!(failures(&pair, Some("counts")).0, 0);

    // A partner duplicated in the mappings: two source records on one target record.
    pair.target.execute(
        "INSERT INTO odoo_migrate.id_map (model, source_id, target_id, how, run_id) \
         SELECT model, 999999, target_id, how, run_id FROM odoo_migrate.id_map \
         WHERE model = 'res.partner' AND how = 'created' ORDER BY source_id LIMIT 1",
    );
    let (_, failed) = failures(&pair, Some("duplicates"));
    assert_eq!(failed_checks(&failed), ["duplicates"]);
    assert!(
        failed[0]["detail"].as_str().unwrap().contains("999999"),
        "{failed:?}"
    );
    pair.target
        .execute("DELETE FROM odoo_migrate.id_map WHERE source_id = 999999");

    // An external id pointed elsewhere.
    let xmlid = pair
        .target
        .scalar(
            "SELECT d.module || '.' || d.name FROM ir_model_data d JOIN odoo_migrate.id_map m \
             ON m.model = 'res.partner' AND m.target_id = d.res_id AND m.how = 'created' \
             WHERE d.model = 'res.partner' ORDER BY d.id LIMIT 1",
        )
        .unwrap();
    let (module, name) = xmlid.split_once('.').unwrap();
    pair.target.execute(&format!(
        "UPDATE ir_model_data SET res_id = res_id + 1 WHERE module = '{module}' AND name = '{name}'"
    ));
    let (_, failed) = failures(&pair, Some("external-ids"));
    assert_eq!(failed_checks(&failed), ["external-ids"]);
    assert_eq!(failed[0]["subject"], "res.partner");
    assert!(
        failed[0]["detail"].as_str().unwrap().contains(&xmlid),
        "{failed:?}"
    );
    pair.target.execute(&format!(
        "UPDATE ir_model_data SET res_id = res_id - 1 WHERE module = '{module}' AND name = '{name}'"
    ));

    // A column emptied.
    pair.target.execute(
        "CREATE TABLE saved_emails AS SELECT id, email FROM res_partner; \
         UPDATE res_partner SET email = NULL WHERE id IN (SELECT target_id FROM odoo_migrate.id_map WHERE model = 'res.partner' AND how = 'created')",
    );
    let (_, failed) = failures(&pair, Some("fields"));
    assert_eq!(failed_checks(&failed), ["fields"]);
    assert!(
        failed.iter().any(|r| r["subject"] == "res_partner.email"),
        "{failed:?}"
    );
    pair.target.execute(
        "UPDATE res_partner p SET email = s.email FROM saved_emails s WHERE s.id = p.id; DROP TABLE saved_emails",
    );

    // Stock changed.
    pair.target.execute("UPDATE stock_quant SET quantity = quantity + 7 WHERE id = (SELECT min(id) FROM stock_quant WHERE quantity > 0)");
    let (_, failed) = failures(&pair, Some("stock-on-hand"));
    assert_eq!(failed_checks(&failed), ["stock-on-hand"]);
    pair.target.execute("UPDATE stock_quant SET quantity = quantity - 7 WHERE id = (SELECT min(id) FROM stock_quant WHERE quantity > 0)");

    // Everything restored: the whole verification passes again.
    let (code_exit, failed) = failures(&pair, None);
    assert_eq!(code_exit, 0, "{failed:?}");
    let unknown = pair.run(&["verify", "--check", "no-such-check"]);
    unknown.assert_code(2);
    unknown.assert_stderr_contains("trial-balance");
}
