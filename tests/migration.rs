//! `run`, `verify` and `rollback` on the real dumps, through the real binary: every business record
//! arrives exactly once with its values, references go through the mappings, foreign keys hold,
//! a second run does nothing, verification passes, and a rollback gives back the pristine target.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{Database, DatabasePair, Dump, Scratch};

fn remap(value: &Option<String>, map: &HashMap<i32, i32>) -> Option<String> {
    value.as_ref().map(|v| {
        map.get(&v.parse::<i32>().expect("an id"))
            .map_or("unmapped".to_string(), |t| t.to_string())
    })
}

#[test]
fn run_moves_every_business_record_once_and_verify_proves_it() {
    let pair = DatabasePair::new("run_full");
    let source_before = pair.source.table_digests();
    let outcome = pair.run(&["run", "--jobs", "3"]);
    outcome.assert_code(0);
    outcome.assert_stdout_contains("finished");

    // Every record of the business models is in the target exactly once.
    for (model, table) in [
        ("res.company", "res_company"),
        ("res.partner", "res_partner"),
        ("product.template", "product_template"),
        ("product.product", "product_product"),
        ("account.account", "account_account"),
        ("account.journal", "account_journal"),
        ("account.move", "account_move"),
        ("account.move.line", "account_move_line"),
        ("sale.order", "sale_order"),
        ("sale.order.line", "sale_order_line"),
        ("purchase.order", "purchase_order"),
        ("purchase.order.line", "purchase_order_line"),
        ("stock.move", "stock_move"),
        ("stock.quant", "stock_quant"),
        ("crm.lead", "crm_lead"),
    ] {
        let source_ids = pair.source.count(&format!("SELECT id FROM {table}"));
        let map = pair.target.id_map(model);
        assert_eq!(
            map.len() as i64,
            source_ids,
            "{model}: every source record mapped"
        );
        let mut targets: Vec<i32> = map.values().copied().collect();
        targets.sort();
        targets.dedup();
        assert_eq!(
            targets.len(),
            map.len(),
            "{model}: no target record mapped twice"
        );
        let present = pair.target.count(&format!(
            "SELECT 1 FROM {table} t JOIN odoo_migrate.id_map m ON m.target_id = t.id AND m.model = '{model}'"
        ));
        assert_eq!(present, source_ids, "{model}: every mapped record exists");
    }
    assert_eq!(pair.target.count("SELECT 1 FROM res_company"), 3);
    // The main company was matched by external id and took the source's name.
    assert_eq!(
        pair.target
            .scalar("SELECT c.name FROM res_company c JOIN ir_model_data d ON d.res_id = c.id AND d.model = 'res.company' AND d.module = 'base' AND d.name = 'main_company'")
            .as_deref(),
        Some("My Company (San Francisco)")
    );

    // Journal items field by field, their account and partner through the mappings.
    let accounts = pair.target.id_map("account.account");
    let partners = pair.target.id_map("res.partner");
    let moves = pair.target.id_map("account.move");
    let lines = pair.target.id_map("account.move.line");
    let source_lines = pair.source.rows_by_id("SELECT id, debit::text, credit::text, balance::text, account_id::text, partner_id::text, move_id::text, name FROM account_move_line",
    );
    let target_lines = pair.target.rows_by_id("SELECT id, debit::text, credit::text, balance::text, account_id::text, partner_id::text, move_id::text, name FROM account_move_line",
    );
    for (source_id, values) in &source_lines {
        let target = &target_lines[&lines[source_id]];
        assert_eq!(target[0..3], values[0..3], "amounts of line {source_id}");
        assert_eq!(
            target[3],
            remap(&values[3], &accounts),
            "account of line {source_id}"
        );
        assert_eq!(
            target[4],
            remap(&values[4], &partners),
            "partner of line {source_id}"
        );
        assert_eq!(
            target[5],
            remap(&values[5], &moves),
            "move of line {source_id}"
        );
        assert_eq!(target[6], values[6], "label of line {source_id}");
    }
    // Accounts keep their code for their company.
    let companies = pair.target.id_map("res.company");
    let source_accounts = pair
        .source
        .rows_by_id("SELECT id, code, company_id::text FROM account_account");
    let target_accounts = pair
        .target
        .rows_by_id("SELECT id, code_store::text, '' FROM account_account");
    for (source_id, values) in &source_accounts {
        let company = remap(&values[1], &companies).unwrap();
        let code_store: serde_json::Value =
            serde_json::from_str(target_accounts[&accounts[source_id]][0].as_deref().unwrap())
                .unwrap();
        assert_eq!(
            code_store[&company].as_str(),
            values[0].as_deref(),
            "code of account {source_id}"
        );
    }
    // Sale orders: names, amounts, customers; 'done' became a locked 'sale'.
    let orders = pair.target.id_map("sale.order");
    let source_orders = pair.source.rows_by_id("SELECT id, name, amount_total::text, partner_id::text, CASE state WHEN 'done' THEN 'sale' ELSE state END FROM sale_order",
    );
    let target_orders = pair
        .target
        .rows_by_id("SELECT id, name, amount_total::text, partner_id::text, state FROM sale_order");
    for (source_id, values) in &source_orders {
        let target = &target_orders[&orders[source_id]];
        assert_eq!(target[0], values[0]);
        assert_eq!(target[1], values[1], "total of {:?}", values[0]);
        assert_eq!(target[2], remap(&values[2], &partners));
        assert_eq!(target[3], values[3], "state of {:?}", values[0]);
    }
    // Stock on hand per product and location.
    let products = pair.target.id_map("product.product");
    let locations = pair.target.id_map("stock.location");
    let source_quants = pair.source.rows_by_id(
        "SELECT id, product_id::text, location_id::text, quantity::text FROM stock_quant",
    );
    let target_quants = pair.target.rows_by_id(
        "SELECT id, product_id::text, location_id::text, quantity::text FROM stock_quant",
    );
    let quants = pair.target.id_map("stock.quant");
    for (source_id, values) in &source_quants {
        let target = &target_quants[&quants[source_id]];
        assert_eq!(target[0], remap(&values[0], &products));
        assert_eq!(target[1], remap(&values[1], &locations));
        assert_eq!(target[2], values[2]);
    }

    // Foreign keys are all back and valid; the load left nothing aside.
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.deferred_constraints"),
        0
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"),
        0
    );
    // Sequences are past the copied ids.
    assert_eq!(
        pair.target.scalar("SELECT (SELECT last_value FROM res_partner_id_seq) >= (SELECT max(id) FROM res_partner)").as_deref(),
        Some("true")
    );

    let verify = pair.run(&["verify"]);
    verify.assert_code(0);
    verify.assert_stdout_contains("0 failed");
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.verification_failures"),
        0
    );
    assert!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.verification_summary WHERE ok")
            >= 5
    );

    // A second run changes nothing and says so.
    let digests = pair.target.table_digests();
    let again = pair.run(&["run"]);
    again.assert_code(0);
    again.assert_stdout_contains("Nothing to do");
    assert_eq!(pair.target.table_digests(), digests);

    let status = pair.run(&["--format", "json", "status"]);
    status.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["status"], "finished");
    assert_eq!(json["models_failed"], 0);

    // The source was only read.
    assert_eq!(pair.source.table_digests(), source_before);
}

