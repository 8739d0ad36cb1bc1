//! `verify --deep`: the values of every record the run created, compared column by column with
//! the source through the mappings and the rules (each source value is read with the same SQL the
//! copy used, ids are translated), reporting the first differences per column.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::{Client, Row};

use super::fields::unmapped_references;
use super::{CheckResult, summarize};
use crate::catalog::quote_ident;
use crate::plan::tables::{Output, TablePlan};
use crate::rules::pairing::TableKind;

/// Records compared per round trip, so that memory stays bounded on large tables.
const BATCH: usize = 10_000;
/// Differences quoted per column.
const SHOWN: usize = 3;

/// Every mapping: model → source id → (target id, how).
type AllMappings = HashMap<String, HashMap<i32, (i32, String)>>;
/// The per-company copies made by rules: (Odoo 16 model, copy's id) → original's id.
type Copies = HashMap<(String, i32), i32>;
/// A column compared: target column, source field, and the model of the ids it holds, if any.
type Column<'p> = (&'p str, usize, Option<&'p str>);
/// Per column: how many records differ, and the first few described.
type Differences = Vec<(u64, Vec<String>)>;

/// Compares the created records of every model table of `plans` with their source rows.
pub async fn compare(
    source: &Client,
    target: &Client,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    let all_mappings = mappings(target).await?;
    let copies = copies(target).await?;
    let expected = Expected {
        all_mappings: &all_mappings,
        copies: &copies,
    };
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let Some(own) = all_mappings.get(&plan.model) else {
            continue;
        };
        let created = created_ids(own);
        if created.is_empty() {
            continue;
        }
        let columns = compared_columns(plan);
        if columns.is_empty() {
            continue;
        }
        let explained = unmapped_references(target, &plan.target_table).await?;
        let mut differences: Differences = vec![(0, Vec::new()); columns.len()];
        for batch in created.chunks(BATCH) {
            let (source_rows, target_rows) =
                read_batch(source, target, plan, &columns, batch).await?;
            for row in &source_rows {
                let source_id: i32 = row.get(0);
                let Some(target_row) = target_rows.get(&source_id) else {
                    continue;
                };
                expected.compare_row(&columns, row, target_row, &mut differences);
            }
        }
        results.extend(plan_results(
            plan,
            &columns,
            differences,
            &explained,
            created.len(),
        ));
    }
    Ok(results)
}

/// The source ids of the records created for one model, sorted.
fn created_ids(own: &HashMap<i32, (i32, String)>) -> Vec<i32> {
    let mut created: Vec<i32> = own
        .iter()
        .filter(|(_, (_, how))| how == "created")
        .map(|(source_id, _)| *source_id)
        .collect();
    created.sort_unstable();
    created
}

/// Columns compared: copied values and ids; polymorphic pairs, references and company jsonb are
/// proved by the references check instead.
fn compared_columns(plan: &TablePlan) -> Vec<Column<'_>> {
    plan.columns
        .iter()
        // The numbering step moves number_next to where the source's PostgreSQL sequence
        // stood (see sequences.rs): it is meant to differ from the column's stale value.
        .filter(|c| {
            !(c.target_column == "number_next"
                && matches!(
                    plan.model.as_str(),
                    "ir.sequence" | "ir.sequence.date_range"
                ))
        })
        // A value a post_sql completes is not the rule's to compare.
        .filter(|c| !c.set_by_post_sql)
        .filter_map(|c| match &c.output {
            Output::Copy { field } => Some((c.target_column.as_str(), *field, None)),
            Output::Remap { field, model } => {
                Some((c.target_column.as_str(), *field, Some(model.as_str())))
            }
            _ => None,
        })
        .collect()
}

/// The values of `columns` as text for the records of `batch`: the source rows (id first), and the
/// target rows by source id.
async fn read_batch(
    source: &Client,
    target: &Client,
    plan: &TablePlan,
    columns: &[Column<'_>],
    batch: &[i32],
) -> Result<(Vec<Row>, HashMap<i32, Row>)> {
    let source_rows = source
        .query(
            &format!(
                "SELECT s.id, {} FROM {} WHERE s.id = ANY($1)",
                columns
                    .iter()
                    .map(|(_, field, _)| format!("({})::text", plan.select[*field]))
                    .collect::<Vec<_>>()
                    .join(", "),
                plan.source_from()
            ),
            &[&batch],
        )
        .await
        .with_context(|| format!("cannot read source table {}", plan.source_table))?;
    let target_rows: HashMap<i32, Row> = target
        .query(
            &format!(
                "SELECT m.source_id, {} FROM public.{} t JOIN odoo_migrate.id_map m \
                 ON m.model = $1 AND m.target_id = t.id WHERE m.source_id = ANY($2)",
                columns
                    .iter()
                    .map(|(column, _, _)| format!("t.{}::text", quote_ident(column)))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(&plan.target_table)
            ),
            &[&plan.model, &batch],
        )
        .await
        .with_context(|| format!("cannot read target table {}", plan.target_table))?
        .into_iter()
        .map(|row| (row.get::<_, i32>(0), row))
        .collect();
    Ok((source_rows, target_rows))
}

/// What a target value is expected to be: the source value, with ids translated through the
/// mappings, and a per-company copy standing for its original.
struct Expected<'m> {
    all_mappings: &'m AllMappings,
    copies: &'m Copies,
}

