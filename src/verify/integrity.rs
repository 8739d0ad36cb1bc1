//! The integrity checks on the records and keys of the migration: external ids, counts per model,
//! foreign keys and `res_model`/`res_id` pairs in force, no target record mapped twice, and the
//! files of migrated attachments. Each reads the databases (and the filestore) and returns
//! results; none writes anything.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::{CheckResult, summarize};
use crate::catalog::{Catalog, quote_ident};
use crate::plan::tables::TablePlan;
use crate::rules::Rules;
use crate::rules::pairing::TableKind;

/// Every mapped source record with an external id must be what that external id points at in the
/// target.
pub(super) async fn external_ids(
    source: &Client,
    target: &Client,
    rules: &Rules,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mapping = load_id_map(target).await?;
    let target_xmlids: HashMap<(String, String), (String, i32)> = target
        .query(
            "SELECT module, name, model, res_id FROM ir_model_data WHERE res_id IS NOT NULL",
            &[],
        )
        .await?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
        .collect();
    let models: Vec<&str> = plans
        .iter()
        .filter(|p| p.kind == TableKind::Model)
        .map(|p| p.model.as_str())
        .collect();
    let rows = source
        .query(
            "SELECT model, res_id, module, name FROM ir_model_data \
             WHERE res_id IS NOT NULL AND model = ANY($1::text[]) ORDER BY model, module, name",
            &[&models],
        )
        .await?;
    // Per model: external ids checked, discrepancies, and notes that are not failures.
    let mut per_model: BTreeMap<String, (u64, Vec<String>, Vec<String>)> = BTreeMap::new();
    for row in &rows {
        let model: String = row.get(0);
        let source_id: i32 = row.get(1);
        let module: String = row.get(2);
        let name: String = row.get(3);
        let Some(&mapped) = mapping.get(&(model.clone(), source_id)) else {
            continue;
        };
        let entry = per_model.entry(model.clone()).or_default();
        entry.0 += 1;
        let (target_module, mut target_name, company_prefixed) = rules
            .xmlid_rule_in_target(&model, &module, &name)
            .unwrap_or((module.clone(), name.clone(), false));
        if company_prefixed
            && let Some((company, rest)) = target_name.split_once('_')
            && let Ok(company) = company.parse::<i32>()
            && let Some(target_company) = mapping.get(&("res.company".to_string(), company))
        {
            target_name = format!("{target_company}_{rest}");
        }
        let problem = match target_xmlids.get(&(target_module.clone(), target_name.clone())) {
            None => Some(format!(
                "{target_module}.{target_name} (source id {source_id}, mapped to {mapped}) is missing in the target's ir_model_data: the external id was not recreated"
            )),
            Some((pointed_model, _)) if pointed_model != rules.model_in_target(&model) => {
                entry.2.push(format!(
                    "{target_module}.{target_name} names a {pointed_model} record in Odoo 19; the migrated record (id {mapped}) keeps no external id"
                ));
                None
            }
            Some((_, pointed)) if *pointed != mapped => Some(format!(
                "{target_module}.{target_name}: source id {source_id} is mapped to {mapped} but the external id points at {pointed}: the record was matched by another key or the external id was changed after the run"
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            entry.1.push(problem);
        }
    }
    Ok(per_model
        .into_iter()
        .map(|(model, (checked, problems, notes))| CheckResult {
            check: "external-ids",
            subject: model,
            passed: problems.is_empty(),
            source_value: checked.to_string(),
            target_value: (checked - problems.len() as u64).to_string(),
            detail: summarize(if problems.is_empty() {
                &notes
            } else {
                &problems
            }),
        })
        .collect())
}

/// Every mapping: (model, source id) → target id.
async fn load_id_map(target: &Client) -> Result<HashMap<(String, i32), i32>> {
    Ok(target
        .query(
            "SELECT model, source_id, target_id FROM odoo_migrate.id_map",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.id_map")?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// Source rows, mapped rows and target rows per model; rows that were not copied must be the ones
/// the newest run that copied the table reported (a catch-up reads again every row no run mapped,
/// so its count replaces the earlier ones).
pub(super) async fn counts(
    source: &Client,
    target: &Client,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let source_rows: i64 = source
            .query_one(
                &format!(
                    "SELECT count(*) FROM public.{} s{}",
                    quote_ident(&plan.source_table),
                    plan.filter
                        .as_ref()
                        .map(|f| format!(" WHERE {f}"))
                        .unwrap_or_default()
                ),
                &[],
            )
            .await?
            .get(0);
        let row = target
            .query_one(
                &format!(
                    "SELECT count(*), count(t.id), count(*) FILTER (WHERE m.how = 'created'), \
                     coalesce((SELECT s.rows_rejected FROM odoo_migrate.model_state s \
                      JOIN odoo_migrate.runs r ON r.id = s.run_id AND r.status <> 'rolled_back' \
                      WHERE s.source_table = $2 ORDER BY s.run_id DESC LIMIT 1), 0)::bigint \
                     FROM odoo_migrate.id_map m LEFT JOIN public.{} t ON t.id = m.target_id WHERE m.model = $1",
                    quote_ident(&plan.target_table)
                ),
                &[&plan.model, &plan.key],
            )
            .await?;
        let mapped: i64 = row.get(0);
        let present: i64 = row.get(1);
        let created: i64 = row.get(2);
        let reported: i64 = row.get(3);
        let missing = source_rows - mapped;
        let passed = present == mapped && missing == reported;
        let completeness = if source_rows == 0 {
            100.0
        } else {
            mapped as f64 * 100.0 / source_rows as f64
        };
        let mut detail = format!(
            "{mapped} mapped ({created} created, {} matched), {completeness:.1}% complete",
            mapped - created
        );
        if missing > 0 {
            detail.push_str(&format!(
                "; {missing} not migrated, {reported} of them reported in odoo_migrate.problems"
            ));
        }
        if present < mapped {
            detail.push_str(&format!(
                "; {} mapped record(s) missing from {}",
                mapped - present,
                plan.target_table
            ));
        }
        results.push(CheckResult {
            check: "counts",
            subject: plan.model.clone(),
            passed,
            source_value: source_rows.to_string(),
            target_value: present.to_string(),
            detail,
        });
    }
    Ok(results)
}

/// No target row points at a missing row: every foreign key is in force and validated, and every
/// `res_model`/`res_id` pair of the migrated rows names an existing record.
/// (`catalog` is the target's.)
pub(super) async fn references(target: &Client, catalog: &Catalog) -> Result<Vec<CheckResult>> {
    let mut results = vec![foreign_keys_in_force(target).await?];
    for (table, model_column) in [
        ("mail_message", "model"),
        ("mail_followers", "res_model"),
        ("mail_activity", "res_model"),
        ("ir_attachment", "res_model"),
    ] {
        let Some(definition) = catalog.tables.get(table) else {
            continue;
        };
        if !definition.has_column(model_column) || !definition.has_column("res_id") {
            continue;
        }
        results.push(dangling_res_ids(target, catalog, table, model_column).await?);
    }
    Ok(results)
}

/// Every foreign key of the target is in force: none still set aside, none left not validated.
async fn foreign_keys_in_force(target: &Client) -> Result<CheckResult> {
    let set_aside: Vec<String> = target
        .query(
            "SELECT table_name || '.' || constraint_name FROM odoo_migrate.deferred_constraints",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let not_validated: Vec<String> = target
        .query(
            "SELECT c.relname || '.' || con.conname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
             WHERE con.contype = 'f' AND NOT con.convalidated",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut problems: Vec<String> = set_aside
        .iter()
        .map(|c| format!("{c} is still set aside (the run did not finish)"))
        .collect();
    problems.extend(
        not_validated
            .iter()
            .map(|c| format!("{c} is not validated")),
    );
    Ok(CheckResult {
        check: "references",
        subject: "foreign keys".to_string(),
        passed: problems.is_empty(),
        source_value: String::new(),
        target_value: format!("{} not in force", problems.len()),
        detail: summarize(&problems),
    })
}

/// The rows of `table` whose (`model_column`, `res_id`) pair names no existing record, per model.
async fn dangling_res_ids(
    target: &Client,
    catalog: &Catalog,
    table: &str,
    model_column: &str,
) -> Result<CheckResult> {
    let models: Vec<String> = target
        .query(
            &format!(
                "SELECT DISTINCT {col} FROM public.{tab} WHERE {col} IS NOT NULL AND res_id IS NOT NULL AND res_id <> 0",
                col = quote_ident(model_column),
                tab = quote_ident(table)
            ),
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut dangling = Vec::new();
    let mut total = 0i64;
    for model in models {
        let Some(model_table) = catalog.models.get(&model).and_then(|m| m.table.clone()) else {
            continue;
        };
        let count: i64 = target
            .query_one(
                &format!(
                    "SELECT count(*) FROM public.{tab} x WHERE x.{col} = $1 AND x.res_id IS NOT NULL AND x.res_id <> 0 \
                     AND NOT EXISTS (SELECT 1 FROM public.{mt} r WHERE r.id = x.res_id)",
                    tab = quote_ident(table),
                    col = quote_ident(model_column),
                    mt = quote_ident(&model_table)
                ),
                &[&model],
            )
            .await?
            .get(0);
        if count > 0 {
            total += count;
            dangling.push(format!("{count} on {model}"));
        }
    }
    Ok(CheckResult {
        check: "references",
        subject: format!("{table}.res_id"),
        passed: total == 0,
        source_value: String::new(),
        target_value: format!("{total} dangling"),
        detail: summarize(&dangling),
    })
}

/// No source record mapped twice (the primary key forbids it) and no target record that two source
/// records were mapped to.
pub(super) async fn duplicates(target: &Client, rules: &Rules) -> Result<Vec<CheckResult>> {
    // Models whose rules match several source records to one target record on purpose.
    let shared: Vec<String> = rules
        .models
        .iter()
        .filter(|(_, rule)| rule.shared_match)
        .map(|(model, _)| model.clone())
        .collect();
    let rows = target
        .query(
            "SELECT model, target_id, array_agg(source_id ORDER BY source_id) FROM odoo_migrate.id_map \
             WHERE NOT (model = ANY($1) AND how = 'natural_key') \
             GROUP BY model, target_id HAVING count(*) > 1 ORDER BY model, target_id",
            &[&shared],
        )
        .await?;
    let problems: Vec<String> = rows
        .iter()
        .map(|row| {
            let model: String = row.get(0);
            let target_id: i32 = row.get(1);
            let sources: Vec<i32> = row.get(2);
            format!("{model} target id {target_id} is mapped from source ids {sources:?}")
        })
        .collect();
    Ok(vec![CheckResult {
        check: "duplicates",
        subject: "id mappings".to_string(),
        passed: problems.is_empty(),
        source_value: String::new(),
        target_value: format!("{} target record(s) mapped twice", problems.len()),
        detail: summarize(&problems),
    }])
}

/// Every migrated attachment stored as a file has that file in the target's `filestore`.
pub(super) async fn attachment_files(target: &Client, filestore: &Path) -> Result<CheckResult> {
    let names = crate::copy::filestore::migrated_files(target).await?;
    let absent = crate::copy::filestore::absent(filestore, &names);
    Ok(CheckResult {
        check: "attachment-files",
        subject: filestore.display().to_string(),
        passed: absent.is_empty(),
        source_value: names.len().to_string(),
        target_value: (names.len() - absent.len()).to_string(),
        detail: if absent.is_empty() {
            String::new()
        } else {
            format!("files missing: {}", summarize(&absent))
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ModelRule;

    /// The external ids of the miniature migration's partners, as the source has them and as the
    /// target has them after a good run, with ids the check must leave alone: one of a model no
    /// plan copies (mapped all the same), one of a partner no run mapped, one naming no record.
    async fn partners_with_external_ids() -> (Client, Client) {
        use crate::verify::fixture;
        let target = fixture::migrated().await;
        target
            .batch_execute(
                "INSERT INTO odoo_migrate.id_map VALUES ('ir.ui.view', 1, 5, 'xmlid', 1)",
            )
            .await
            .expect("a view mapped");
        let source = fixture::source_side().await;
        fixture::ir_model_data(
            &source,
            &[
                ("base", "partner_a", "res.partner", Some(1)),
                ("base", "partner_b", "res.partner", Some(2)),
                ("__export__", "res_partner_3", "res.partner", Some(3)),
                ("base", "partner_unmapped", "res.partner", Some(9)),
                ("base", "partner_none", "res.partner", None),
                ("base", "view_partner", "ir.ui.view", Some(1)),
            ],
        )
        .await;
        fixture::ir_model_data(
            &target,
            &[
                ("base", "partner_a", "res.partner", Some(101)),
                ("base", "partner_b", "res.partner", Some(102)),
                ("__export__", "res_partner_3", "res.partner", Some(103)),
                ("base", "view_partner", "ir.ui.view", Some(6)),
            ],
        )
        .await;
        (source, target)
    }

    /// The check's results, each as (subject, passed, source value, target value, detail).
    async fn external_ids_of(
        source: &Client,
        target: &Client,
        rules: &Rules,
        plans: &[TablePlan],
    ) -> Vec<(String, bool, String, String, String)> {
        external_ids(source, target, rules, plans)
            .await
            .expect("the check runs")
            .into_iter()
            .map(|r| {
                assert_eq!(r.check, "external-ids");
                (
                    r.subject,
                    r.passed,
                    r.source_value,
                    r.target_value,
                    r.detail,
                )
            })
            .collect()
    }

    /// The partners' result alone.
    fn result(
        passed: bool,
        checked: &str,
        right: &str,
        detail: &str,
    ) -> Vec<(String, bool, String, String, String)> {
        vec![(
            "res.partner".into(),
            passed,
            checked.into(),
            right.into(),
            detail.into(),
        )]
    }

    #[tokio::test]
    async fn every_mapped_external_id_must_point_at_its_migrated_record() {
        let (source, target) = partners_with_external_ids().await;
        let plans = [crate::verify::fixture::plan()];
        let rules = Rules::default();
        // The three mapped partners' external ids, each at its record; the view's is another
        // model's, not planned, and the partners unmapped or naming no record are not counted.
        assert_eq!(
            external_ids_of(&source, &target, &rules, &plans).await,
            result(true, "3", "3", "")
        );
        // An external id that points at another partner.
        target
            .batch_execute("UPDATE ir_model_data SET res_id = 103 WHERE name = 'partner_b'")
            .await
            .expect("moved");
        assert_eq!(
            external_ids_of(&source, &target, &rules, &plans).await,
            result(
                false,
                "3",
                "2",
                "base.partner_b: source id 2 is mapped to 102 but the external id points at 103: \
                 the record was matched by another key or the external id was changed after the run"
            )
        );
        // An external id not recreated in the target.
        target
            .batch_execute(
                "UPDATE ir_model_data SET res_id = 102 WHERE name = 'partner_b'; \
                 DELETE FROM ir_model_data WHERE name = 'res_partner_3'",
            )
            .await
            .expect("lost");
        assert_eq!(
            external_ids_of(&source, &target, &rules, &plans).await,
            result(
                false,
                "3",
                "2",
                "__export__.res_partner_3 (source id 3, mapped to 103) is missing in the \
                 target's ir_model_data: the external id was not recreated"
            )
        );
        // An external id that names a record of another model in Odoo 19 is a note, not a failure.
        target
            .batch_execute(
                "INSERT INTO ir_model_data VALUES ('__export__', 'res_partner_3', 'res.partner', 103); \
                 UPDATE ir_model_data SET model = 'res.users', res_id = 2 WHERE name = 'partner_a'",
            )
            .await
            .expect("another model's");
        assert_eq!(
            external_ids_of(&source, &target, &rules, &plans).await,
            result(
                true,
                "3",
                "3",
                "base.partner_a names a res.users record in Odoo 19; the migrated record \
                 (id 101) keeps no external id"
            )
        );
    }

    #[tokio::test]
    async fn external_ids_are_looked_up_under_their_odoo_19_names_and_models() {
        let (source, target) = partners_with_external_ids().await;
        let mut plans = vec![crate::verify::fixture::plan()];
        let mut accounts = plans[0].clone();
        accounts.model = "account.account".into();
        plans.push(accounts);
        // A chart of accounts' id names its company (1 in the source, 7 in the target), and its
        // module is another in Odoo 19; the partners are contacts there.
        source
            .batch_execute(
                "INSERT INTO ir_model_data VALUES ('l10n_fr', '1_pcg_401', 'account.account', 40)",
            )
            .await
            .expect("an account's id");
        target
            .batch_execute(
                "INSERT INTO odoo_migrate.id_map VALUES ('res.company', 1, 7, 'xmlid', 1), \
                   ('account.account', 40, 400, 'created', 1); \
                 INSERT INTO ir_model_data VALUES ('account', '7_pcg_401', 'account.account', 400), \
                   ('account', '1_pcg_401', 'account.account', 401); \
                 UPDATE ir_model_data SET model = 'res.contact' WHERE model = 'res.partner'",
            )
            .await
            .expect("the account and the contacts in the target");
        let mut rules = Rules::default();
        rules.xmlids.push(crate::rules::XmlidRule {
            models: vec!["account.account".into()],
            module: "l10n_fr".into(),
            company_prefixed: true,
            to_module: Some("account".into()),
            ..Default::default()
        });
        rules.models.insert(
            "res.partner".into(),
            ModelRule {
                rename: Some("res.contact".into()),
                ..Default::default()
            },
        );
        let mut expected = vec![(
            "account.account".into(),
            true,
            "1".into(),
            "1".into(),
            String::new(),
        )];
        expected.extend(result(true, "3", "3", ""));
        assert_eq!(
            external_ids_of(&source, &target, &rules, &plans).await,
            expected
        );
    }

    #[tokio::test]
    async fn a_target_record_mapped_from_two_source_records_is_a_duplicate_unless_its_rule_shares_it()
     {
        let client = crate::verify::fixture::migrated().await;
        client
            .batch_execute(
                "INSERT INTO odoo_migrate.id_map VALUES \
                 ('account.tax.repartition.line', 5, 50, 'natural_key', 1), \
                 ('account.tax.repartition.line', 6, 50, 'natural_key', 1), \
                 ('account.tax.repartition.line', 7, 51, 'created', 1), \
                 ('account.tax.repartition.line', 8, 51, 'xmlid', 1)",
            )
            .await
            .expect("two tax lines mapped to each of two target lines");
        let mut rules = Rules::default();
        let found = duplicates(&client, &rules).await.expect("the check runs");
        assert_eq!(found.len(), 1);
        assert!(!found[0].passed);
        assert_eq!(found[0].target_value, "2 target record(s) mapped twice");
        assert!(
            found[0].detail.contains(
                "account.tax.repartition.line target id 50 is mapped from source ids [5, 6]"
            ),
            "{}",
            found[0].detail
        );
        // Lines matched on purpose to one 19 line are no duplicate; other mappings still are.
        rules.models.insert(
            "account.tax.repartition.line".into(),
            ModelRule {
                shared_match: true,
                ..Default::default()
            },
        );
        let found = duplicates(&client, &rules).await.expect("the check runs");
        assert!(!found[0].passed);
        assert_eq!(found[0].target_value, "1 target record(s) mapped twice");
        assert!(
            found[0].detail.contains("target id 51"),
            "{}",
            found[0].detail
        );
        client
            .batch_execute("DELETE FROM odoo_migrate.id_map WHERE source_id = 8")
            .await
            .expect("deleted");
        let found = duplicates(&client, &rules).await.expect("the check runs");
        assert!(found[0].passed, "{}", found[0].detail);
        client.batch_execute("ROLLBACK").await.expect("rolled back");
    }

    #[tokio::test]
    async fn a_key_set_aside_or_not_validated_is_not_in_force() {
        let client = crate::verify::fixture::migrated().await;
        let table = format!("om_unit_keys_{}", std::process::id());
        client
            .batch_execute(&format!(
                "CREATE TABLE public.{table} (id int PRIMARY KEY, parent_id int); \
                 ALTER TABLE public.{table} ADD CONSTRAINT {table}_parent_fkey \
                 FOREIGN KEY (parent_id) REFERENCES public.{table}(id)"
            ))
            .await
            .expect("the tables");
        let in_force = foreign_keys_in_force(&client)
            .await
            .expect("the check runs");
        assert!(in_force.passed, "{}", in_force.detail);
        assert_eq!(in_force.target_value, "0 not in force");
        client
            .batch_execute(&format!(
                "INSERT INTO odoo_migrate.deferred_constraints VALUES ('res_partner', 'res_partner_parent_id_fkey'); \
                 ALTER TABLE public.{table} DROP CONSTRAINT {table}_parent_fkey; \
                 ALTER TABLE public.{table} ADD CONSTRAINT {table}_parent_fkey \
                 FOREIGN KEY (parent_id) REFERENCES public.{table}(id) NOT VALID"
            ))
            .await
            .expect("a key set aside, another not validated");
        let broken = foreign_keys_in_force(&client)
            .await
            .expect("the check runs");
        assert!(!broken.passed);
        assert_eq!(broken.target_value, "2 not in force");
        assert!(
            broken
                .detail
                .contains("res_partner.res_partner_parent_id_fkey is still set aside")
                && broken
                    .detail
                    .contains(&format!("{table}.{table}_parent_fkey is not validated")),
            "{}",
            broken.detail
        );
        client.batch_execute("ROLLBACK").await.expect("rolled back");
    }
    /// The references of `mail_followers` (made in the transaction, under Odoo's name) to the
    /// miniature migration's partners, in a catalog where `mail_activity` and `ir_attachment`
    /// lack one of the pair's columns and `mail_message` is absent.
    #[tokio::test]
    async fn a_res_model_and_res_id_pair_naming_no_record_is_dangling() {
        use crate::verify::fixture;
        let client = fixture::migrated().await;
        let (source, target) = fixture::tables();
        client
            .batch_execute(
                "CREATE TABLE public.mail_followers (id int, res_model text, res_id int); \
                 INSERT INTO public.mail_followers VALUES (1, 'res.partner', 101), \
                 (2, 'res.partner', 999), (3, 'res.partner', 0), (4, 'res.partner', NULL), \
                 (5, 'no.such.model', 7), (6, NULL, 5), (7, 'res.partner', 998), \
                 (8, 'res.partner.bank', 2)",
            )
            .await
            .expect("followers, two of them of partners that are not there");
        let catalog = fixture::target_catalog(
            &[
                ("mail_followers", &["id", "res_model", "res_id"]),
                ("mail_activity", &["id", "res_model"]),
                ("ir_attachment", &["id", "res_id"]),
            ],
            &[
                ("res.partner", target.as_str()),
                ("res.partner.bank", source.as_str()),
            ],
        );
        let found = references(&client, &catalog).await.expect("the check runs");
        let summary: Vec<(&str, bool, &str, &str)> = found
            .iter()
            .map(|r| {
                (
                    r.subject.as_str(),
                    r.passed,
                    r.target_value.as_str(),
                    r.detail.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("foreign keys", true, "0 not in force", ""),
                (
                    "mail_followers.res_id",
                    false,
                    "2 dangling",
                    "2 on res.partner"
                ),
            ]
        );
        client
            .batch_execute("DELETE FROM public.mail_followers WHERE res_id > 900")
            .await
            .expect("deleted");
        let clean = references(&client, &catalog).await.expect("the check runs");
        assert_eq!(clean.len(), 2);
        assert!(clean[1].passed);
        assert_eq!(
            (clean[1].target_value.as_str(), clean[1].detail.as_str()),
            ("0 dangling", "")
        );
        client.batch_execute("ROLLBACK").await.expect("rolled back");
    }

    #[tokio::test]
    async fn every_source_row_is_mapped_and_present_or_reported() {
        use crate::verify::fixture;
        let client = fixture::migrated().await;
        let (source, target) = fixture::tables();
        let plan = fixture::plan();
        let counted = counts(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("counted");
        assert_eq!(counted.len(), 1);
        assert!(counted[0].passed, "{}", counted[0].detail);
        assert_eq!(
            (
                counted[0].source_value.as_str(),
                counted[0].target_value.as_str()
            ),
            ("3", "3")
        );
        assert_eq!(
            counted[0].detail,
            "3 mapped (2 created, 1 matched), 100.0% complete"
        );
        // A source row that no run mapped nor reported.
        client
            .batch_execute(&format!(
                "INSERT INTO public.{source} VALUES (4, 'D', NULL)"
            ))
            .await
            .expect("a row more");
        let missing = counts(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("counted");
        assert!(!missing[0].passed);
        assert!(
            missing[0].detail.ends_with(
                "75.0% complete; 1 not migrated, 0 of them reported in odoo_migrate.problems"
            ),
            "{}",
            missing[0].detail
        );
        // Reported as rejected by the newest run that is not rolled back.
        client
            .batch_execute(&format!(
                "UPDATE odoo_migrate.model_state SET rows_rejected = 1; \
                 INSERT INTO odoo_migrate.runs VALUES (2, 'rolled_back'); \
                 INSERT INTO odoo_migrate.model_state VALUES (2, '{source}', 5)"
            ))
            .await
            .expect("reported");
        assert!(
            counts(&client, &client, std::slice::from_ref(&plan))
                .await
                .expect("counted")[0]
                .passed
        );
        // A mapped record gone from the target.
        client
            .batch_execute(&format!("DELETE FROM public.{target} WHERE id = 101"))
            .await
            .expect("deleted");
        let gone = counts(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("counted");
        assert!(!gone[0].passed);
        assert_eq!(gone[0].target_value, "2");
        assert!(
            gone[0]
                .detail
                .ends_with(&format!("1 mapped record(s) missing from {target}")),
            "{}",
            gone[0].detail
        );
        // A filtered plan counts only the rows its filter selects.
        let mut filtered = plan.clone();
        filtered.filter = Some("s.id <> 4".into());
        client
            .batch_execute(&format!("INSERT INTO public.{target} VALUES (101, 'A', NULL); UPDATE odoo_migrate.model_state SET rows_rejected = 0"))
            .await
            .expect("put back");
        assert!(
            counts(&client, &client, &[filtered])
                .await
                .expect("counted")[0]
                .passed
        );
    }

    #[tokio::test]
    async fn attachment_files_counts_the_migrated_files_found_and_names_those_missing() {
        let target = crate::verify::fixture::migrated().await;
        // Migrated: 201 and 202 created, 203 matched and rewritten (a before image); 204 is the
        // target's own, 205 has no file. A temporary ir_attachment hides no real one.
        target
            .batch_execute(
                "CREATE TABLE odoo_migrate.before_images (run_id bigint, table_name text, target_id int);
                 CREATE TEMP TABLE ir_attachment (id int, store_fname text);
                 INSERT INTO ir_attachment VALUES (201, 'ab/present'), (202, 'cd/missing'),
                   (203, 'ef/rewritten'), (204, 'gh/own'), (205, NULL);
                 INSERT INTO odoo_migrate.id_map VALUES ('ir.attachment', 1, 201, 'created', 1),
                   ('ir.attachment', 2, 202, 'created', 1), ('ir.attachment', 3, 203, 'xmlid', 1),
                   ('ir.attachment', 4, 204, 'xmlid', 1), ('ir.attachment', 5, 205, 'created', 1);
                 INSERT INTO odoo_migrate.before_images VALUES (1, 'ir_attachment', 203);",
            )
            .await
            .expect("the attachments");
        let store = std::env::temp_dir().join(format!("om-unit-filestore-{}", std::process::id()));
        let write = |name: &str| {
            let file = store.join(name);
            std::fs::create_dir_all(file.parent().expect("a folder")).expect("make the folder");
            std::fs::write(file, name).expect("write a file");
        };
        write("ab/present");
        write("ef/rewritten");
        let seen = |r: CheckResult| (r.passed, r.source_value, r.target_value, r.detail);
        let result = attachment_files(&target, &store).await.expect("checked");
        assert_eq!(
            seen(result),
            (
                false,
                "3".to_string(),
                "2".to_string(),
                "files missing: cd/missing".to_string()
            )
        );
        write("cd/missing");
        let result = attachment_files(&target, &store).await.expect("checked");
        let _ = std::fs::remove_dir_all(&store);
        assert_eq!(
            seen(result),
            (true, "3".to_string(), "3".to_string(), String::new())
        );
    }
}
