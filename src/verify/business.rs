//! The business checks: each runs a pair of SQL files (sql/verify/NAME.source.sql and
//! NAME.target.sql, see sql/verify/README.md) on both sides and compares their rows by (company,
//! subject), values as text. The books (accounting, stock, orders) always apply; a check of an app
//! (timesheets, manufacturing, expenses, …) applies only when the source has the app's tables,
//! else it is reported not applicable. Read-only on both databases.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use tokio_postgres::Client;

use super::{CheckResult, summarize};
use crate::catalog::Catalog;

/// A business check: its name, the source tables (or `table.column`) without which it does not
/// apply (an app the source does not have), and its SQL per side (see sql/verify/README.md).
pub struct BusinessCheck {
    pub name: &'static str,
    pub requires: &'static [&'static str],
    pub source_sql: &'static str,
    pub target_sql: &'static str,
}

/// The business checks, in the order they run: the books (accounting, stock, orders), then one
/// check per app, each applying only when the source has the app's tables.
pub const BUSINESS_CHECKS: &[BusinessCheck] = &[
    BusinessCheck {
        name: "trial-balance",
        requires: &[],
        source_sql: include_str!("../../sql/verify/trial_balance.source.sql"),
        target_sql: include_str!("../../sql/verify/trial_balance.target.sql"),
    },
    BusinessCheck {
        name: "journal-totals",
        requires: &[],
        source_sql: include_str!("../../sql/verify/journal_totals.source.sql"),
        target_sql: include_str!("../../sql/verify/journal_totals.target.sql"),
    },
    BusinessCheck {
        name: "open-balances",
        requires: &[],
        source_sql: include_str!("../../sql/verify/open_balances.source.sql"),
        target_sql: include_str!("../../sql/verify/open_balances.target.sql"),
    },
    BusinessCheck {
        name: "revenue-per-month",
        requires: &[],
        source_sql: include_str!("../../sql/verify/revenue_per_month.source.sql"),
        target_sql: include_str!("../../sql/verify/revenue_per_month.target.sql"),
    },
    BusinessCheck {
        name: "stock-on-hand",
        requires: &[],
        source_sql: include_str!("../../sql/verify/stock_on_hand.source.sql"),
        target_sql: include_str!("../../sql/verify/stock_on_hand.target.sql"),
    },
    BusinessCheck {
        name: "stock-valuation",
        requires: &[],
        source_sql: include_str!("../../sql/verify/stock_valuation.source.sql"),
        target_sql: include_str!("../../sql/verify/stock_valuation.target.sql"),
    },
    BusinessCheck {
        name: "order-states",
        requires: &[],
        source_sql: include_str!("../../sql/verify/order_states.source.sql"),
        target_sql: include_str!("../../sql/verify/order_states.target.sql"),
    },
    BusinessCheck {
        name: "timesheets",
        requires: &["account_analytic_line.project_id"],
        source_sql: include_str!("../../sql/verify/timesheets.source.sql"),
        target_sql: include_str!("../../sql/verify/timesheets.target.sql"),
    },
    BusinessCheck {
        name: "manufacturing",
        requires: &["mrp_production"],
        source_sql: include_str!("../../sql/verify/manufacturing.source.sql"),
        target_sql: include_str!("../../sql/verify/manufacturing.target.sql"),
    },
    BusinessCheck {
        name: "manufacturing-valuation",
        requires: &["stock_valuation_layer", "stock_move.production_id"],
        source_sql: include_str!("../../sql/verify/manufacturing_valuation.source.sql"),
        target_sql: include_str!("../../sql/verify/manufacturing_valuation.target.sql"),
    },
    BusinessCheck {
        name: "landed-costs",
        requires: &["stock_landed_cost"],
        source_sql: include_str!("../../sql/verify/landed_costs.source.sql"),
        target_sql: include_str!("../../sql/verify/landed_costs.target.sql"),
    },
    BusinessCheck {
        name: "expenses",
        requires: &["hr_expense", "hr_expense_sheet"],
        source_sql: include_str!("../../sql/verify/expenses.source.sql"),
        target_sql: include_str!("../../sql/verify/expenses.target.sql"),
    },
    BusinessCheck {
        name: "time-off",
        requires: &["hr_leave", "hr_leave_allocation"],
        source_sql: include_str!("../../sql/verify/time_off.source.sql"),
        target_sql: include_str!("../../sql/verify/time_off.target.sql"),
    },
    BusinessCheck {
        name: "point-of-sale",
        requires: &["pos_order", "pos_payment"],
        source_sql: include_str!("../../sql/verify/point_of_sale.source.sql"),
        target_sql: include_str!("../../sql/verify/point_of_sale.target.sql"),
    },
    BusinessCheck {
        name: "repairs",
        requires: &["repair_order", "repair_line"],
        source_sql: include_str!("../../sql/verify/repairs.source.sql"),
        target_sql: include_str!("../../sql/verify/repairs.target.sql"),
    },
    BusinessCheck {
        name: "event-registrations",
        requires: &["event_registration"],
        source_sql: include_str!("../../sql/verify/event_registrations.source.sql"),
        target_sql: include_str!("../../sql/verify/event_registrations.target.sql"),
    },
    BusinessCheck {
        name: "fleet",
        requires: &["fleet_vehicle_log_contract", "fleet_vehicle_odometer"],
        source_sql: include_str!("../../sql/verify/fleet.source.sql"),
        target_sql: include_str!("../../sql/verify/fleet.target.sql"),
    },
    BusinessCheck {
        name: "applicants",
        requires: &["hr_applicant"],
        source_sql: include_str!("../../sql/verify/applicants.source.sql"),
        target_sql: include_str!("../../sql/verify/applicants.target.sql"),
    },
];