#[test]
fn rollback_gives_back_the_pristine_target() {
    let pair = DatabasePair::new("run_rollback");
    let pristine = Database::copy_of(Dump::Target, "run_rollback_pristine");
    pair.run(&["run"]).assert_code(0);
    let outcome = pair.run(&["rollback"]);
    outcome.assert_code(0);
    outcome.assert_stdout_contains("rolled back");
    pair.target.assert_same_tables_as(&pristine);
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"),
        0
    );
    // After a rollback, --restart starts a new run, which migrates again.
    pair.run(&["run", "--restart"]).assert_code(0);
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.id_map WHERE model = 'account.move'"),
        30
    );
}

#[test]
fn a_restart_without_rollback_is_refused() {
    let pair = DatabasePair::new("run_restart");
    pair.run(&["run"]).assert_code(0);
    let outcome = pair.run(&["run", "--restart"]);
    outcome.assert_code(2);
    outcome.assert_stderr_contains("rollback");
}

#[test]
fn rollback_after_an_interrupted_run_gives_back_the_pristine_target() {
    let pair = DatabasePair::new("run_rollback_killed");
    let pristine = Database::copy_of(Dump::Target, "run_rollback_killed_pristine");
    let killed = pair.run_with(
        &["run", "--chunk-size", "400", "--foreign-keys", "set-aside"],
        &[("ODOO_MIGRATE_FAULT", "after_chunk_commit:120")],
    );
    assert_ne!(killed.code, 0);
    // Foreign keys are still set aside by the interrupted run.
    assert!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.deferred_constraints")
            > 0
    );
    pair.run(&["rollback"]).assert_code(0);
    pair.target.assert_same_tables_as(&pristine);
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.deferred_constraints"),
        0
    );
    let keys = |db: &Database| {
        db.count("SELECT 1 FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace")
    };
    assert_eq!(
        keys(&pair.target),
        keys(&pristine),
        "every foreign key is back"
    );
}

