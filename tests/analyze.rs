//! `analyze` on the real dumps: concrete findings, exit codes, findings stored in the side schema,
//! the source left untouched, and one-line errors for bad input with nothing written.

mod common;

use common::{Database, DatabasePair, Dump, Scratch, odoo_migrate, rules_file};
use serde_json::Value;

fn findings(json: &Value) -> Vec<(String, String, String, bool, Option<String>)> {
    json["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["category"].as_str().unwrap_or_default().to_string(),
                f["subject"].as_str().unwrap_or_default().to_string(),
                f["detail"].as_str().unwrap_or_default().to_string(),
                f["blocking"].as_bool().unwrap_or(false),
                f["covered_by"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn find<'a>(
    all: &'a [(String, String, String, bool, Option<String>)],
    category: &str,
    subject: &str,
) -> &'a (String, String, String, bool, Option<String>) {
    all.iter()
        .find(|f| f.0 == category && f.1 == subject)
        .unwrap_or_else(|| panic!("no finding {category} / {subject}"))
}

#[test]
fn analyze_reports_the_differences_of_the_real_dumps() {
    let pair = DatabasePair::new("analyze_real");
    let before = pair.source.table_digests();
    let outcome = pair.run(&["--format", "json", "analyze"]);
    outcome.assert_code(0);
    let json: Value = serde_json::from_str(&outcome.stdout).expect("JSON report");
    assert_eq!(json["source_version"], "16.0.1.3");
    assert_eq!(json["target_version"], "19.0.1.3");
    let all = findings(&json);

    // Product type moved from detailed_type to type + is_storable.
    let removed = find(&all, "column_removed", "product_template.detailed_type");
    assert!(removed.2.contains("character varying"), "{removed:?}");
    // Account codes are a company-keyed jsonb column now, filled by a rule.
    let code = find(
        &all,
        "company_dependent_storage",
        "account.account.code_store",
    );
    assert!(code.4.is_some(), "code_store must be covered: {code:?}");
    // The removed column is read by that rule: covered, and the rule's column named.
    let removed_code = find(&all, "column_removed", "account_account.code");
    assert!(
        removed_code.2.ends_with("read by the rule for code_store")
            && removed_code.4.as_deref() == Some("rules/16-19/accounting.toml"),
        "{removed_code:?}"
    );
    // A relation table skipped by a rule is covered by it.
    let templates = find(
        &all,
        "model_only_in_source",
        "account_account_template_account_tag",
    );
    assert!(
        templates.2.ends_with("skipped by rule") && templates.4.is_some(),
        "{templates:?}"
    );
    // ir.property is gone: its values are company-dependent columns now.
    let property = find(&all, "model_only_in_source", "ir.property");
    assert!(property.2.contains("ir_property"), "{property:?}");
    let receivable = find(
        &all,
        "company_dependent_storage",
        "res.partner.property_account_receivable_id",
    );
    assert!(receivable.2.contains("ir_property"), "{receivable:?}");
    // Users and groups: the many2many field was renamed, its table kept.
    let groups = find(&all, "many2many_table_changed", "res.users.groups_id");
    assert!(groups.2.contains("group_ids"), "{groups:?}");
    // Renamed model and module, with the rule that covers them.
    let channel = find(&all, "model_renamed", "mail.channel → discuss.channel");
    assert!(
        channel
            .4
            .as_deref()
            .is_some_and(|r| r.starts_with("rules/16-19/")),
        "{channel:?}"
    );
    let editor = find(&all, "module_missing_in_target", "web_editor");
    assert!(editor.2.contains("html_editor"), "{editor:?}");
    // A type change the copy converts by itself.
    let name = find(&all, "type_changed", "account_account.name");
    assert_eq!(name.2, "character varying → jsonb");
    // A removed column read by a [[relations]] entry is covered by it; one whose data has no
    // place in 19 is covered by its `dropped` reason.
    let team = find(&all, "column_removed", "crm_stage.team_id");
    assert!(
        team.2
            .ends_with("read by the relation rule into crm_stage_crm_team_rel")
            && team.4.as_deref() == Some("rules/16-19/sale_purchase.toml"),
        "{team:?}"
    );
    let title = find(&all, "column_removed", "res_partner.title");
    assert!(
        title.2.contains("; dropped: ") && title.4.is_some(),
        "{title:?}"
    );
    // A column 19 moved to another model names the rule there that reads it.
    let discount = find(
        &all,
        "column_removed",
        "account_payment_term_line.discount_days",
    );
    assert!(
        discount
            .2
            .ends_with("carried by the rule for account.payment.term.discount_days"),
        "{discount:?}"
    );
    // Every difference of the real dumps is covered by a rule of the default pack.
    let uncovered: Vec<_> = all.iter().filter(|f| f.4.is_none()).collect();
    assert!(
        uncovered.is_empty(),
        "not covered by any rule: {uncovered:#?}"
    );
    // Nothing blocks with the default pack.
    assert!(
        all.iter().all(|f| !f.3),
        "blocking findings: {:?}",
        all.iter().filter(|f| f.3).collect::<Vec<_>>()
    );
    // Row counts and external ids per module.
    let partners = json["rows_per_model"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "res.partner")
        .expect("res.partner rows");
    assert_eq!(
        partners["rows"].as_i64(),
        Some(pair.source.count("SELECT 1 FROM res_partner")),
        "every partner row of the source is counted"
    );
    assert!(json["xmlids_per_module"]["l10n_fr"].as_i64().unwrap() > 1500);

    // A value the source cannot tell is a finding of its own, not blocking, naming the rule and
    // why (the tax lines of 200% that 19 refuses).
    let unknowable = find(
        &all,
        "value_unknowable",
        "account.tax._validate_repartition_lines",
    );
    assert!(!unknowable.3, "{unknowable:?}");
    assert!(unknowable.2.contains("more than 100%"), "{unknowable:?}");
    assert_eq!(
        unknowable.4.as_deref(),
        Some("rule models.\"account.tax\".unknowable._validate_repartition_lines")
    );

    // The same findings are queryable in the target's side schema.
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.analysis_findings"),
        all.len() as i64
    );
    assert_eq!(
        pair.target.count(
            "SELECT 1 FROM odoo_migrate.latest_analysis WHERE category = 'column_removed' AND subject = 'product_template.detailed_type'"
        ),
        1
    );
    // The source was only read.
    assert_eq!(pair.source.table_digests(), before);
    assert!(!pair.source.has_side_schema());
}

