//! The business checks: each runs a pair of SQL files (sql/verify/NAME.source.sql and
//! NAME.target.sql, see sql/verify/README.md) on both sides and compares their rows by (company,
//! subject), values as text. Read-only on both databases.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::{CheckResult, summarize};

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

/// Runs a business query on both sides and compares the rows by (company, subject).
pub(super) async fn business(
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
