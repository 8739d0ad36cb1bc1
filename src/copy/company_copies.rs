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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Model, Table};
    use crate::rules::Referrer;

    fn target(groups: Table, taxes: Table) -> Catalog {
        let model = |name: &str, table: &str| {
            (
                name.to_string(),
                Model {
                    name: name.to_string(),
                    table: Some(table.to_string()),
                    transient: false,
                    custom: false,
                    fields: Default::default(),
                },
            )
        };
        Catalog {
            side: "target",
            database: "t".to_string(),
            base_version: "19.0.1.3".to_string(),
            major: 19,
            modules: Default::default(),
            models: [
                model("account.tax.group", &groups.name),
                model("account.tax", &taxes.name),
            ]
            .into_iter()
            .collect(),
            tables: [(groups.name.clone(), groups), (taxes.name.clone(), taxes)]
                .into_iter()
                .collect(),
            loose_sequences: Vec::new(),
            xmlids_per_module: Default::default(),
        }
    }

    fn rule(referrer_column: &str) -> CompanyCopyRule {
        CompanyCopyRule {
            model: "account.tax.group".to_string(),
            referrers: vec![Referrer {
                model: "account.tax".to_string(),
                column: referrer_column.to_string(),
            }],
            columns: [("name".to_string(), "g.name || ' (copy)'".to_string())]
                .into_iter()
                .collect(),
            note: None,
        }
    }

    fn catalog() -> Catalog {
        target(
            Table::of_integers(
                "account_tax_group",
                &["id", "company_id", "name", "sequence"],
            ),
            Table::of_integers("account_tax", &["id", "company_id", "tax_group_id"]),
        )
    }

    #[test]
    fn the_statement_copies_every_column_but_the_id_and_repoints_each_referrer() {
        let sql = statement(&Rules::default(), &catalog(), &rule("tax_group_id")).unwrap();
        assert!(sql.contains("public.\"account_tax_group\""), "{sql}");
        // New ids follow the table's largest id (not its sequence: a resumed run gets the same).
        assert!(
            sql.contains("(SELECT coalesce(max(id), 0) FROM public.\"account_tax_group\")"),
            "{sql}"
        );
        // Columns in table order without the id; company_id is the copy's company, a column
        // with SQL of its own takes it, the others the original's value.
        assert!(
            sql.contains("\"company_id\", \"name\", \"sequence\""),
            "{sql}"
        );
        assert!(
            sql.contains("p.company, (g.name || ' (copy)'), g.\"sequence\""),
            "{sql}"
        );
        assert!(
            sql.contains("SELECT r.\"tax_group_id\", r.company_id FROM public.\"account_tax\" r"),
            "{sql}"
        );
        assert!(sql.contains("repointed_0 AS ("), "{sql}");
        assert!(sql.contains("(SELECT count(*) FROM repointed_0)"), "{sql}");
        assert!(!sql.contains('{'), "every placeholder filled: {sql}");
    }

    #[test]
    fn a_rule_naming_what_the_target_lacks_is_refused_with_the_rule() {
        let error = |rule: &CompanyCopyRule, catalog: &Catalog| {
            statement(&Rules::default(), catalog, rule)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(&rule("no_such_column"), &catalog()),
            "company copies of account.tax.group: target table account_tax has no column no_such_column"
        );
        let mut no_referrer = rule("tax_group_id");
        no_referrer.referrers.clear();
        assert_eq!(
            error(&no_referrer, &catalog()),
            "company copies of account.tax.group: no referrers"
        );
        let mut bad_column = rule("tax_group_id");
        bad_column
            .columns
            .insert("colour".to_string(), "1".to_string());
        assert_eq!(
            error(&bad_column, &catalog()),
            "company copies of account.tax.group: target table account_tax_group has no column colour"
        );
        let shared = target(
            Table::of_integers("account_tax_group", &["id", "name"]),
            Table::of_integers("account_tax", &["id", "company_id", "tax_group_id"]),
        );
        assert_eq!(
            error(&rule("tax_group_id"), &shared),
            "company copies of account.tax.group: target table account_tax_group has no company_id"
        );
        let mut unknown = rule("tax_group_id");
        unknown.model = "no.such.model".to_string();
        assert_eq!(
            error(&unknown, &catalog()),
            "company copies of no.such.model: model no.such.model has no table in the target"
        );
    }
}
