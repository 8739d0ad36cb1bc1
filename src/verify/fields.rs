//! The checks on column values: no value of a created record lost on the way (`fields`), and no
//! selection value that Odoo 19 does not know (`selection-values`); also the count of references
//! the run reported it could not keep, which explains some differences (shared with `deep`).
//! Read-only on both databases.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Row};

use super::CheckResult;
use crate::catalog::{self, quote_ident};
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::TableKind;

/// For every column copied as it is, the non-null values of the source rows the run created must
/// be non-null in their target rows, except where the run reported a reference it could not keep.
pub(super) async fn fields(
    source: &Client,
    target: &Client,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let created = created_ids(target, plan).await?;
        if created.is_empty() {
            continue;
        }
        let columns = copied_columns(plan);
        if columns.is_empty() {
            continue;
        }
        let (source_counts, target_counts) =
            value_counts(source, target, plan, &columns, &created).await?;
        let explained = unmapped_references(target, &plan.target_table).await?;
        for (index, (column, _)) in columns.iter().enumerate() {
            let in_source: i64 = source_counts.get(index);
            let in_target: i64 = target_counts.get(index);
            let allowed = explained.get(*column).copied().unwrap_or(0);
            results.extend(column_result(plan, column, in_source, in_target, allowed));
        }
        results.push(CheckResult {
            check: "fields",
            subject: format!("{} ({} columns)", plan.target_table, columns.len()),
            passed: true,
            source_value: created.len().to_string(),
            target_value: created.len().to_string(),
            detail: "non-null values compared column by column over the created records"
                .to_string(),
        });
    }
    keep_summaries_of_clean_tables(&mut results);
    Ok(results)
}