#[test]
fn update_mode_copies_fields_again_without_creating_anything() {
    let pair = DatabasePair::new("run_update");
    pair.run(&["run"]).assert_code(0);
    let partners_before = pair.target.count("SELECT 1 FROM res_partner");
    let source_id = pair
        .source
        .scalar("SELECT min(id) FROM res_partner WHERE email IS NOT NULL AND id > 10")
        .unwrap();
    pair.source.execute(&format!(
        "UPDATE res_partner SET email = 'changed.later@example.com', phone = '+33 1 00 00 00 00' WHERE id = {source_id}"
    ));
    let outcome = pair.run(&["run", "--update", "res.partner:email"]);
    outcome.assert_code(0);
    outcome.assert_stdout_contains("res.partner:");
    outcome.assert_stdout_contains(", 1 changed (email)");
    let target_id = pair
        .target
        .scalar(&format!(
            "SELECT target_id FROM odoo_migrate.id_map WHERE model = 'res.partner' AND source_id = {source_id}"
        ))
        .unwrap();
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT email FROM res_partner WHERE id = {target_id}"
            ))
            .as_deref(),
        Some("changed.later@example.com")
    );
    assert_ne!(
        pair.target
            .scalar(&format!(
                "SELECT phone FROM res_partner WHERE id = {target_id}"
            ))
            .as_deref(),
        Some("+33 1 00 00 00 00"),
        "only the named field is copied"
    );
    assert_eq!(
        pair.target.count("SELECT 1 FROM res_partner"),
        partners_before
    );
    let again = pair.run(&["run", "--update", "res.partner.email"]);
    again.assert_code(0);
    again.assert_stdout_contains(", 0 changed");
    let bad = pair.run(&["run", "--update", "res.partner:no_such_column"]);
    bad.assert_code(2);
    bad.assert_stderr_contains("no_such_column");
}

/// Writes a file for each of `names` into the filestore `store`, holding `content of <name>`.
fn write_files<'a>(store: &Path, names: impl IntoIterator<Item = &'a String>) {
    for name in names {
        let path = store.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("content of {name}")).unwrap();
    }
}

#[test]
fn attachment_files_follow_their_attachments() {
    let pair = DatabasePair::new("run_filestore");
    let root = Scratch::dir("om-filestores");
    let (source_store, target_store) = (root.join("source"), root.join("target"));
    let filestores = [
        "--source-filestore",
        source_store.to_str().unwrap(),
        "--target-filestore",
        target_store.to_str().unwrap(),
    ];
    let run = || pair.run(&[&["run"][..], &filestores].concat());
    let verify = || {
        pair.run(&[
            "verify",
            "--check",
            "attachment-files",
            "--target-filestore",
            target_store.to_str().unwrap(),
        ])
    };
    let names = pair.source.column(
        "SELECT DISTINCT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL ORDER BY 1",
    );
    assert!(names.len() > 100, "the dump's attachments have files");
    // A small filestore built from the dump's store_fname values, short of the files of two
    // attachments of demo partners (which the run creates).
    let short = pair.source.column(
        "SELECT DISTINCT store_fname FROM ir_attachment WHERE res_model = 'res.partner' \
         AND store_fname IS NOT NULL ORDER BY 1 LIMIT 2",
    );
    let missing: Vec<&String> = short.iter().collect();
    write_files(&source_store, names.iter().filter(|n| !short.contains(n)));
    run().assert_code(0);
    let migrated = pair.target.column(
        "SELECT DISTINCT a.store_fname FROM ir_attachment a JOIN odoo_migrate.id_map m \
         ON m.model = 'ir.attachment' AND m.target_id = a.id AND m.how = 'created' \
         WHERE a.store_fname IS NOT NULL",
    );
    assert!(!migrated.is_empty());
    for name in &migrated {
        let file = target_store.join(name);
        if missing.contains(&name) {
            assert!(!file.exists(), "{name} had no source file");
        } else {
            assert_eq!(
                std::fs::read_to_string(&file).unwrap(),
                format!("content of {name}"),
                "{name}"
            );
        }
    }
    let reported = pair
        .target
        .count("SELECT 1 FROM odoo_migrate.problems WHERE kind = 'missing_file'");
    let missing_migrated = migrated.iter().filter(|n| missing.contains(n)).count();
    assert_eq!(
        missing_migrated, 2,
        "the two files left out belong to migrated attachments"
    );
    assert_eq!(reported, 1);
    verify()
        .assert_code(4)
        .assert_stdout_contains(missing[0].as_str());
    // Once the missing files appear, a new run brings them and verify passes.
    write_files(&source_store, missing.iter().copied());
    run().assert_code(0);
    verify().assert_code(0);
}

#[test]
fn deep_verification_compares_every_value_and_names_the_first_differences() {
    let pair = DatabasePair::new("run_deep");
    pair.run(&["run"]).assert_code(0);
    pair.run(&["verify", "--deep", "--check", "deep"])
        .assert_code(0);
    let source_id = pair
        .target
        .scalar("SELECT min(source_id) FROM odoo_migrate.id_map WHERE model = 'sale.order.line' AND how = 'created'")
        .unwrap();
    pair.target.execute(&format!(
        "UPDATE sale_order_line SET price_unit = price_unit + 1 WHERE id = \
         (SELECT target_id FROM odoo_migrate.id_map WHERE model = 'sale.order.line' AND source_id = {source_id})"
    ));
    let outcome = pair.run(&["--format", "json", "verify", "--deep", "--check", "deep"]);
    outcome.assert_code(4);
    let json: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let failures: Vec<&serde_json::Value> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["subject"], "sale_order_line.price_unit");
    assert!(
        failures[0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("source id {source_id}:")),
        "{}",
        failures[0]
    );
}
