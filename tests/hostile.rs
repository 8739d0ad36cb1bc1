//! Hostile data in real dumps modified by the test: column names that need quoting, every kind of
//! text, very large values, references to deleted rows. The tool migrates them exactly or reports
//! them precisely, and never writes a dangling id.

mod common;

use common::custom_model::{Field, register_custom_model};
use common::{DatabasePair, rules_file};

const WEIRD: &str = "x_Studio \"Quoted\" select";

#[test]
fn awkward_names_texts_large_values_and_dangling_references() {
    let pair = DatabasePair::new("hostile");
    let column = format!("\"{}\"", WEIRD.replace('"', "\"\""));
    for database in [&pair.source, &pair.target] {
        database.execute(&format!(
            "ALTER TABLE res_partner ADD COLUMN {column} text, ADD COLUMN x_big jsonb, ADD COLUMN x_blob bytea"
        ));
    }
    let text = "émoji 🎉 tab\tnewline\nback\\slash 'quote' \"double\" \\0 NUL-like zero\u{200b}width \u{202e}rtl \u{1F600} 日本語";
    let literal = text.replace('\'', "''");
    pair.source.execute(&format!(
        "UPDATE res_partner SET {column} = '{literal}', \
         x_big = (SELECT jsonb_object_agg('k' || g, repeat('v', 100)) FROM generate_series(1, 10000) g), \
         x_blob = (SELECT string_agg(sha256(g::text::bytea), ''::bytea) FROM generate_series(1, 60000) g) \
         WHERE id IN (SELECT id FROM res_partner ORDER BY id DESC LIMIT 3)"
    ));
    // A many2one to a deleted row (possible in real databases whose keys were dropped once) and a
    // message attached to a record that no longer exists.
    pair.source.execute(
        "ALTER TABLE res_partner DROP CONSTRAINT res_partner_parent_id_fkey; \
         UPDATE res_partner SET parent_id = 999999 WHERE id = (SELECT max(id) FROM res_partner); \
         UPDATE mail_message SET res_id = 888888 WHERE id = (SELECT min(id) FROM mail_message WHERE model = 'res.partner')",
    );
    pair.run(&["run"]).assert_code(0);

    let expected = pair
        .source
        .scalar(&format!(
            "SELECT string_agg(md5({column}) || md5(x_big::text) || md5(x_blob), ',' ORDER BY id) FROM res_partner WHERE x_big IS NOT NULL"
        ))
        .unwrap();
    let actual = pair
        .target
        .scalar(&format!(
            "SELECT string_agg(md5(t.{column}) || md5(t.x_big::text) || md5(t.x_blob), ',' ORDER BY m.source_id) \
             FROM res_partner t JOIN odoo_migrate.id_map m ON m.model = 'res.partner' AND m.target_id = t.id \
             WHERE t.x_big IS NOT NULL"
        ))
        .unwrap();
    assert_eq!(
        actual, expected,
        "text, jsonb and bytea arrive byte for byte"
    );
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT {column} FROM res_partner WHERE x_big IS NOT NULL LIMIT 1"
            ))
            .as_deref(),
        Some(text)
    );

    // The dangling many2one is written as NULL and reported with its record.
    let dangling_source = pair
        .source
        .scalar("SELECT max(id) FROM res_partner")
        .unwrap();
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT coalesce(t.parent_id::text, 'NULL') FROM res_partner t JOIN odoo_migrate.id_map m \
                 ON m.model = 'res.partner' AND m.target_id = t.id AND m.source_id = {dangling_source}"
            ))
            .as_deref(),
        Some("NULL")
    );
    assert_eq!(
        pair.target.count(&format!(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'unmapped_reference' AND table_name = 'res_partner' \
             AND column_name = 'parent_id' AND detail->'sample_source_ids' @> '[{dangling_source}]'"
        )),
        1
    );
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.problems WHERE kind = 'unmapped_reference' AND table_name = 'mail_message' \
             AND column_name = 'res_id' AND detail->>'referenced_model' = 'res.partner'"
        ),
        1
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM mail_message WHERE model = 'res.partner' AND res_id = 888888"),
        0,
        "no dangling id written"
    );
    pair.run(&["verify"]).assert_code(0);
}