#[test]
fn analyze_exits_3_on_a_new_required_column_and_writes_csv() {
    let pair = DatabasePair::new("analyze_blocking");
    pair.target.execute(
        "ALTER TABLE res_partner ADD COLUMN x_must_have integer NOT NULL DEFAULT 0; \
         ALTER TABLE res_partner ALTER COLUMN x_must_have DROP DEFAULT",
    );
    let file = Scratch::path_for("analysis", ".csv");
    let outcome = pair.run(&["--format", "csv", "analyze", "--output", file.arg()]);
    outcome.assert_code(3);
    let csv = std::fs::read_to_string(file.path()).expect("csv written");
    assert!(csv.starts_with("category,subject,detail,blocking,covered_by"));
    let line = csv
        .lines()
        .find(|l| l.contains("res_partner.x_must_have"))
        .expect("the blocking column is listed");
    assert!(line.starts_with("new_required_column,"), "{line}");
    assert!(line.contains(",true,"), "{line}");
    assert!(outcome.stdout.contains("res_partner.x_must_have"));
}

#[test]
fn analyze_text_report_is_grouped_and_totalled() {
    let pair = DatabasePair::new("analyze_text");
    let outcome = pair.run(&["analyze"]);
    outcome.assert_code(0);
    assert!(outcome.stdout.contains("Nothing blocks the migration."));
    assert!(outcome.stdout.contains("Rows per model in the source"));
    assert!(outcome.stdout.contains("Totals:"));
    assert!(
        !outcome.stdout.contains('\u{1b}'),
        "no colour codes when not a terminal"
    );
}