/// The source ids of the records of `plan`'s model that the runs created.
async fn created_ids(target: &Client, plan: &TablePlan) -> Result<Vec<i32>> {
    Ok(target
        .query(
            "SELECT source_id FROM odoo_migrate.id_map WHERE model = $1 AND how = 'created'",
            &[&plan.model],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The columns copied as they are or as a remapped id: (target column, source field).
fn copied_columns(plan: &TablePlan) -> Vec<(&str, usize)> {
    plan.columns
        .iter()
        .filter(|c| !c.set_by_post_sql)
        .filter_map(|c| match &c.output {
            Output::Copy { field } | Output::Remap { field, .. } => {
                Some((c.target_column.as_str(), *field))
            }
            _ => None,
        })
        .collect()
}

/// The non-null values of each column over the created records: one row from the source, one
/// from the target, a count per column in `columns`' order.
async fn value_counts(
    source: &Client,
    target: &Client,
    plan: &TablePlan,
    columns: &[(&str, usize)],
    created: &[i32],
) -> Result<(Row, Row)> {
    let source_counts = source
        .query_one(
            &format!(
                "SELECT {} FROM {} WHERE s.id = ANY($1::int[])",
                columns
                    .iter()
                    .map(|(_, field)| format!("count({})", plan.select[*field]))
                    .collect::<Vec<_>>()
                    .join(", "),
                plan.source_from()
            ),
            &[&created],
        )
        .await
        .with_context(|| {
            format!(
                "cannot count the values of source table {}",
                plan.source_table
            )
        })?;
    let target_counts = target
        .query_one(
            &format!(
                "SELECT {} FROM public.{} t JOIN odoo_migrate.id_map m ON m.target_id = t.id \
                 AND m.model = $1 AND m.how = 'created'",
                columns
                    .iter()
                    .map(|(column, _)| format!("count(t.{})", quote_ident(column)))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(&plan.target_table)
            ),
            &[&plan.model],
        )
        .await
        .with_context(|| {
            format!(
                "cannot count the values of target table {}",
                plan.target_table
            )
        })?;
    Ok((source_counts, target_counts))
}

/// The finding for one column, if values were lost: passed when every lost value is a reference
/// the run reported (`allowed` of them).
fn column_result(
    plan: &TablePlan,
    column: &str,
    in_source: i64,
    in_target: i64,
    allowed: i64,
) -> Option<CheckResult> {
    let lost = in_source - in_target;
    let passed = lost == 0 || (lost > 0 && lost <= allowed);
    if passed && lost == 0 {
        return None;
    }
    Some(CheckResult {
        check: "fields",
        subject: format!("{}.{column}", plan.target_table),
        passed,
        source_value: in_source.to_string(),
        target_value: in_target.to_string(),
        detail: if passed {
            format!(
                "{lost} value(s) were references to records not migrated, reported in odoo_migrate.problems"
            )
        } else {
            format!("{lost} value(s) present in the source are empty in the target")
        },
    })
}

/// Keeps the per-table summary only when the table has no finding of its own.
fn keep_summaries_of_clean_tables(results: &mut Vec<CheckResult>) {
    let with_findings: Vec<String> = results
        .iter()
        .filter(|r| !r.detail.starts_with("non-null"))
        .filter_map(|r| r.subject.split('.').next().map(str::to_string))
        .collect();
    results.retain(|r| {
        !r.detail.starts_with("non-null")
            || !with_findings
                .iter()
                .any(|t| r.subject.starts_with(&format!("{t} ")))
    });
}

/// Per column of a target table, how many references the run reported it could not keep (written
/// as NULL): the differences that are explained.
pub(super) async fn unmapped_references(
    target: &Client,
    table: &str,
) -> Result<HashMap<String, i64>> {
    Ok(target
        .query(
            "SELECT column_name, sum((detail->>'count')::bigint)::bigint FROM odoo_migrate.problems \
             WHERE table_name = $1 AND kind = 'unmapped_reference' GROUP BY column_name",
            &[&table],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Every value of a selection column of the copied tables is one that Odoo 19 knows for the field
/// (`ir_model_fields_selection`); a value no rule mapped would show as blank or break a form.
/// (`catalog` is the target's.)
pub(super) async fn selection_values(
    target: &Client,
    catalog: &catalog::Catalog,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    let mut checked = 0usize;
    for (model_name, table_name) in target_tables(plans) {
        let (Some(model), Some(table)) = (
            catalog.models.get(model_name),
            catalog.tables.get(table_name),
        ) else {
            continue;
        };
        let fields = selection_fields(model, table);
        if fields.is_empty() {
            continue;
        }
        checked += fields.len();
        results.extend(unknown_values(target, model_name, table_name, table, &fields).await?);
    }
    if results.is_empty() {
        results.push(CheckResult {
            check: "selection-values",
            subject: "selection columns".to_string(),
            passed: true,
            source_value: String::new(),
            target_value: format!("{checked} column(s) hold only known values"),
            detail: String::new(),
        });
    }
    Ok(results)
}

/// The (Odoo 19 model, target table) pairs of the copied model tables, each once, sorted.
fn target_tables(plans: &[TablePlan]) -> Vec<(&str, &str)> {
    let mut tables: Vec<(&str, &str)> = plans
        .iter()
        .filter(|p| p.kind == TableKind::Model)
        .map(|p| (p.target_model.as_str(), p.target_table.as_str()))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}

/// The stored selection fields of `model` with a column in `table` and a known list of values.
fn selection_fields<'m>(
    model: &'m catalog::Model,
    table: &catalog::Table,
) -> Vec<&'m catalog::Field> {
    model
        .fields
        .values()
        .filter(|f| {
            f.ttype == "selection"
                && f.store
                && !f.selection.is_empty()
                && table.columns.iter().any(|c| c.name == f.name)
        })
        .collect()
}

/// The values of `fields` in `table` that Odoo 19 does not know, one failed result per value.
async fn unknown_values(
    target: &Client,
    model_name: &str,
    table_name: &str,
    table: &catalog::Table,
    fields: &[&catalog::Field],
) -> Result<Vec<CheckResult>> {
    let lists: Vec<&Vec<String>> = fields.iter().map(|f| &f.selection).collect();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = lists
        .iter()
        .map(|l| *l as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = target
        .query(
            unknown_values_query(table_name, table, fields).as_str(),
            &params,
        )
        .await
        .with_context(|| format!("cannot check the selection values of {table_name}"))?;
    Ok(rows
        .iter()
        .map(|row| {
            let field = fields[row.get::<_, i32>(0) as usize];
            let value: String = row.get(1);
            let count: i64 = row.get(2);
            let ids: Vec<i32> = row.get(3);
            CheckResult {
                check: "selection-values",
                subject: format!("{model_name}.{}", field.name),
                passed: false,
                source_value: String::new(),
                target_value: format!("'{value}' in {count} row(s)"),
                detail: format!(
                    "Odoo 19 does not know '{value}' for {model_name}.{} (it knows {}); target ids {ids:?}; \
                     map it with a rule: [models.\"<Odoo 16 model>\"] columns.{} = {{ value_map = {{ \"{value}\" = \"…\" }} }}",
                    field.name,
                    field.selection.join(", "),
                    field.name
                ),
            }
        })
        .collect())
}

/// One branch per field, each listing (field index, unknown value, rows, first ids); the known
/// values of field `i` are parameter `i + 1`.
fn unknown_values_query(
    table_name: &str,
    table: &catalog::Table,
    fields: &[&catalog::Field],
) -> String {
    let branches: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let column = quote_ident(&field.name);
            // Company-dependent selections (18+) hold one key per company in a jsonb object.
            let company_dependent = table
                .columns
                .iter()
                .any(|c| c.name == field.name && c.data_type == "jsonb");
            let (from, value) = if company_dependent {
                (
                    format!(", jsonb_each_text(t.{column}) AS v"),
                    "v.value".to_string(),
                )
            } else {
                (String::new(), format!("t.{column}::text"))
            };
            format!(
                "SELECT {index}, {value}, count(*), (array_agg(t.id ORDER BY t.id))[1:5] \
                 FROM public.{table} t{from} WHERE {value} IS NOT NULL AND NOT ({value} = ANY(${param}::text[])) \
                 GROUP BY 2",
                table = quote_ident(table_name),
                param = index + 1
            )
        })
        .collect();
    branches.join(" UNION ALL ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tables::ColumnPlan;

    /// The miniature migration's plan (id, name, parent_id), with a column a post-copy SQL sets
    /// and a `model,id` reference.
    fn partner_plan() -> TablePlan {
        let mut set_later =
            ColumnPlan::for_tests("commercial_partner_id", false, Output::Copy { field: 3 });
        set_later.set_by_post_sql = true;
        let mut plan = crate::verify::fixture::plan();
        plan.columns.push(set_later);
        plan.columns.push(ColumnPlan::for_tests(
            "ref",
            false,
            Output::Reference { field: 4 },
        ));
        plan.target_table = "res_partner".into();
        plan
    }

    #[test]
    fn the_compared_columns_are_those_copied_or_remapped_and_not_set_afterwards() {
        assert_eq!(
            copied_columns(&partner_plan()),
            vec![("name", 1), ("parent_id", 2)]
        );
    }

    #[test]
    fn a_column_passes_silently_when_nothing_is_lost_and_with_a_finding_when_every_loss_is_reported()
     {
        let plan = partner_plan();
        assert!(column_result(&plan, "name", 7, 7, 0).is_none());
        let explained = column_result(&plan, "parent_id", 7, 5, 2).unwrap();
        assert!(explained.passed);
        assert_eq!(explained.subject, "res_partner.parent_id");
        assert_eq!(
            (
                explained.source_value.as_str(),
                explained.target_value.as_str()
            ),
            ("7", "5")
        );
        assert!(
            explained.detail.starts_with("2 value(s) were references"),
            "{}",
            explained.detail
        );
        // One loss more than the run reported.
        let lost = column_result(&plan, "parent_id", 7, 4, 2).unwrap();
        assert!(!lost.passed);
        assert!(
            lost.detail.starts_with("3 value(s) present in the source"),
            "{}",
            lost.detail
        );
        // More values in the target than in the source is no loss but still a difference.
        let more = column_result(&plan, "name", 7, 8, 5).unwrap();
        assert!(!more.passed);
    }

    fn result(subject: &str, detail: &str) -> CheckResult {
        CheckResult {
            check: "fields",
            subject: subject.into(),
            passed: true,
            source_value: String::new(),
            target_value: String::new(),
            detail: detail.into(),
        }
    }

    #[test]
    fn a_table_summary_is_kept_only_when_the_table_has_no_finding() {
        let mut results = vec![
            result(
                "res_partner.email",
                "1 value(s) present in the source are empty in the target",
            ),
            result("res_partner (3 columns)", "non-null values compared"),
            result("res_partner_bank (2 columns)", "non-null values compared"),
            result("sale_order (4 columns)", "non-null values compared"),
        ];
        keep_summaries_of_clean_tables(&mut results);
        let subjects: Vec<&str> = results.iter().map(|r| r.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "res_partner.email",
                "res_partner_bank (2 columns)",
                "sale_order (4 columns)"
            ]
        );
    }

    #[test]
    fn each_copied_model_table_is_checked_once_for_selection_values() {
        let mut own = TablePlan::for_tests(TableKind::Model, "sale.order", Vec::new());
        own.target_table = "sale_order".into();
        let mut second = TablePlan::for_tests(TableKind::Model, "sale.order", Vec::new());
        second.target_table = "sale_order".into();
        let mut earlier = TablePlan::for_tests(TableKind::Model, "account.move", Vec::new());
        earlier.target_table = "account_move".into();
        let relation = TablePlan::for_tests(TableKind::Relation, "x.rel", Vec::new());
        assert_eq!(
            target_tables(&[own, relation, second, earlier]),
            vec![
                ("account.move", "account_move"),
                ("sale.order", "sale_order")
            ]
        );
    }
    fn selection(name: &str, values: &[&str]) -> catalog::Field {
        catalog::Field {
            name: name.into(),
            ttype: "selection".into(),
            relation: None,
            relation_table: None,
            column1: None,
            column2: None,
            store: true,
            required: false,
            company_dependent: false,
            translate: false,
            selection: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn selection_fields_are_the_stored_ones_with_known_values_and_a_column() {
        let mut model = catalog::Model {
            name: "res.partner".into(),
            table: Some("res_partner".into()),
            transient: false,
            custom: false,
            fields: Default::default(),
        };
        let mut computed = selection("computed_state", &["a"]);
        computed.store = false;
        let mut text = selection("name", &[]);
        text.ttype = "char".into();
        for field in [
            selection("type", &["contact", "invoice"]),
            selection("open_list", &[]),
            selection("no_column", &["x"]),
            computed,
            text,
        ] {
            model.fields.insert(field.name.clone(), field);
        }
        let table = catalog::Table::of_integers(
            "res_partner",
            &["id", "type", "open_list", "computed_state", "name"],
        );
        let names: Vec<&str> = selection_fields(&model, &table)
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["type"]);
    }

    /// The query, run on a real table inside a transaction that is rolled back: one row per
    /// unknown value (plain and company-dependent columns), none for known values or NULL.
    #[tokio::test]
    async fn the_unknown_values_query_finds_each_unknown_value_with_its_rows() {
        let mut client = crate::test_utils::test_server().await;
        let transaction = client.transaction().await.expect("a transaction");
        let name = format!("om_unit_selection_{}", std::process::id());
        transaction
            .batch_execute(&format!(
                "CREATE TABLE public.{name} (id int, type text, policy jsonb); \
                 INSERT INTO public.{name} VALUES (1, 'contact', '{{\"1\": \"a\"}}'), \
                 (2, 'other', '{{\"1\": \"a\", \"2\": \"zz\"}}'), (3, 'other', NULL), (4, NULL, NULL)"
            ))
            .await
            .expect("the scratch table");
        let mut table = catalog::Table::of_integers(&name, &["id", "type", "policy"]);
        table.columns[2].data_type = "jsonb".into();
        let (kind, policy) = (
            selection("type", &["contact"]),
            selection("policy", &["a", "b"]),
        );
        let fields = [&kind, &policy];
        let sql = unknown_values_query(&name, &table, &fields);
        let rows = transaction
            .query(sql.as_str(), &[&kind.selection, &policy.selection])
            .await
            .expect("the query runs");
        let mut found: Vec<(i32, String, i64, Vec<i32>)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                (0, "other".into(), 2, vec![2, 3]),
                (1, "zz".into(), 1, vec![2])
            ]
        );
        transaction.rollback().await.expect("rolled back");
    }
    #[tokio::test]
    async fn a_value_emptied_on_the_way_fails_unless_the_run_reported_it() {
        use crate::verify::fixture;
        let client = fixture::migrated().await;
        let (_, target) = fixture::tables();
        let plan = fixture::plan();
        let clean = fields(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("counted");
        let summary: Vec<(&str, bool, &str)> = clean
            .iter()
            .map(|r| (r.subject.as_str(), r.passed, r.target_value.as_str()))
            .collect();
        assert_eq!(
            summary,
            [(format!("{target} (2 columns)").as_str(), true, "2")]
        );
        // The matched record's values are not the run's: emptying one changes nothing.
        client
            .batch_execute(&format!(
                "UPDATE public.{target} SET name = NULL WHERE id = 103"
            ))
            .await
            .expect("changed");
        assert_eq!(
            fields(&client, &client, std::slice::from_ref(&plan))
                .await
                .expect("counted")
                .len(),
            1
        );
        client
            .batch_execute(&format!(
                "UPDATE public.{target} SET parent_id = NULL WHERE id = 102"
            ))
            .await
            .expect("emptied");
        let lost = fields(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("counted");
        assert_eq!(lost.len(), 1, "the finding, without the table's summary");
        assert_eq!(lost[0].subject, format!("{target}.parent_id"));
        assert!(!lost[0].passed);
        assert_eq!(
            (lost[0].source_value.as_str(), lost[0].target_value.as_str()),
            ("1", "0")
        );
        fixture::report_unmapped(&client, "parent_id", 1).await;
        let explained = fields(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("counted");
        assert!(explained[0].passed, "{}", explained[0].detail);
        client
            .batch_execute("UPDATE odoo_migrate.id_map SET how = 'xmlid'")
            .await
            .expect("all matched");
        assert!(
            fields(&client, &client, &[plan])
                .await
                .expect("counted")
                .is_empty()
        );
    }

    /// The miniature migration's target names 'A', 'B', 'Z', read as a selection: each value Odoo
    /// 19 does not know fails with its rows, else one result says how many columns were checked.
    #[tokio::test]
    async fn a_selection_value_odoo_19_does_not_know_fails_with_its_rows() {
        use crate::verify::fixture;
        let client = fixture::migrated().await;
        let (_, target) = fixture::tables();
        let plan = fixture::plan();
        let catalog_knowing = |names: &[&str], parents: &[&str]| {
            let mut catalog = fixture::target_catalog(
                &[(target.as_str(), &["id", "name", "parent_id"])],
                &[("res.partner", target.as_str())],
            );
            let fields = &mut catalog
                .models
                .get_mut("res.partner")
                .expect("a model")
                .fields;
            fields.insert("name".into(), selection("name", names));
            fields.insert("parent_id".into(), selection("parent_id", parents));
            catalog
        };
        let known = catalog_knowing(&["A", "B", "Z"], &["101"]);
        let clean = selection_values(&client, &known, std::slice::from_ref(&plan))
            .await
            .expect("the check runs");
        let summary: Vec<(&str, bool, &str)> = clean
            .iter()
            .map(|r| (r.subject.as_str(), r.passed, r.target_value.as_str()))
            .collect();
        assert_eq!(
            summary,
            [(
                "selection columns",
                true,
                "2 column(s) hold only known values"
            )]
        );
        let unknown = catalog_knowing(&["A", "B"], &["101"]);
        let found = selection_values(&client, &unknown, std::slice::from_ref(&plan))
            .await
            .expect("the check runs");
        let summary: Vec<(&str, bool, &str)> = found
            .iter()
            .map(|r| (r.subject.as_str(), r.passed, r.target_value.as_str()))
            .collect();
        assert_eq!(summary, [("res.partner.name", false, "'Z' in 1 row(s)")]);
        assert!(
            found[0].detail.starts_with(
                "Odoo 19 does not know 'Z' for res.partner.name (it knows A, B); target ids [103]"
            ),
            "{}",
            found[0].detail
        );
        // A model or table the target's catalog lacks is not read.
        let without = fixture::target_catalog(&[], &[("res.partner", target.as_str())]);
        let none = selection_values(&client, &without, &[plan])
            .await
            .expect("the check runs");
        assert_eq!(none[0].target_value, "0 column(s) hold only known values");
        client.batch_execute("ROLLBACK").await.expect("rolled back");
    }
}