/// A custom model present in both databases (made by Studio or a module of the company's own): a
/// 63-byte table name, a reserved word and a mixed-case name with a space as columns, two
/// many2one to partners that must be remapped, one of them named with double quotes, and a
/// many2many to partners whose table is named with capitals, a space and quotes and whose first
/// column is a 63-byte name.
#[test]
fn a_custom_model_with_awkward_names_migrates_with_its_references() {
    let pair = DatabasePair::new("hostile_custom_model");
    let model = format!("x_studio_{}", "long_name_".repeat(6));
    let model = &model[..63];
    let relation = "x_Studio \"Partner\" Rel";
    let relation_sql = format!("\"{}\"", relation.replace('"', "\"\""));
    let column1 = format!("{}_id", &model[..60]);
    for database in [&pair.source, &pair.target] {
        database.execute(&format!(
            "CREATE TABLE public.\"{model}\" (id serial PRIMARY KEY, x_name varchar, \
             x_partner_id integer REFERENCES res_partner (id) ON DELETE SET NULL, \"order\" integer, \
             \"x_Mixed Case\" text, \"x_\"\"Quoted\"\" Ref\" integer REFERENCES res_partner (id), create_uid integer, create_date timestamp, write_uid integer, write_date timestamp); \
             {}; \
             CREATE TABLE public.{relation_sql} (\"{column1}\" integer NOT NULL REFERENCES public.\"{model}\" (id) ON DELETE CASCADE, \
             res_partner_id integer NOT NULL REFERENCES res_partner (id) ON DELETE CASCADE, PRIMARY KEY (\"{column1}\", res_partner_id))",
            register_custom_model(
                model,
                &[
                    Field::plain("id", "integer"),
                    Field::plain("x_name", "char"),
                    Field::many2one("x_partner_id", "res.partner"),
                    Field::plain("order", "integer"),
                    Field::plain("x_Mixed Case", "text"),
                    Field::many2one("x_\"Quoted\" Ref", "res.partner"),
                    Field::many2many(
                        "x_partner_ids",
                        "res.partner",
                        relation,
                        &column1,
                        "res_partner_id"
                    ),
                ]
            ),
        ));
    }
    // Partners the migration creates get ids past this, never their source ids.
    pair.target
        .execute("SELECT setval('res_partner_id_seq', 50000)");
    pair.source.execute(&format!(
        "INSERT INTO public.\"{model}\" (x_name, x_partner_id, \"order\", \"x_Mixed Case\", \"x_\"\"Quoted\"\" Ref\") \
         SELECT 'row ' || p.id, p.id, p.id * 10, 'Ünïcode ' || p.id, coalesce(p.parent_id, p.id) FROM res_partner p \
         ORDER BY p.id DESC LIMIT 3"
    ));
    // Each row linked to its partner and to the company's partner (matched, not created).
    pair.source.execute(&format!(
        "INSERT INTO public.{relation_sql} (\"{column1}\", res_partner_id) \
         SELECT id, x_partner_id FROM public.\"{model}\" UNION \
         SELECT c.id, (SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'main_partner') FROM public.\"{model}\" c"
    ));
    pair.run(&["run"]).assert_code(0);

    let expected = pair
        .source
        .scalar(&format!(
            "SELECT string_agg(x_name || '|' || x_partner_id || '|' || \"order\" || '|' || \"x_Mixed Case\" \
             || '|' || \"x_\"\"Quoted\"\" Ref\", ',' ORDER BY id) FROM public.\"{model}\""
        ))
        .unwrap();
    // The target's partner ids, translated back to source ids through the mappings.
    let actual = pair
        .target
        .scalar(&format!(
            "SELECT string_agg(t.x_name || '|' || m.source_id || '|' || t.\"order\" || '|' || t.\"x_Mixed Case\" \
             || '|' || q.source_id, ',' ORDER BY t.id) \
             FROM public.\"{model}\" t JOIN odoo_migrate.id_map m ON m.model = 'res.partner' AND m.target_id = t.x_partner_id \
             JOIN odoo_migrate.id_map q ON q.model = 'res.partner' AND q.target_id = t.\"x_\"\"Quoted\"\" Ref\""
        ))
        .unwrap();
    assert_eq!(actual, expected);
    // The partners were created in the target with ids of their own: the references moved.
    assert_eq!(
        pair.target.count(&format!(
            "SELECT 1 FROM public.\"{model}\" t JOIN odoo_migrate.id_map m \
             ON m.model = 'res.partner' AND m.target_id = t.x_partner_id AND m.how = 'created' \
             WHERE m.source_id <> m.target_id"
        )),
        3
    );
    // The many2many pairs, translated back to source ids on the target side.
    let expected = pair
        .source
        .scalar(&format!(
            "SELECT string_agg(\"{column1}\" || '-' || res_partner_id, ',' ORDER BY \"{column1}\", res_partner_id) \
             FROM public.{relation_sql}"
        ))
        .unwrap();
    let actual = pair
        .target
        .scalar(&format!(
            "SELECT string_agg(c.source_id || '-' || p.source_id, ',' ORDER BY c.source_id, p.source_id) \
             FROM public.{relation_sql} r \
             JOIN odoo_migrate.id_map c ON c.model = '{model}' AND c.target_id = r.\"{column1}\" \
             JOIN odoo_migrate.id_map p ON p.model = 'res.partner' AND p.target_id = r.res_partner_id"
        ))
        .unwrap();
    assert_eq!(actual, expected);
    assert_eq!(
        pair.target
            .count(&format!("SELECT 1 FROM public.{relation_sql}")),
        6
    );
    pair.run(&["verify"]).assert_code(0);
}

