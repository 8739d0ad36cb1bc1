//! The `verify` command: the proofs that nothing was lost or duplicated. Integrity checks per model
//! (external ids, counts, field coverage, references, duplicate mappings) and business checks per
//! company (trial balance, open balances, revenue, stock, orders), each computed with set-based
//! SQL on both sides and compared; results stored in the side schema, printed, and written as CSV.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio_postgres::Client;

use crate::catalog::quote_ident;
use crate::catalog::session::Session;
use crate::cli::{Cli, Format, VerifyArgs};
use crate::io::exit::{Status, refuse};
use crate::io::report;
use crate::plan::tables::{self, Output, TablePlan};
use crate::rules::Rules;
use crate::rules::pairing::TableKind;
use crate::side_schema;

mod deep;
pub mod judge;

/// One result line: a check on one subject.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub subject: String,
    pub passed: bool,
    pub source_value: String,
    pub target_value: String,
    pub detail: String,
}

/// The business checks: name, source SQL, target SQL (see sql/verify/README.md).
pub const BUSINESS_CHECKS: &[(&str, &str, &str)] = &[
    (
        "trial-balance",
        include_str!("../../sql/verify/trial_balance.source.sql"),
        include_str!("../../sql/verify/trial_balance.target.sql"),
    ),
    (
        "journal-totals",
        include_str!("../../sql/verify/journal_totals.source.sql"),
        include_str!("../../sql/verify/journal_totals.target.sql"),
    ),
    (
        "open-balances",
        include_str!("../../sql/verify/open_balances.source.sql"),
        include_str!("../../sql/verify/open_balances.target.sql"),
    ),
    (
        "revenue-per-month",
        include_str!("../../sql/verify/revenue_per_month.source.sql"),
        include_str!("../../sql/verify/revenue_per_month.target.sql"),
    ),
    (
        "stock-on-hand",
        include_str!("../../sql/verify/stock_on_hand.source.sql"),
        include_str!("../../sql/verify/stock_on_hand.target.sql"),
    ),
    (
        "stock-valuation",
        include_str!("../../sql/verify/stock_valuation.source.sql"),
        include_str!("../../sql/verify/stock_valuation.target.sql"),
    ),
    (
        "order-states",
        include_str!("../../sql/verify/order_states.source.sql"),
        include_str!("../../sql/verify/order_states.target.sql"),
    ),
];

/// Names of the integrity checks, in the order they run.
pub const INTEGRITY_CHECKS: &[&str] = &[
    "external-ids",
    "counts",
    "fields",
    "references",
    "duplicates",
    "selection-values",
    "attachment-files",
    "deep",
];