impl Expected<'_> {
    /// Compares one record column by column, counting (and describing the first) differences.
    fn compare_row(
        &self,
        columns: &[Column<'_>],
        row: &Row,
        target_row: &Row,
        differences: &mut Differences,
    ) {
        let source_id: i32 = row.get(0);
        for (index, (_, _, referenced)) in columns.iter().enumerate() {
            let value: Option<String> = row.get(index + 1);
            let expected = match (referenced, value) {
                (Some(model), Some(value)) => value
                    .parse::<i32>()
                    .ok()
                    .and_then(|id| self.all_mappings.get(*model)?.get(&id).map(|(t, _)| *t))
                    .map(|id| id.to_string()),
                (_, value) => value,
            };
            let actual: Option<String> = target_row.get(index + 1);
            // A per-company copy made by a rule stands for its original.
            let copy_of = referenced
                .zip(actual.as_deref())
                .and_then(|(model, id)| self.copies.get(&(model.to_string(), id.parse().ok()?)));
            if expected != actual && copy_of.map(i32::to_string).as_deref() != expected.as_deref() {
                let entry = &mut differences[index];
                entry.0 += 1;
                if entry.1.len() < SHOWN {
                    entry.1.push(format!(
                        "source id {source_id}: expected {} found {}",
                        shorten(expected.as_deref()),
                        shorten(actual.as_deref())
                    ));
                }
            }
        }
    }
}