/// A custom model with rows that the target lacks blocks the migration, naming it and both ways
/// out; with a rule that skips it, the run goes on and lists its rows as not migrated.
#[test]
fn a_custom_model_missing_in_the_target_blocks_until_a_rule_decides() {
    let pair = DatabasePair::new("hostile_custom_missing");
    pair.source.execute(&format!(
        "CREATE TABLE public.x_legacy_contract (id serial PRIMARY KEY, x_name varchar); \
         INSERT INTO x_legacy_contract (x_name) VALUES ('a'), ('b'); {}",
        register_custom_model(
            "x_legacy_contract",
            &[
                Field::plain("id", "integer"),
                Field::plain("x_name", "char")
            ]
        )
    ));
    for command in ["analyze", "run"] {
        let outcome = pair.run(&[command]);
        assert_eq!(outcome.code, 3, "{command}: {}", outcome.stderr);
        let text = format!("{}{}", outcome.stdout, outcome.stderr);
        assert!(
            text.contains(
                "x_legacy_contract (2 rows) has no counterpart in the target; it is a custom model"
            ) && text.contains("policy = \"skip\""),
            "{command}: {text}"
        );
    }
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.runs WHERE command = 'run'"),
        0,
        "nothing was run"
    );
    let rules = rules_file(
        "skip-legacy",
        "[models.\"x_legacy_contract\"]\npolicy = \"skip\"\n",
    );
    pair.run(&["--rules", rules.arg(), "run"]).assert_code(0);
    assert_eq!(
        pair.target
            .scalar(
                "SELECT message FROM odoo_migrate.problems WHERE kind = 'table_not_migrated' AND table_name = 'x_legacy_contract'"
            )
            .as_deref(),
        Some("2 row(s) of x_legacy_contract are not migrated: a rule skips it")
    );
}

/// A NULL where Odoo 19 requires a value fails its table naming the column and the record, with
/// nothing of that table half-written, and the run resumes once a rule supplies the value; a
/// selection value that Odoo 19 does not know is named by `verify` with the rule that would map it.
#[test]
fn a_missing_required_value_and_an_unknown_selection_value_are_named() {
    let pair = DatabasePair::new("hostile_null_selection");
    let product: String = pair
        .source
        .scalar("SELECT max(id) FROM product_template")
        .unwrap();
    pair.source.execute(&format!(
        "UPDATE product_template SET type = NULL WHERE id = {product}; \
         UPDATE res_partner SET type = 'weird_kind' WHERE id = (SELECT max(id) FROM res_partner)"
    ));
    let pristine_templates = pair.target.table_digests()["product_template"].clone();
    let failed = pair.run(&["run"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!(
            "product_template into product_template, column type (source record product.template id {product})"
        )) && failed.stderr.contains("add or fix a rule"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.id_map WHERE model = 'product.template'"),
        0,
        "the failed chunk left no mapping behind"
    );
    // Read in the table itself, not in the tool's mappings: not one row of product_template was
    // added or changed.
    assert_eq!(
        pair.target.table_digests()["product_template"],
        pristine_templates,
        "the failed chunk left no row behind in product_template"
    );

    let rules = rules_file(
        "null-type",
        "[models.\"product.template\"]\ncolumns.type = { sql = \"coalesce(s.type, 'consu')\", value_map = { product = \"consu\" } }\n",
    );
    let rules_arg = rules.arg();
    pair.run(&["--rules", rules_arg, "run"]).assert_code(0);
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM product_template WHERE type = 'consu' AND id = (SELECT target_id FROM odoo_migrate.id_map WHERE model = 'product.template' AND source_id = (SELECT max(source_id) FROM odoo_migrate.id_map WHERE model = 'product.template'))"),
        1
    );
    let verified = pair.run(&["--rules", rules_arg, "verify"]);
    assert_eq!(verified.code, 4, "{}", verified.stdout);
    assert!(
        verified
            .stdout
            .contains("[selection-values] res.partner.type")
            && verified.stdout.contains("'weird_kind' in 1 row(s)")
            && verified.stdout.contains("value_map = { \"weird_kind\""),
        "{}",
        verified.stdout
    );
}

