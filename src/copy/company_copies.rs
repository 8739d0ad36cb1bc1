//! Records that Odoo 16 shared between companies and Odoo 19 keeps one per company (tax groups):
//! after the copy, each company whose created records point at another company's record gets its
//! own copy — or its own record named by the original's company-prefixed external id — and those
//! references move to it. One set-based statement per rule (`sql/run/company_copies.sql`); the
//! copies are recorded in `odoo_migrate.copied_rows` for `rollback` and `verify --deep`.

use anyhow::{Context, Result, bail};
use tokio_postgres::Client;

use crate::catalog::{Catalog, quote_ident, quote_literal};
use crate::rules::{CompanyCopyRule, Rules};

/// The statement of one rule, from the template.
fn statement(rules: &Rules, target: &Catalog, rule: &CompanyCopyRule) -> Result<String> {
    let origin = format!("company copies of {}", rule.model);
    let table_of = |model: &str| -> Result<&crate::catalog::Table> {
        let name = rules.model_in_target(model);
        let table = target
            .models
            .get(name)
            .and_then(|m| m.table.as_ref())
            .and_then(|t| target.tables.get(t));
        match table {
            Some(table) if table.has_column("company_id") => Ok(table),
            Some(table) => bail!("{origin}: target table {} has no company_id", table.name),
            None => bail!("{origin}: model {name} has no table in the target"),
        }
    };
    let table = table_of(&rule.model)?;
    for column in rule.columns.keys() {
        if !table.has_column(column) {
            bail!(
                "{origin}: target table {} has no column {column}",
                table.name
            );
        }
    }
    let mut references = Vec::new();
    let mut repoint = String::new();
    let mut repointed = Vec::new();
    for (index, referrer) in rule.referrers.iter().enumerate() {
        let referring = table_of(&referrer.model)?;
        if !referring.has_column(&referrer.column) {
            bail!(
                "{origin}: target table {} has no column {}",
                referring.name,
                referrer.column
            );
        }
        let created = format!(
            "JOIN odoo_migrate.id_map m ON m.model = {model} AND m.target_id = r.id AND m.run_id = $1 AND m.how = 'created'",
            model = quote_literal(&referrer.model)
        );
        references.push(format!(
            "SELECT r.{column}, r.company_id FROM public.{table} r {created}",
            column = quote_ident(&referrer.column),
            table = quote_ident(&referring.name),
        ));
        repoint.push_str(&format!(
            ",\nrepointed_{index} AS (\n    UPDATE public.{table} r SET {column} = p.copy_id FROM planned p, odoo_migrate.id_map m\n    \
             WHERE r.{column} = p.original AND r.company_id = p.company AND m.model = {model} AND m.target_id = r.id \
             AND m.run_id = $1 AND m.how = 'created'\n    RETURNING 1\n)",
            column = quote_ident(&referrer.column),
            table = quote_ident(&referring.name),
            model = quote_literal(&referrer.model)
        ));
        repointed.push(format!("(SELECT count(*) FROM repointed_{index})"));
    }
    if references.is_empty() {
        bail!("{origin}: no referrers");
    }
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for column in table.columns.iter().filter(|c| c.name != "id") {
        columns.push(quote_ident(&column.name));
        values.push(match rule.columns.get(&column.name) {
            Some(sql) => format!("({sql})"),
            None if column.name == "company_id" => "p.company".to_string(),
            None => format!("g.{}", quote_ident(&column.name)),
        });
    }
    Ok(include_str!("../../sql/run/company_copies.sql")
        .replace("{table_name}", &quote_literal(&table.name))
        .replace("{table}", &quote_ident(&table.name))
        .replace("{references}", &references.join(" UNION ALL "))
        .replace("{columns}", &columns.join(", "))
        .replace("{values}", &values.join(", "))
        .replace("{repoint}", &repoint)
        .replace("{repointed}", &repointed.join(" + ")))
}

/// The statement that moves the id sequences of a rule's table and of `ir_model_data` past the ids
/// the copies took (the copies take ids after the largest, not from the sequences: see the SQL).
fn move_sequences(rules: &Rules, target: &Catalog, rule: &CompanyCopyRule) -> Result<String> {
    let mut moves = Vec::new();
    let copied = target
        .models
        .get(rules.model_in_target(&rule.model))
        .and_then(|m| m.table.as_deref())
        .unwrap_or_default();
    for name in [copied, "ir_model_data"] {
        let Some((table, sequence)) = target
            .tables
            .get(name)
            .and_then(|t| Some((t, t.sequences.get("id")?)))
        else {
            bail!(
                "company copies of {}: target table {name:?} has no id sequence",
                rule.model
            );
        };
        let qualified = format!("public.{}", quote_ident(sequence));
        moves.push(format!(
            "SELECT setval({literal}::regclass, GREATEST((SELECT coalesce(max(id), 0) FROM public.{table}), \
             (SELECT last_value FROM {qualified}), 1))",
            literal = quote_literal(&qualified),
            table = quote_ident(&table.name),
        ));
    }
    Ok(moves.join(";\n"))
}

/// Makes the copies of every rule, each rule in one statement and all in one transaction.
/// Returns the number of copies made.
pub async fn make(
    control: &mut Client,
    rules: &Rules,
    target: &Catalog,
    run_id: i64,
) -> Result<i64> {
    let transaction = control.transaction().await?;
    let mut made = 0;
    for rule in &rules.company_copies {
        let sql = statement(rules, target, rule)?;
        let row = transaction
            .query_one(
                &sql,
                &[&run_id, &rules.model_in_target(&rule.model), &rule.model],
            )
            .await
            .with_context(|| format!("cannot make the per-company copies of {}", rule.model))?;
        let (copies, own, named, moved): (i64, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        tracing::info!(
            model = %rule.model,
            copies,
            own,
            named,
            moved,
            "per-company copies made"
        );
        made += copies;
        transaction
            .batch_execute(&move_sequences(rules, target, rule)?)
            .await
            .with_context(|| {
                format!(
                    "cannot move the id sequences past the copies of {}",
                    rule.model
                )
            })?;
        crate::io::fault::point("before_company_copies_commit");
    }
    transaction
        .commit()
        .await
        .context("cannot commit the per-company copies")?;
    Ok(made)
}