/// The value a check that does not apply shows as its target value.
pub const NOT_APPLICABLE: &str = "not applicable";

/// What of `check.requires` the source lacks: tables, or `table.column`s of tables it has.
pub(super) fn missing_in(catalog: &Catalog, check: &BusinessCheck) -> Vec<&'static str> {
    check
        .requires
        .iter()
        .copied()
        .filter(|required| {
            let (table, column) = match required.split_once('.') {
                Some((table, column)) => (table, Some(column)),
                None => (*required, None),
            };
            catalog
                .tables
                .get(table)
                .is_none_or(|t| column.is_some_and(|c| !t.has_column(c)))
        })
        .collect()
}

/// The one result of a check that does not apply: passed, its target value
/// [`NOT_APPLICABLE`], its detail what the source lacks.
pub(super) fn not_applicable(check: &BusinessCheck, missing: &[&str]) -> CheckResult {
    CheckResult {
        check: check.name,
        subject: "the source".to_string(),
        passed: true,
        source_value: String::new(),
        target_value: NOT_APPLICABLE.to_string(),
        detail: format!(
            "not applicable: the source has no {}: its app is not installed there",
            missing.join(", ")
        ),
    }
}

/// Runs a business query on both sides and compares the rows by (company, subject).
pub(super) async fn business(
    check: &BusinessCheck,
    source: &Client,
    target: &Client,
) -> Result<Vec<CheckResult>> {
    let (name, source_sql, target_sql) = (check.name, check.source_sql, check.target_sql);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Table;

    fn catalog(tables: &[(&str, &[&str])]) -> Catalog {
        Catalog {
            side: "source",
            database: "s".to_string(),
            base_version: "16.0.1.3".to_string(),
            major: 16,
            modules: Default::default(),
            models: Default::default(),
            tables: tables
                .iter()
                .map(|(name, columns)| (name.to_string(), Table::of_integers(name, columns)))
                .collect(),
            loose_sequences: Vec::new(),
            xmlids_per_module: Default::default(),
        }
    }

    fn check(name: &str) -> &'static BusinessCheck {
        BUSINESS_CHECKS
            .iter()
            .find(|c| c.name == name)
            .expect("a check")
    }

    #[test]
    fn a_check_applies_only_when_the_source_has_its_tables_and_columns() {
        let without_timesheets = catalog(&[("account_analytic_line", &["id", "amount"])]);
        let with_timesheets = catalog(&[("account_analytic_line", &["id", "project_id"])]);
        assert_eq!(
            missing_in(&without_timesheets, check("timesheets")),
            ["account_analytic_line.project_id"]
        );
        assert!(missing_in(&with_timesheets, check("timesheets")).is_empty());
        assert_eq!(
            missing_in(&with_timesheets, check("time-off")),
            ["hr_leave", "hr_leave_allocation"]
        );
        assert!(
            missing_in(&without_timesheets, check("trial-balance")).is_empty(),
            "the books always apply"
        );
        let result = not_applicable(check("time-off"), &["hr_leave", "hr_leave_allocation"]);
        assert!(result.passed);
        assert_eq!(result.target_value, NOT_APPLICABLE);
        assert_eq!(
            result.detail,
            "not applicable: the source has no hr_leave, hr_leave_allocation: its app is not installed there"
        );
    }

    #[test]
    fn every_required_table_of_an_app_check_is_read_by_its_source_query() {
        for check in BUSINESS_CHECKS {
            for required in check.requires {
                let table = required.split('.').next().unwrap_or(required);
                assert!(
                    check.source_sql.contains(table),
                    "{}: requires {table} but does not read it",
                    check.name
                );
            }
        }
    }
    /// The wrapped query, run on the test server: company and subject apart, every other column
    /// as exact text, NULL spelled out, in jsonb's order of the column names (shorter names
    /// first), which is the same on both sides since their queries name their columns alike.
    #[tokio::test]
    async fn a_query_s_values_come_back_as_exact_text_in_column_order() {
        let client = crate::test_utils::test_server().await;
        let sql = text_columns(
            " SELECT 3 AS company_id, 'sale|draft' AS subject, 2.50::numeric AS amount, \
              NULL::int AS missing, 7 AS lines;\n",
        );
        let row = client
            .query_one(sql.as_str(), &[])
            .await
            .expect("the query runs");
        assert_eq!(row.get::<_, Option<i32>>(0), Some(3));
        assert_eq!(
            row.get::<_, Option<String>>(1).as_deref(),
            Some("sale|draft")
        );
        assert_eq!(
            row.get::<_, Option<String>>(2).as_deref(),
            Some("7 2.50 NULL")
        );
    }
    /// A check's queries run on the test server: rows compared by (company, subject), a
    /// result per company with the subjects counted on each side and the differences named.
    #[tokio::test]
    async fn each_company_passes_or_names_the_subjects_that_differ() {
        let source = crate::test_utils::test_server().await;
        let target = crate::test_utils::test_server().await;
        let check = BusinessCheck {
            name: "order-states",
            requires: &[],
            source_sql: "SELECT * FROM (VALUES (1, 'sale|draft', 3, 10.5), (1, 'sale|done', 1, 2.0), \
                         (2, 'sale|draft', 4, 7.0), (3, 'sale|sent', 1, 1.0)) v(company_id, subject, orders, amount)",
            target_sql: "SELECT * FROM (VALUES (1, 'sale|draft', 3, 10.5), (1, 'sale|done', 1, 2.0), \
                         (2, 'sale|draft', 4, 7.5), (2, 'sale|cancel', 1, 1.0)) v(company_id, subject, orders, amount)",
        };
        let results = business(&check, &source, &target)
            .await
            .expect("the check runs");
        let by_company: Vec<(&str, bool, &str, &str)> = results
            .iter()
            .map(|r| {
                (
                    r.subject.as_str(),
                    r.passed,
                    r.source_value.as_str(),
                    r.target_value.as_str(),
                )
            })
            .collect();
        assert_eq!(
            by_company,
            [
                ("company 1", true, "2", "2"),
                ("company 2", false, "1", "2"),
                ("company 3", false, "1", "0"),
            ]
        );
        assert!(results.iter().all(|r| r.check == "order-states"));
        assert_eq!(results[0].detail, "");
        assert_eq!(
            results[1].detail,
            "sale|cancel: source missing / target 1.0 1; sale|draft: source 7.0 4 / target 7.5 4"
        );
        assert_eq!(
            results[2].detail,
            "sale|sent: source 1.0 1 / target missing"
        );
    }
}