/// Two external ids on one source record both follow it; an external id that the target already
/// gives to a record of another model cannot, and the run says so instead of dropping it.
#[test]
fn duplicate_and_taken_external_ids() {
    let pair = DatabasePair::new("hostile_xmlids");
    let partner: String = pair
        .source
        .scalar("SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'res_partner_1'")
        .unwrap();
    let other: String = pair
        .source
        .scalar(
            "SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'res_partner_10'",
        )
        .unwrap();
    pair.source.execute(&format!(
        "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES \
         ('__export__', 'res_partner_1_again', 'res.partner', {partner}, false), \
         ('__custom__', 'shared_name', 'res.partner', {other}, false)"
    ));
    pair.target.execute(
        "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) \
         VALUES ('__custom__', 'shared_name', 'res.country', 1, false)",
    );
    pair.run(&["run"]).assert_code(0);
    let target_of = |source_id: &str| {
        pair.target
            .scalar(&format!(
                "SELECT target_id FROM odoo_migrate.id_map WHERE model = 'res.partner' AND source_id = {source_id}"
            ))
            .unwrap()
    };
    assert_eq!(
        pair.target
            .scalar(
                "SELECT string_agg(module || '.' || name || '=' || res_id, ',' ORDER BY module, name) FROM ir_model_data \
                 WHERE model = 'res.partner' AND (module, name) IN (('base', 'res_partner_1'), ('__export__', 'res_partner_1_again'))"
            )
            .unwrap(),
        format!(
            "__export__.res_partner_1_again={0},base.res_partner_1={0}",
            target_of(&partner)
        )
    );
    assert_eq!(
        pair.target
            .scalar("SELECT model || ' ' || res_id FROM ir_model_data WHERE module = '__custom__' AND name = 'shared_name'")
            .as_deref(),
        Some("res.country 1"),
        "the target's own external id is left as it was"
    );
    assert_eq!(
        pair.target
            .scalar("SELECT message FROM odoo_migrate.problems WHERE kind = 'external_id_taken' AND message LIKE '%shared_name%'")
            .unwrap(),
        format!(
            "external id __custom__.shared_name of res.partner id {other} is not given to its new record: \
             the target's __custom__.shared_name already names res.country id 1"
        )
    );
}