/// The results of one table: a finding per column that differs (passed when every difference is
/// a reference the run reported), or one clean result when none fails.
fn plan_results(
    plan: &TablePlan,
    columns: &[Column<'_>],
    differences: Differences,
    explained: &HashMap<String, i64>,
    created: usize,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    let mut clean = true;
    for ((column, _, referenced), (count, examples)) in columns.iter().zip(differences) {
        if count == 0 {
            continue;
        }
        let allowed = if referenced.is_some() {
            explained.get(*column).copied().unwrap_or(0)
        } else {
            0
        };
        let passed = count as i64 <= allowed;
        clean &= passed;
        results.push(CheckResult {
            check: "deep",
            subject: format!("{}.{column}", plan.target_table),
            passed,
            source_value: created.to_string(),
            target_value: format!("{count} differ"),
            detail: if passed {
                format!(
                    "{count} reference(s) to records not migrated, reported in odoo_migrate.problems"
                )
            } else {
                summarize(&examples)
            },
        });
    }
    if clean {
        results.push(CheckResult {
            check: "deep",
            subject: plan.target_table.clone(),
            passed: true,
            source_value: created.to_string(),
            target_value: created.to_string(),
            detail: format!("{} columns equal in every created record", columns.len()),
        });
    }
    results
}

/// Reads every mapping.
async fn mappings(target: &Client) -> Result<AllMappings> {
    let mut all = AllMappings::new();
    for row in target
        .query(
            "SELECT model, source_id, target_id, how FROM odoo_migrate.id_map",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.id_map")?
    {
        all.entry(row.get(0))
            .or_default()
            .insert(row.get(1), (row.get(2), row.get(3)));
    }
    Ok(all)
}

/// Reads the per-company copies made by rules.
async fn copies(target: &Client) -> Result<Copies> {
    Ok(target
        .query(
            "SELECT model, target_id, copy_of FROM odoo_migrate.copied_rows",
            &[],
        )
        .await
        .context("cannot read odoo_migrate.copied_rows")?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// A value as quoted in a difference: NULL, or its first 60 characters.
fn shorten(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_string(),
        Some(text) if text.chars().count() > 60 => {
            format!("{:?}…", text.chars().take(60).collect::<String>())
        }
        Some(text) => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_created_records_are_compared_in_id_order() {
        let own: HashMap<i32, (i32, String)> = [
            (9, (90, "created".to_string())),
            (3, (30, "created".to_string())),
            (5, (50, "xmlid".to_string())),
            (7, (70, "natural_key".to_string())),
        ]
        .into_iter()
        .collect();
        assert_eq!(created_ids(&own), [3, 9]);
        assert!(created_ids(&HashMap::new()).is_empty());
    }

    #[test]
    fn values_are_quoted_and_cut_at_sixty_characters() {
        assert_eq!(shorten(None), "NULL");
        assert_eq!(shorten(Some("a \"b\"")), "\"a \\\"b\\\"\"");
        let sixty = "é".repeat(60);
        assert_eq!(shorten(Some(&sixty)), format!("{sixty:?}"));
        let long = "x".repeat(61);
        assert_eq!(shorten(Some(&long)), format!("{:?}…", "x".repeat(60)));
    }
    use crate::plan::tables::ColumnPlan;

    #[test]
    fn copied_values_and_ids_are_compared_and_the_rest_left_to_other_checks() {
        let mut completed =
            ColumnPlan::for_tests("commercial_partner_id", false, Output::Copy { field: 4 });
        completed.set_by_post_sql = true;
        let mut plan = crate::verify::fixture::plan();
        plan.columns.extend([
            ColumnPlan::for_tests("ref", false, Output::Reference { field: 3 }),
            completed,
            ColumnPlan::for_tests("number_next", false, Output::Copy { field: 5 }),
        ]);
        assert_eq!(
            compared_columns(&plan),
            vec![
                ("name", 1, None),
                ("parent_id", 2, Some("res.partner")),
                ("number_next", 5, None)
            ]
        );
        // A numbering's next number is moved on purpose by the numbering step.
        let mut sequence = plan.clone();
        sequence.model = "ir.sequence".into();
        assert_eq!(
            compared_columns(&sequence),
            vec![("name", 1, None), ("parent_id", 2, Some("res.partner"))]
        );
        sequence.model = "ir.sequence.date_range".into();
        assert_eq!(compared_columns(&sequence).len(), 2);
    }

    fn partner_table() -> TablePlan {
        let mut plan = TablePlan::for_tests(TableKind::Model, "res.partner", Vec::new());
        plan.target_table = "res_partner".into();
        plan
    }

    #[test]
    fn a_table_is_clean_or_has_a_finding_per_differing_column() {
        let plan = partner_table();
        let columns: Vec<Column<'_>> =
            vec![("name", 1, None), ("parent_id", 2, Some("res.partner"))];
        let explained: HashMap<String, i64> =
            [("parent_id".to_string(), 2), ("name".to_string(), 9)].into();
        let clean = plan_results(
            &plan,
            &columns,
            vec![(0, vec![]), (0, vec![])],
            &explained,
            4,
        );
        assert_eq!(clean.len(), 1);
        assert!(clean[0].passed);
        assert_eq!(clean[0].subject, "res_partner");
        assert_eq!(clean[0].detail, "2 columns equal in every created record");
        // Two ids that the run reported it could not keep: explained, so the table still passes.
        let explained_ids = plan_results(
            &plan,
            &columns,
            vec![(0, vec![]), (2, vec![])],
            &explained,
            4,
        );
        assert_eq!(
            explained_ids.len(),
            2,
            "the finding and the table's summary"
        );
        assert!(explained_ids[0].passed);
        assert_eq!(explained_ids[1].subject, "res_partner");
        assert_eq!(explained_ids[0].subject, "res_partner.parent_id");
        assert_eq!(explained_ids[0].target_value, "2 differ");
        // A third id, or any difference of a plain value (its reported references do not count).
        let failed = plan_results(
            &plan,
            &columns,
            vec![
                (1, vec!["source id 3: expected \"a\" found \"b\"".into()]),
                (3, vec![]),
            ],
            &explained,
            4,
        );
        assert_eq!(failed.iter().filter(|r| !r.passed).count(), 2);
        assert!(
            failed[0].detail.contains("source id 3"),
            "{}",
            failed[0].detail
        );
        assert_eq!(failed.len(), 2, "no clean summary beside findings");
    }

    #[tokio::test]
    async fn a_value_is_compared_through_the_mappings_and_a_copy_stands_for_its_original() {
        let client = crate::test_utils::test_server().await;
        // Source id 3: name "Azure", parent 7; columns (name, parent_id).
        let source = client
            .query_one("SELECT 3::int, 'Azure'::text, '7'::text", &[])
            .await
            .expect("a source row");
        let target = |name: &str, parent: &str| {
            let sql = format!("SELECT 3::int, '{name}'::text, '{parent}'::text");
            let client = &client;
            async move {
                client
                    .query_one(sql.as_str(), &[])
                    .await
                    .expect("a target row")
            }
        };
        let all_mappings: AllMappings = [(
            "res.partner".to_string(),
            [(7, (70, "created".to_string()))].into(),
        )]
        .into();
        let copies: Copies = [(("res.partner".to_string(), 71), 70)].into();
        let expected = Expected {
            all_mappings: &all_mappings,
            copies: &copies,
        };
        let columns: Vec<Column<'_>> =
            vec![("name", 1, None), ("parent_id", 2, Some("res.partner"))];
        let mut differences: Differences = vec![(0, vec![]); 2];
        for (name, parent) in [("Azure", "70"), ("Azure", "71")] {
            expected.compare_row(
                &columns,
                &source,
                &target(name, parent).await,
                &mut differences,
            );
        }
        assert_eq!(
            differences,
            vec![(0, vec![]), (0, vec![])],
            "the mapped id and a copy of it"
        );
        for (name, parent) in [
            ("Azur", "70"),
            ("Azure", "7"),
            ("Azure", "72"),
            ("Azure", "70"),
        ] {
            expected.compare_row(
                &columns,
                &source,
                &target(name, parent).await,
                &mut differences,
            );
        }
        assert_eq!(
            differences[0],
            (
                1,
                vec!["source id 3: expected \"Azure\" found \"Azur\"".to_string()]
            )
        );
        assert_eq!(
            differences[1].0, 2,
            "the source id itself, and an unrelated record"
        );
        assert_eq!(
            differences[1].1,
            [
                "source id 3: expected \"70\" found \"7\"",
                "source id 3: expected \"70\" found \"72\""
            ]
        );
        // Every difference is counted; the first three are quoted.
        for parent in ["73", "74"] {
            expected.compare_row(
                &columns,
                &source,
                &target("Azure", parent).await,
                &mut differences,
            );
        }
        assert_eq!(differences[1].0, 4);
        assert_eq!(differences[1].1.len(), SHOWN);
    }

    #[tokio::test]
    async fn created_records_are_compared_value_by_value_through_the_mappings() {
        use crate::verify::fixture;
        let client = fixture::migrated().await;
        let (_, target) = fixture::tables();
        let plan = fixture::plan();
        let clean = compare(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("compared");
        assert_eq!(
            clean.len(),
            1,
            "{:?}",
            clean.iter().map(|r| &r.detail).collect::<Vec<_>>()
        );
        assert!(clean[0].passed);
        assert_eq!(clean[0].subject, target);
        assert_eq!(
            (
                clean[0].source_value.as_str(),
                clean[0].target_value.as_str()
            ),
            ("2", "2")
        );
        // A created record's parent pointing at another record, and its name changed; the
        // matched record 103 differs from its source row but is not the run's to compare.
        client
            .batch_execute(&format!(
                "UPDATE public.{target} SET parent_id = 103, name = 'b' WHERE id = 102"
            ))
            .await
            .expect("damaged");
        let damaged = compare(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("compared");
        let failed: Vec<(&str, &str, &str)> = damaged
            .iter()
            .filter(|r| !r.passed)
            .map(|r| {
                (
                    r.subject.as_str(),
                    r.target_value.as_str(),
                    r.detail.as_str(),
                )
            })
            .collect();
        assert_eq!(
            failed,
            [
                (
                    format!("{target}.name").as_str(),
                    "1 differ",
                    "source id 2: expected \"B\" found \"b\""
                ),
                (
                    format!("{target}.parent_id").as_str(),
                    "1 differ",
                    "source id 2: expected \"101\" found \"103\""
                ),
            ]
        );
        assert_eq!(damaged.len(), 2, "no clean summary beside failures");
        // A reference the run reported it could not keep explains an id, not a name.
        fixture::report_unmapped(&client, "parent_id", 1).await;
        fixture::report_unmapped(&client, "name", 1).await;
        let explained = compare(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("compared");
        let passed: Vec<(&str, bool)> = explained
            .iter()
            .map(|r| (r.subject.as_str(), r.passed))
            .collect();
        assert_eq!(
            passed,
            [
                (format!("{target}.name").as_str(), false),
                (format!("{target}.parent_id").as_str(), true)
            ]
        );
        // A per-company copy of record 101 stands for it (no reported reference explains it).
        client
            .batch_execute(&format!(
                "UPDATE public.{target} SET parent_id = 104, name = 'B' WHERE id = 102; \
                 DELETE FROM odoo_migrate.problems; \
                 INSERT INTO odoo_migrate.copied_rows VALUES ('res.partner', 104, 101)"
            ))
            .await
            .expect("a copy");
        let copied = compare(&client, &client, std::slice::from_ref(&plan))
            .await
            .expect("compared");
        let summary: Vec<(&str, bool)> = copied
            .iter()
            .map(|r| (r.subject.as_str(), r.passed))
            .collect();
        assert_eq!(summary, [(target.as_str(), true)], "the table is clean");
        // Nothing created, nothing compared.
        client
            .batch_execute("UPDATE odoo_migrate.id_map SET how = 'natural_key'")
            .await
            .expect("all matched");
        assert!(
            compare(&client, &client, &[plan])
                .await
                .expect("compared")
                .is_empty()
        );
    }
}