#[test]
fn bad_connections_and_wrong_databases_fail_with_one_line_and_write_nothing() {
    let source = Database::copy_of(Dump::Source, "analyze_bad_src");
    let target = Database::copy_of(Dump::Target, "analyze_bad_tgt");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                source.url(),
                "postgres://postgres:s3cret@127.0.0.1:1/nowhere".into(),
            ],
            7,
            "cannot reach the target database",
        ),
        (
            vec![
                source.url(),
                common::url("omt_database_that_does_not_exist"),
            ],
            7,
            "does not exist",
        ),
        (
            vec![source.url(), common::url("postgres")],
            8,
            "not an Odoo database",
        ),
        (vec![source.url(), source.url()], 8, "same database"),
        (vec![target.url(), source.url()], 8, "swapped"),
        (vec![target.url(), target.url()], 8, "same database"),
    ];
    for (urls, code, message) in cases {
        let outcome = odoo_migrate(
            &["--source", &urls[0], "--target", &urls[1], "analyze"],
            &[],
        );
        assert_eq!(outcome.code, code, "{urls:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(message),
            "{urls:?}: {}",
            outcome.stderr
        );
        assert_eq!(
            outcome.stderr.trim().lines().count(),
            1,
            "one line: {}",
            outcome.stderr
        );
        assert!(!outcome.stderr.contains("s3cret"), "{}", outcome.stderr);
    }
    for database in [&source, &target] {
        assert!(
            !database.has_side_schema(),
            "nothing written in {}",
            database.name
        );
    }
    let missing = odoo_migrate(&["analyze"], &[]);
    assert_eq!(missing.code, 2);
    missing.assert_stderr_contains("ODOO_MIGRATE_SOURCE");
}

#[test]
fn an_odoo_version_other_than_16_is_refused() {
    let pair = DatabasePair::new("analyze_version");
    pair.source
        .execute("UPDATE ir_module_module SET latest_version = '15.0.1.3' WHERE name = 'base'");
    let outcome = pair.run(&["analyze"]);
    outcome.assert_code(8);
    outcome.assert_stderr_contains("Odoo 15.0.1.3");
    assert!(!pair.target.has_side_schema());
}

#[test]
fn a_side_schema_from_a_newer_tool_is_refused() {
    let pair = DatabasePair::new("analyze_schema_version");
    // The newest version is the number of upgrade steps the tool ships.
    let latest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/side_schema"))
        .expect("read sql/side_schema")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count()
        .to_string();
    pair.run(&["analyze"]).assert_code(0);
    assert_eq!(
        pair.target
            .scalar("SELECT max(version) FROM odoo_migrate.schema_version")
            .as_deref(),
        Some(latest.as_str())
    );
    // Creating it again is a no-op.
    pair.run(&["analyze"]).assert_code(0);
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.schema_version"),
        1
    );
    // A side schema left by the first version of the tool is upgraded in place.
    pair.target.execute(
        "DROP TABLE odoo_migrate.deferred_indexes; \
         UPDATE odoo_migrate.schema_version SET version = 1",
    );
    pair.run(&["analyze"]).assert_code(0);
    assert_eq!(
        pair.target
            .scalar("SELECT string_agg(version::text, ',' ORDER BY version) FROM odoo_migrate.schema_version")
            .as_deref(),
        Some(format!("1,{latest}").as_str())
    );
    assert_eq!(
        pair.target
            .count("SELECT 1 FROM odoo_migrate.deferred_indexes"),
        0
    );
    pair.target.execute(
        "INSERT INTO odoo_migrate.schema_version (version, tool_version) VALUES (99, '9.9.9')",
    );
    let outcome = pair.run(&["analyze"]);
    outcome.assert_code(8);
    outcome.assert_stderr_contains("newer odoo-migrate");
}

/// Runs `command` with `options` before it and asserts that it is refused (exit 2) naming each of
/// `expected`, with nothing written in the target.
fn assert_refused(pair: &DatabasePair, options: &[&str], command: &str, expected: &[String]) {
    let outcome = pair.run(&[options, &[command]].concat());
    assert_eq!(outcome.code, 2, "{command}: {}", outcome.stderr);
    for expected in expected {
        assert!(
            outcome.stderr.contains(expected),
            "{command}: expected `{expected}` in {}",
            outcome.stderr
        );
    }
    assert!(
        !pair.target.has_side_schema(),
        "{command} wrote the side schema"
    );
}