/// An external id that the target gives to another record of the same model than the source does:
/// the module's own external ids decide the matches, and each disagreement is recorded with both
/// records and what to do, never silently dropped or allowed to steal another record's match.
#[test]
fn external_ids_naming_other_records_in_the_target_are_reported() {
    let pair = DatabasePair::new("hostile_xmlid_other_record");
    let xmlid_of = |database: &common::Database, name: &str| -> String {
        database
            .scalar(&format!(
                "SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = '{name}'"
            ))
            .unwrap()
    };
    let (company, admin, public) = (
        xmlid_of(&pair.source, "main_partner"),
        xmlid_of(&pair.source, "partner_admin"),
        xmlid_of(&pair.source, "public_partner"),
    );
    let demo = xmlid_of(&pair.source, "res_partner_1");
    let (target_company, target_admin, target_public) = (
        xmlid_of(&pair.target, "main_partner"),
        xmlid_of(&pair.target, "partner_admin"),
        xmlid_of(&pair.target, "public_partner"),
    );
    // The source's hand-made names: a demo partner called the company, the administrator given
    // the name that the target gives to the public partner.
    pair.source.execute(&format!(
        "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES \
         ('__custom__', 'our_company', 'res.partner', {demo}, false), \
         ('__custom__', 'admin_alias', 'res.partner', {admin}, false)"
    ));
    pair.target.execute(&format!(
        "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES \
         ('__custom__', 'our_company', 'res.partner', {target_company}, false), \
         ('__custom__', 'admin_alias', 'res.partner', {target_public}, false)"
    ));
    pair.run(&["run"]).assert_code(0);
    let mapped = |source_id: &str| {
        pair.target
            .scalar(&format!(
                "SELECT target_id || ' ' || how FROM odoo_migrate.id_map WHERE model = 'res.partner' AND source_id = {source_id}"
            ))
            .unwrap()
    };
    assert_eq!(mapped(&company), format!("{target_company} xmlid"));
    assert_eq!(mapped(&admin), format!("{target_admin} xmlid"));
    assert_eq!(
        mapped(&public),
        format!("{target_public} xmlid"),
        "the public partner keeps its match"
    );
    assert!(mapped(&demo).ends_with(" created"), "{}", mapped(&demo));
    let problems = pair
        .target
        .scalar(
            "SELECT string_agg(source_id || ': ' || message, E'\\n' ORDER BY source_id) FROM odoo_migrate.problems \
             WHERE kind = 'external_id_conflict' AND model = 'res.partner'",
        )
        .unwrap();
    assert_eq!(
        problems,
        format!(
            "{admin}: external id __custom__.admin_alias of res.partner id {admin} names res.partner id {target_public} in the target, \
             but id {admin} is already matched to res.partner id {target_admin} by base.partner_admin; the target's __custom__.admin_alias \
             is left on id {target_public}: remove one of the two external ids in the source if they are not meant for one record\n\
             {demo}: external id __custom__.our_company of res.partner id {demo} names res.partner id {target_company} in the target, \
             which is already the counterpart of source id {company} (by base.main_partner); id {demo} is not matched through it \
             (a new record is made unless another key matches it): if both are one record, merge them in the source, \
             else give one of them another external id"
        )
    );
    assert_eq!(
        pair.target
            .scalar("SELECT string_agg(name || '=' || res_id, ',' ORDER BY name) FROM ir_model_data WHERE module = '__custom__'")
            .unwrap(),
        format!("admin_alias={target_public},our_company={target_company}"),
        "the target's external ids are left as they were"
    );
    // verify names the same disagreements.
    let verified = pair.run(&["verify"]);
    assert_eq!(verified.code, 4, "{}", verified.stdout);
    verified.assert_stdout_contains(&format!(
        "__custom__.admin_alias: source id {admin} is mapped to {target_admin} \
         but the external id points at {target_public}"
    ));
}