pub async fn verify_command(cli: &Cli, args: &VerifyArgs) -> Result<Status> {
    let known: Vec<String> = INTEGRITY_CHECKS
        .iter()
        .map(|c| c.to_string())
        .chain(BUSINESS_CHECKS.iter().map(|(n, ..)| n.to_string()))
        .chain([judge::CHECK.to_string()])
        .collect();
    if let Some(check) = &args.check
        && !known.contains(check)
    {
        return Err(refuse(
            Status::Usage,
            format!(
                "unknown check `{check}`; the checks are: {}",
                known.join(", ")
            ),
        ));
    }
    let wanted = |name: &str| args.check.as_deref().is_none_or(|c| c == name);
    let odoo = judge::Judge::from_args(args, wanted(judge::CHECK))?;
    let rules = Rules::load(&cli.rules)?;
    let session = Session::open(cli.source()?, cli.target()?, 3).await?;
    rules.check_names(&session.source_catalog, &session.target_catalog)?;
    let mut target = session.target_endpoint.connect().await?;
    if side_schema::installed_version(&target).await? == 0 {
        return Err(refuse(
            Status::Usage,
            "the target has no odoo_migrate schema: there is no migration to verify yet; run `odoo-migrate run` first",
        ));
    }
    side_schema::ensure(&mut target).await?;
    side_schema::ensure_id_map_index(&target).await?;
    let source = session.source.get().await?;
    let (_, plans) = tables::for_session(&session, &rules)?;
    let finished: Vec<String> = target
        .query(
            "SELECT DISTINCT ON (source_table) source_table FROM odoo_migrate.model_state s \
             JOIN odoo_migrate.runs r ON r.id = s.run_id AND r.command = 'run' AND r.status <> 'rolled_back' \
             WHERE s.status = 'done' ORDER BY source_table, run_id DESC",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plans: Vec<TablePlan> = plans
        .into_iter()
        .filter(|p| finished.contains(&p.source_table))
        .collect();

    let mut results = Vec::new();
    if wanted("external-ids") {
        results.extend(external_ids(&source, &target, &rules, &plans).await?);
    }
    if wanted("counts") {
        results.extend(counts(&source, &target, &plans).await?);
    }
    if wanted("fields") {
        results.extend(fields(&source, &target, &plans).await?);
    }
    if wanted("references") {
        results.extend(references(&target, &session).await?);
    }
    if wanted("duplicates") {
        results.extend(duplicates(&target, &rules).await?);
    }
    if wanted("selection-values") {
        results.extend(selection_values(&target, &session, &plans).await?);
    }
    if args.deep && wanted("deep") {
        results.extend(deep::compare(&source, &target, &plans).await?);
    }
    if let Some(filestore) = &args.target_filestore
        && wanted("attachment-files")
    {
        let names = crate::copy::filestore::migrated_files(&target).await?;
        let absent = crate::copy::filestore::absent(filestore, &names);
        results.push(CheckResult {
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
        });
    }
    for (name, source_sql, target_sql) in BUSINESS_CHECKS {
        if wanted(name) {
            results.extend(business(name, &source, &target, source_sql, target_sql).await?);
        }
    }

    if let Some(odoo) = &odoo {
        results.extend(odoo.verify(&session.target_endpoint, &source).await?);
    }
    let not_run: &[&str] = match &odoo {
        None if wanted(judge::CHECK) => &[judge::CHECK],
        _ => &[],
    };

    let run_id = store(&mut target, &session, &results).await?;
    if let Some(directory) = &args.report_dir {
        write_csv(directory, run_id, &results)?;
    }
    report::emit(&render(&results, cli.format, run_id, not_run)?)?;
    if results.iter().all(|r| r.passed) {
        Ok(Status::Success)
    } else {
        Ok(Status::VerificationFailed)
    }
}

/// Every mapped source record with an external id must be what that external id points at in the
/// target.
async fn external_ids(
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

pub fn summarize(problems: &[String]) -> String {
    match problems.len() {
        0 => String::new(),
        n if n <= 5 => problems.join("; "),
        n => format!("{}; … and {} more", problems[..5].join("; "), n - 5),
    }
}

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
/// the run reported.
async fn counts(source: &Client, target: &Client, plans: &[TablePlan]) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let source_rows: i64 = source
            .query_one(
                &format!(
                    "SELECT count(*) FROM public.{}",
                    quote_ident(&plan.source_table)
                ),
                &[],
            )
            .await?
            .get(0);
        let row = target
            .query_one(
                &format!(
                    "SELECT count(*), count(t.id), count(*) FILTER (WHERE m.how = 'created'), \
                     (SELECT coalesce(sum(rows_rejected), 0)::bigint FROM odoo_migrate.model_state s \
                      JOIN odoo_migrate.runs r ON r.id = s.run_id AND r.status <> 'rolled_back' \
                      WHERE s.source_table = $2) \
                     FROM odoo_migrate.id_map m LEFT JOIN public.{} t ON t.id = m.target_id WHERE m.model = $1",
                    quote_ident(&plan.target_table)
                ),
                &[&plan.model, &plan.source_table],
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

/// For every column copied as it is, the non-null values of the source rows the run created must
/// be non-null in their target rows, except where the run reported a reference it could not keep.
async fn fields(source: &Client, target: &Client, plans: &[TablePlan]) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    for plan in plans.iter().filter(|p| p.kind == TableKind::Model) {
        let created: Vec<i32> = target
            .query(
                "SELECT source_id FROM odoo_migrate.id_map WHERE model = $1 AND how = 'created'",
                &[&plan.model],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if created.is_empty() {
            continue;
        }
        let columns: Vec<(&str, usize)> = plan
            .columns
            .iter()
            .filter_map(|c| match &c.output {
                Output::Copy { field } | Output::Remap { field, .. } => {
                    Some((c.target_column.as_str(), *field))
                }
                _ => None,
            })
            .collect();
        if columns.is_empty() {
            continue;
        }
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
        let explained = unmapped_references(target, &plan.target_table).await?;
        for (index, (column, _)) in columns.iter().enumerate() {
            let in_source: i64 = source_counts.get(index);
            let in_target: i64 = target_counts.get(index);
            let allowed = explained.get(*column).copied().unwrap_or(0);
            let lost = in_source - in_target;
            let passed = lost == 0 || (lost > 0 && lost <= allowed);
            if passed && lost == 0 {
                continue;
            }
            results.push(CheckResult {
                check: "fields",
                subject: format!("{}.{column}", plan.target_table),
                passed,
                source_value: in_source.to_string(),
                target_value: in_target.to_string(),
                detail: if passed {
                    format!("{lost} value(s) were references to records not migrated, reported in odoo_migrate.problems")
                } else {
                    format!("{lost} value(s) present in the source are empty in the target")
                },
            });
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
    // Keep the per-table summary only when the table has no finding of its own.
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
    Ok(results)
}

/// Per column of a target table, how many references the run reported it could not keep (written
/// as NULL): the differences that are explained.
pub async fn unmapped_references(target: &Client, table: &str) -> Result<HashMap<String, i64>> {
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

/// No target row points at a missing row: every foreign key is in force and validated, and every
/// `res_model`/`res_id` pair of the migrated rows names an existing record.
async fn references(target: &Client, session: &Session) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
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
    results.push(CheckResult {
        check: "references",
        subject: "foreign keys".to_string(),
        passed: problems.is_empty(),
        source_value: String::new(),
        target_value: format!("{} not in force", problems.len()),
        detail: summarize(&problems),
    });
    for (table, model_column) in [
        ("mail_message", "model"),
        ("mail_followers", "res_model"),
        ("mail_activity", "res_model"),
        ("ir_attachment", "res_model"),
    ] {
        let Some(definition) = session.target_catalog.tables.get(table) else {
            continue;
        };
        if !definition.has_column(model_column) || !definition.has_column("res_id") {
            continue;
        }
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
            let Some(model_table) = session
                .target_catalog
                .models
                .get(&model)
                .and_then(|m| m.table.clone())
            else {
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
        results.push(CheckResult {
            check: "references",
            subject: format!("{table}.res_id"),
            passed: total == 0,
            source_value: String::new(),
            target_value: format!("{total} dangling"),
            detail: summarize(&dangling),
        });
    }
    Ok(results)
}

/// No source record mapped twice (the primary key forbids it) and no target record that two source
/// records were mapped to.
async fn duplicates(target: &Client, rules: &Rules) -> Result<Vec<CheckResult>> {
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

/// Every value of a selection column of the copied tables is one that Odoo 19 knows for the field
/// (`ir_model_fields_selection`); a value no rule mapped would show as blank or break a form.
async fn selection_values(
    target: &Client,
    session: &Session,
    plans: &[TablePlan],
) -> Result<Vec<CheckResult>> {
    let mut results = Vec::new();
    let mut checked = 0usize;
    let mut tables: Vec<(&str, &str)> = plans
        .iter()
        .filter(|p| p.kind == crate::rules::pairing::TableKind::Model)
        .map(|p| (p.target_model.as_str(), p.target_table.as_str()))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    for (model_name, table_name) in tables {
        let (Some(model), Some(table)) = (
            session.target_catalog.models.get(model_name),
            session.target_catalog.tables.get(table_name),
        ) else {
            continue;
        };
        let fields: Vec<&crate::catalog::Field> = model
            .fields
            .values()
            .filter(|f| {
                f.ttype == "selection"
                    && f.store
                    && !f.selection.is_empty()
                    && table.columns.iter().any(|c| c.name == f.name)
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        checked += fields.len();
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
        let lists: Vec<&Vec<String>> = fields.iter().map(|f| &f.selection).collect();
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = lists
            .iter()
            .map(|l| *l as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = target
            .query(branches.join(" UNION ALL ").as_str(), &params)
            .await
            .with_context(|| format!("cannot check the selection values of {table_name}"))?;
        for row in rows {
            let field = fields[row.get::<_, i32>(0) as usize];
            let value: String = row.get(1);
            let count: i64 = row.get(2);
            let ids: Vec<i32> = row.get(3);
            results.push(CheckResult {
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
            });
        }
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

/// Runs a business query on both sides and compares the rows by (company, subject).
async fn business(
    name: &'static str,
    source: &Client,
    target: &Client,
    source_sql: &str,
    target_sql: &str,
) -> Result<Vec<CheckResult>> {
    let read = |rows: Vec<tokio_postgres::Row>| -> BTreeMap<(String, String), Vec<String>> {
        rows.iter()
            .map(|row| {
                let company: Option<i32> = row.get(0);
                let subject: Option<String> = row.get(1);
                let values: Vec<String> = row
                    .get::<_, Option<String>>(2)
                    .map(|v| vec![v])
                    .unwrap_or_default();
                (
                    (
                        company.map_or("?".to_string(), |c| c.to_string()),
                        subject.unwrap_or_default(),
                    ),
                    values,
                )
            })
            .collect()
    };
    let source_rows = read(
        source
            .query(&text_columns(source_sql), &[])
            .await
            .with_context(|| format!("business check {name} failed on the source"))?,
    );
    let target_rows = read(
        target
            .query(&text_columns(target_sql), &[])
            .await
            .with_context(|| format!("business check {name} failed on the target"))?,
    );
    let mut companies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut keys: Vec<&(String, String)> = source_rows.keys().chain(target_rows.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let differences = companies.entry(key.0.clone()).or_default();
        match (source_rows.get(key), target_rows.get(key)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => differences.push(format!(
                "{}: source {} / target {}",
                key.1,
                a.map_or("missing".to_string(), |v| v.join(" ")),
                b.map_or("missing".to_string(), |v| v.join(" "))
            )),
        }
    }
    let check_name: &'static str = name;
    Ok(companies
        .into_iter()
        .map(|(company, differences)| CheckResult {
            check: check_name,
            subject: format!("company {company}"),
            passed: differences.is_empty(),
            source_value: source_rows
                .keys()
                .filter(|k| k.0 == company)
                .count()
                .to_string(),
            target_value: target_rows
                .keys()
                .filter(|k| k.0 == company)
                .count()
                .to_string(),
            detail: summarize(&differences),
        })
        .collect())
}

/// Wraps a business query so that its value columns come back as text, compared exactly.
fn text_columns(sql: &str) -> String {
    format!(
        "SELECT (to_jsonb(q) ->> 'company_id')::int, to_jsonb(q) ->> 'subject', \
         (SELECT string_agg(coalesce(e.value, 'NULL'), ' ' ORDER BY e.ordinality) FROM jsonb_each_text(to_jsonb(q) - 'company_id' - 'subject') WITH ORDINALITY e) \
         FROM ({}) q",
        sql.trim().trim_end_matches(';')
    )
}

async fn store(target: &mut Client, session: &Session, results: &[CheckResult]) -> Result<i64> {
    let transaction = target.transaction().await?;
    let run_id = side_schema::start_run(
        &transaction,
        "verify",
        &session.source_catalog.database,
        &session.target_catalog.database,
        &serde_json::json!({}),
    )
    .await?;
    let checks: Vec<&str> = results.iter().map(|r| r.check).collect();
    let subjects: Vec<&str> = results.iter().map(|r| r.subject.as_str()).collect();
    let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
    let sources: Vec<&str> = results.iter().map(|r| r.source_value.as_str()).collect();
    let targets: Vec<&str> = results.iter().map(|r| r.target_value.as_str()).collect();
    let details: Vec<&str> = results.iter().map(|r| r.detail.as_str()).collect();
    transaction
        .execute(
            "INSERT INTO odoo_migrate.verification_results (run_id, check_name, subject, passed, source_value, target_value, detail) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::text[])",
            &[&run_id, &checks, &subjects, &passed, &sources, &targets, &details],
        )
        .await
        .context("cannot store the verification results")?;
    let failed = results.iter().filter(|r| !r.passed).count();
    side_schema::finish_run(
        &transaction,
        run_id,
        "finished",
        Some(&format!("{} checks, {failed} failed", results.len())),
    )
    .await?;
    transaction.commit().await?;
    Ok(run_id)
}

fn write_csv(directory: &Path, run_id: i64, results: &[CheckResult]) -> Result<()> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("cannot create the report directory {}", directory.display()))?;
    let path = directory.join(format!("verification-{run_id}.csv"));
    let mut writer = csv::Writer::from_path(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for result in results {
        writer.serialize(result)?;
    }
    writer.flush()?;
    Ok(())
}

fn render(
    results: &[CheckResult],
    format: Format,
    run_id: i64,
    not_run: &[&str],
) -> Result<String> {
    match format {
        Format::Json => Ok(serde_json::to_string_pretty(&serde_json::json!({
            "verification": run_id,
            "passed": results.iter().all(|r| r.passed),
            "not_run": not_run,
            "results": results,
        }))? + "\n"),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for result in results {
                writer.serialize(result)?;
            }
            Ok(String::from_utf8(writer.into_inner()?)?)
        }
        Format::Text => {
            use std::fmt::Write;
            let mut out = String::new();
            let mut by_check: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
            for result in results {
                let entry = by_check.entry(result.check).or_default();
                entry.0 += 1;
                if !result.passed {
                    entry.1 += 1;
                }
                if result.target_value == judge::SKIPPED {
                    entry.2 += 1;
                }
            }
            let _ = writeln!(out, "Verification {run_id}:");
            for (check, (total, failed, skipped)) in &by_check {
                let skipped = match skipped {
                    0 => String::new(),
                    n => format!(", {n} skipped"),
                };
                let _ = writeln!(
                    out,
                    "  {:<20} {}",
                    check,
                    if *failed == 0 {
                        format!("passed ({total} subjects{skipped})")
                    } else {
                        format!("FAILED ({failed} of {total} subjects{skipped})")
                    }
                );
            }
            for check in not_run {
                let _ = writeln!(
                    out,
                    "  {check:<20} not run (give --odoo-bin PATH to run Odoo 19's judge)"
                );
            }
            let failures: Vec<&CheckResult> = results.iter().filter(|r| !r.passed).collect();
            if !failures.is_empty() {
                let _ = writeln!(out, "\nFailures:");
                for failure in failures {
                    let _ = writeln!(
                        out,
                        "  [{}] {}: source {} / target {}: {}",
                        failure.check,
                        failure.subject,
                        failure.source_value,
                        failure.target_value,
                        failure.detail
                    );
                }
            }
            let failed = results.iter().filter(|r| !r.passed).count();
            let _ = writeln!(
                out,
                "\n{} checks, {} passed, {failed} failed.",
                results.len(),
                results.len() - failed
            );
            Ok(out)
        }
    }
}