#[test]
fn rules_naming_what_does_not_exist_are_refused_with_file_and_line_before_anything_runs() {
    let pair = DatabasePair::new("analyze_bad_names");
    let rules = rules_file(
        "bad-names",
        "[models.\"res.partner\"]\n\
         columns.x_not_there = { sql = \"1\" }\n\
         \n\
         [models.\"x.no.such.model\"]\n\
         rename = \"x.other\"\n\
         \n\
         [models.\"res.partner\".columns.phone]\n\
         from = \"no_such_source_column\"\n\
         \n\
         [models.\"res.partner.category\"]\n\
         rename = \"res.partner\"\n",
    );
    let rules_arg = rules.arg().to_string();
    let name = rules.path().display().to_string();
    for command in ["analyze", "run", "rehearse"] {
        let expected = [
            format!(
                "{name}:2: column x_not_there of res.partner does not exist in the target table res_partner"
            ),
            format!("{name}:4: model x.no.such.model is not in the source database"),
            format!("{name}:7: `from = \"no_such_source_column\"`"),
            format!(
                "{name}:11: conflicting rules: res.partner and res.partner.category would all become res.partner"
            ),
        ];
        assert_refused(&pair, &["--rules", &rules_arg], command, &expected);
    }
}

/// Two of the user's files that disagree, and names the catalogs lack in a natural key, a
/// `references` and an external id rule: refused with the file and line of each before anything
/// runs, the target as it was.
#[test]
fn conflicting_rules_files_and_unknown_names_are_refused_at_their_line_with_nothing_written() {
    let pair = DatabasePair::new("analyze_rule_conflicts");
    let before = pair.target.table_digests();
    let dir = Scratch::dir("rule-conflicts");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let first = write(
        "ours.toml",
        "[models.\"res.partner.category\"]\ntable = \"res_partner_category\"\n",
    );
    let second = write(
        "site.toml",
        "# the site's own rules\n[models.\"res.partner.category\"]\ntable = \"res_partner_tag\"\n",
    );
    let names = write(
        "names.toml",
        "[models.\"res.partner.category\"]\n\
         natural_key = [\"name\", \"x_no_such_column\"]\n\
         columns.parent_id = { sql = \"s.parent_id\", references = \"res.partner.categ\" }\n\
         \n\
         [[xmlids]]\n\
         models = [\"res.partner.tags\"]\n\
         module = \"base\"\n\
         \n\
         [modules.sale]\n\
         renamed_to = \"sales_19\"\n",
    );
    for command in ["analyze", "run"] {
        let expected = [format!(
            "rules file {second}:3: conflicting rules: model res.partner.category is written into table res_partner_tag here but into table res_partner_category at {first}:2; keep one of them"
        )];
        assert_refused(
            &pair,
            &["--rules", &first, "--rules", &second],
            command,
            &expected,
        );

        let expected = [
            format!(
                "{names}:2: `natural_key`: column x_no_such_column does not exist in the target table res_partner_category"
            ),
            format!(
                "{names}:3: `references = \"res.partner.categ\"`: model res.partner.categ is not in the source database"
            ),
            format!("{names}:5: `models`: model res.partner.tags is not in the source database"),
            format!(
                "{names}:10: `renamed_to = \"sales_19\"`: module sales_19 is not installed in the target database"
            ),
        ];
        assert_refused(&pair, &["--rules", &names], command, &expected);
    }
    assert_eq!(
        pair.target.table_digests(),
        before,
        "the target is as it was"
    );
}

#[test]
fn odoo_versions_other_than_16_to_19_are_refused() {
    let pair = DatabasePair::new("analyze_versions");
    pair.source
        .execute("UPDATE ir_module_module SET latest_version = '17.0.1.3' WHERE name = 'base'");
    let outcome = pair.run(&["analyze"]);
    assert_eq!(outcome.code, 8, "{}", outcome.stderr);
    outcome.assert_stderr_contains("is Odoo 17.0.1.3 but this tool migrates from Odoo 16");
    pair.source
        .execute("UPDATE ir_module_module SET latest_version = '16.0.1.3' WHERE name = 'base'");
    pair.target
        .execute("UPDATE ir_module_module SET latest_version = '18.0.1.3' WHERE name = 'base'");
    let outcome = pair.run(&["run"]);
    assert_eq!(outcome.code, 8, "{}", outcome.stderr);
    outcome.assert_stderr_contains("is Odoo 18.0.1.3 but this tool migrates into Odoo 19");
    assert!(!pair.target.has_side_schema(), "nothing written");
}