/// NULLs where Odoo usually has values and selection values that Odoo 19 lacks: a partner address
/// without name and a journal item without balance are copied as they are; a contact without name
/// (its check dropped in the source) fails its table naming the record and the check, and resumes
/// once a rule names it; an order in 16's 'done' state becomes a locked confirmed order; a state
/// no rule knows is named by `verify` with its target ids and the rule that would map it.
#[test]
fn nulls_and_selection_values_odoo_does_not_expect_are_migrated_or_named() {
    let pair = DatabasePair::new("hostile_nulls_states");
    let first = |sql: &str| pair.source.scalar(sql).unwrap();
    let contact =
        first("SELECT max(id) FROM res_partner WHERE type = 'contact' AND NOT is_company");
    let address = first(&format!(
        "SELECT max(id) FROM res_partner WHERE type = 'contact' AND NOT is_company AND id < {contact}"
    ));
    let line = first(
        "SELECT min(l.id) FROM account_move_line l JOIN account_move m ON m.id = l.move_id WHERE m.state = 'posted'",
    );
    let done = first("SELECT min(id) FROM sale_order WHERE state = 'sale'");
    let unknown = first("SELECT max(id) FROM sale_order WHERE state = 'sale'");
    pair.source.execute(&format!(
        "ALTER TABLE res_partner DROP CONSTRAINT res_partner_check_name; \
         UPDATE res_partner SET name = NULL WHERE id = {contact}; \
         UPDATE res_partner SET name = NULL, type = 'invoice' WHERE id = {address}; \
         UPDATE account_move_line SET balance = NULL WHERE id = {line}; \
         UPDATE sale_order SET state = 'done' WHERE id = {done}; \
         UPDATE sale_order SET state = 'legacy_approved' WHERE id = {unknown}"
    ));

    // Known before the run: the unknown state with its record; 'done' has its rule.
    let analyzed = pair.run(&["analyze"]);
    analyzed.assert_code(0);
    assert!(
        analyzed.stdout.contains(&format!(
            "'legacy_approved' in 1 row(s) of sale_order.state (source ids [{unknown}]) is not a value Odoo 19 knows for sale.order.state"
        )) && analyzed
            .stdout
            .contains("[models.\"sale.order\"] columns.state = { value_map = { \"legacy_approved\" = \"…\" } }")
            && !analyzed.stdout.contains("'done' in"),
        "{}",
        analyzed.stdout
    );

    let partners_before = pair.target.count("SELECT 1 FROM res_partner");
    let failed = pair.run(&["run"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(&format!(
            "copying res_partner into res_partner (source record res.partner id {contact}): \
             new row for relation \"res_partner\" violates check constraint \"res_partner_check_name\""
        )) && failed
            .stderr
            .contains("add or fix a rule for the columns this constraint checks and run again"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.id_map WHERE model = 'res.partner' AND how = 'created'"
        ),
        0,
        "the failed chunk left no mapping behind"
    );
    // Counted in the table itself, not in the tool's mappings: res_partner has the pristine
    // target's rows, not one more.
    assert_eq!(
        pair.target.count("SELECT 1 FROM res_partner"),
        partners_before,
        "the failed chunk left no row behind in res_partner"
    );

    let rules = rules_file(
        "null-name",
        "[models.\"res.partner\"]\ncolumns.name = { sql = \"CASE WHEN s.type = 'contact' THEN coalesce(s.name, 'No name ' || s.id) ELSE s.name END\" }\n",
    );
    let rules_arg = rules.arg();
    pair.run(&["--rules", rules_arg, "run"]).assert_code(0);
    let target = |model: &str, source_id: &str, columns: &str, table: &str| {
        pair.target
            .scalar(&format!(
                "SELECT concat_ws('|', {columns}) FROM public.{table} t JOIN odoo_migrate.id_map m \
                 ON m.model = '{model}' AND m.target_id = t.id AND m.source_id = {source_id}"
            ))
            .unwrap()
    };
    assert_eq!(
        target("res.partner", &contact, "t.name, t.type", "res_partner"),
        format!("No name {contact}|contact")
    );
    assert_eq!(
        target(
            "res.partner",
            &address,
            "coalesce(t.name, 'NULL'), t.type",
            "res_partner"
        ),
        "NULL|invoice"
    );
    assert_eq!(
        target(
            "account.move.line",
            &line,
            "coalesce(t.balance::text, 'NULL'), t.debit, t.credit",
            "account_move_line"
        ),
        first(&format!(
            "SELECT concat_ws('|', 'NULL', debit, credit) FROM account_move_line WHERE id = {line}"
        ))
    );
    assert_eq!(
        target("sale.order", &done, "t.state, t.locked", "sale_order"),
        "sale|t"
    );
    let unknown_target = target("sale.order", &unknown, "t.id, t.state", "sale_order");
    let (unknown_target_id, state) = unknown_target.split_once('|').unwrap();
    assert_eq!(
        state, "legacy_approved",
        "copied as it is, for verify to name"
    );

    let verified = pair.run(&["--rules", rules_arg, "verify"]);
    assert_eq!(verified.code, 4, "{}", verified.stdout);
    assert!(
        verified
            .stdout
            .contains("[selection-values] sale.order.state")
            && verified.stdout.contains("'legacy_approved' in 1 row(s)")
            && verified
                .stdout
                .contains(&format!("target ids [{unknown_target_id}]"))
            && verified
                .stdout
                .contains("value_map = { \"legacy_approved\""),
        "{}",
        verified.stdout
    );
    assert!(
        verified.stdout.contains("checks, ") && verified.stdout.contains(" passed, 1 failed."),
        "only the unknown state fails; the books agree with the NULL balance: {}",
        verified.stdout
    );
}

/// One external id on two source records (a source whose unique index on module and name was
/// lost): it follows the first record, and the other is reported with what to do.
#[test]
fn one_external_id_on_two_source_records_follows_one_and_is_reported() {
    let pair = DatabasePair::new("hostile_xmlid_twice");
    let partners = pair
        .source
        .scalar(
            "SELECT string_agg(res_id::text, ',' ORDER BY res_id) FROM ir_model_data \
             WHERE module = 'base' AND name IN ('res_partner_2', 'res_partner_3')",
        )
        .unwrap();
    let (first, second) = partners.split_once(',').unwrap();
    pair.source.execute(&format!(
        "DROP INDEX ir_model_data_module_name_uniq_index; \
         INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES \
         ('__export__', 'twice', 'res.partner', {second}, false), \
         ('__export__', 'twice', 'res.partner', {first}, false)"
    ));
    pair.run(&["run"]).assert_code(0);
    assert_eq!(
        pair.target
            .scalar(
                "SELECT string_agg(m.source_id::text, ',') FROM ir_model_data d JOIN odoo_migrate.id_map m \
                 ON m.model = 'res.partner' AND m.target_id = d.res_id \
                 WHERE d.module = '__export__' AND d.name = 'twice'"
            )
            .as_deref(),
        Some(first),
        "the external id follows the first record, once"
    );
    assert_eq!(
        pair.target
            .scalar("SELECT source_id || ': ' || message FROM odoo_migrate.problems WHERE kind = 'external_id_duplicate'")
            .unwrap(),
        format!(
            "{second}: external id __export__.twice names more than one record in the source; it is given to \
             res.partner id {first} only, not to res.partner id {second}: remove or rename the other external ids in the source"
        )
    );
    // verify names the record the external id could not follow.
    let verified = pair.run(&["verify"]);
    assert_eq!(verified.code, 4, "{}", verified.stdout);
    verified.assert_stdout_contains(&format!(
        "__export__.twice: source id {second} is mapped to"
    ));
}

/// Records given huge ids by hand or by an import (two billion, next to ids in the hundreds): they
/// migrate with every reference to them remapped, in memory that follows the number of records,
/// not the size of the ids.
#[test]
fn records_with_huge_ids_migrate_with_their_references() {
    let pair = DatabasePair::new("hostile_huge_ids");
    let child: String = pair
        .source
        .scalar("SELECT max(id) FROM res_partner WHERE parent_id IS NULL AND NOT is_company")
        .unwrap();
    pair.source.execute(&format!(
        "INSERT INTO res_partner (id, name, display_name, active, type, is_company, commercial_partner_id) \
         VALUES (2000000000, 'Huge id', 'Huge id', true, 'contact', true, 2000000000); \
         INSERT INTO res_partner_category (id, name, active) VALUES (2100000000, '{{\"en_US\": \"Big tag\"}}', true); \
         INSERT INTO res_partner_res_partner_category_rel (category_id, partner_id) VALUES (2100000000, 2000000000); \
         UPDATE res_partner SET parent_id = 2000000000 WHERE id = {child}"
    ));
    // At most 4 GB of address space: maps sized by the largest id would ask for 16 GB.
    let outcome: common::Outcome = common::clean_command("sh")
        .args([
            "-c",
            "ulimit -v 4000000 && exec \"$0\" \"$@\"",
            common::BINARY,
        ])
        .args(pair.args(&["run"]))
        .output()
        .expect("run odoo-migrate")
        .into();
    outcome.assert_code(0);
    let target_of = |model: &str, source_id: &str| {
        pair.target
            .scalar(&format!(
                "SELECT target_id FROM odoo_migrate.id_map WHERE model = '{model}' AND source_id = {source_id}"
            ))
            .unwrap()
    };
    let huge = target_of("res.partner", "2000000000");
    let tag = target_of("res.partner.category", "2100000000");
    assert!(
        huge.parse::<i64>().unwrap() < 1_000_000,
        "a new id from the target's sequence: {huge}"
    );
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT name || '|' || (SELECT count(*) FROM res_partner_res_partner_category_rel r \
                 WHERE r.partner_id = p.id AND r.category_id = {tag}) FROM res_partner p WHERE p.id = {huge}"
            ))
            .as_deref(),
        Some("Huge id|1")
    );
    assert_eq!(
        pair.target
            .scalar(&format!(
                "SELECT parent_id FROM res_partner WHERE id = {}",
                target_of("res.partner", &child)
            ))
            .as_deref(),
        Some(huge.as_str())
    );
    pair.run(&["verify"]).assert_code(0);
}
