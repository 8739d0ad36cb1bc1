//! `rehearse` migrates a sample of every model inside a transaction that is rolled back: it finds
//! real problems with the offending row, and leaves nothing in the target — not a row, not the
//! side schema, not a moved sequence.

mod common;

use common::{Database, DatabasePair, rules_file};

const SEQUENCES: &str = "SELECT string_agg(c.relname || '=' || (xpath('/row/l/text()', x))[1]::text || '/' || \
     (xpath('/row/c/text()', x))[1]::text, ',' ORDER BY c.relname) FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
     CROSS JOIN LATERAL query_to_xml(format('SELECT last_value AS l, is_called AS c FROM public.%I', c.relname), false, true, '') x \
     WHERE c.relkind = 'S'";

fn snapshot(
    target: &Database,
) -> (
    std::collections::BTreeMap<String, String>,
    Option<String>,
    i64,
) {
    (
        target.table_digests(),
        target.scalar(SEQUENCES),
        target.count("SELECT 1 FROM pg_namespace WHERE nspname = 'odoo_migrate'"),
    )
}

#[test]
fn a_rehearsal_of_the_real_dumps_passes_and_leaves_nothing() {
    let pair = DatabasePair::new("rehearse_clean");
    let before = snapshot(&pair.target);
    let outcome = pair.run(&["--format", "json", "rehearse", "--sample", "5"]);
    outcome.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert_eq!(json["failed"], 0);
    let tables = json["tables"].as_array().unwrap();
    assert!(tables.len() > 100, "every table with rows is rehearsed");
    let moves = tables
        .iter()
        .find(|t| t["source_table"] == "account_move_line")
        .unwrap();
    assert!(moves["written"].as_u64().unwrap() >= 5, "{moves}");
    assert_eq!(
        snapshot(&pair.target),
        before,
        "the target is left as it was"
    );
}

#[test]
fn a_broken_rule_is_caught_with_the_offending_row() {
    let pair = DatabasePair::new("rehearse_broken");
    let rules = rules_file(
        "broken-rule",
        "[models.\"res.partner\"]\ncolumns.autopost_bills = { sql = \"NULL\", note = \"broken on purpose\" }\n",
    );
    let before = snapshot(&pair.target);
    let outcome = pair.run(&["--rules", rules.arg(), "rehearse", "--sample", "3"]);
    outcome.assert_code(3);
    outcome.assert_stdout_contains("FAILS  res_partner → res_partner");
    outcome.assert_stdout_contains("column autopost_bills");
    outcome.assert_stdout_contains("source record res.partner id");
    assert_eq!(
        snapshot(&pair.target),
        before,
        "the target is left as it was"
    );
}
