//! Unit tests only: a migration in miniature on the test server, inside a transaction that is
//! never committed: the side schema's tables the checks read, a source table of three partners
//! and its target table, and the plan of that copy. Each test changes it and runs a check on it.
//! The checks that read a table of Odoo's on both databases (`ir_model_data`) get a second
//! connection for the source side, each side with a table of its own ([`ir_model_data`]).

use tokio_postgres::Client;

use crate::catalog::{Catalog, Model, Table};
use crate::plan::tables::{ColumnPlan, Output, TablePlan};
use crate::rules::pairing::TableKind;

/// The source and target tables (in `public`), made for this process.
pub fn tables() -> (String, String) {
    let pid = std::process::id();
    (format!("om_unit_src_{pid}"), format!("om_unit_tgt_{pid}"))
}

/// A connection holding the open transaction, with:
/// - source rows (1, 'A', NULL), (2, 'B', 1), (3, 'C', NULL);
/// - target rows (101, 'A', NULL), (102, 'B', 101), (103, 'Z', NULL): 3 was matched to a record
///   the target had (`xmlid`, not compared), 1 and 2 created;
/// - run 1 (a `run`) finished, its model state done with no row rejected, no problem, no
///   per-company copy.
pub async fn migrated() -> Client {
    let client = crate::test_utils::test_server().await;
    let (source, target) = tables();
    client
        .batch_execute(&format!(
            "BEGIN; CREATE SCHEMA odoo_migrate;
             CREATE TABLE odoo_migrate.runs (id bigint PRIMARY KEY, status text, command text DEFAULT 'run');
             CREATE TABLE odoo_migrate.id_map (model text, source_id int, target_id int, how text, run_id bigint);
             CREATE TABLE odoo_migrate.copied_rows (model text, target_id int, copy_of int);
             CREATE TABLE odoo_migrate.problems (table_name text, kind text, column_name text, detail jsonb);
             CREATE TABLE odoo_migrate.model_state (run_id bigint, source_table text, rows_rejected bigint,
               status text DEFAULT 'done');
             CREATE TABLE odoo_migrate.deferred_constraints (table_name text, constraint_name text);
             CREATE TABLE public.{source} (id int, name text, parent_id int);
             CREATE TABLE public.{target} (id int, name text, parent_id int);
             INSERT INTO odoo_migrate.runs VALUES (1, 'finished');
             INSERT INTO odoo_migrate.model_state VALUES (1, '{source}', 0);
             INSERT INTO public.{source} VALUES (1, 'A', NULL), (2, 'B', 1), (3, 'C', NULL);
             INSERT INTO public.{target} VALUES (101, 'A', NULL), (102, 'B', 101), (103, 'Z', NULL);
             INSERT INTO odoo_migrate.id_map VALUES ('res.partner', 1, 101, 'created', 1),
               ('res.partner', 2, 102, 'created', 1), ('res.partner', 3, 103, 'xmlid', 1);"
        ))
        .await
        .expect("the miniature migration");
    client
}

/// The plan of the copy: `id` its own, `name` as it is, `parent_id` through the partners' map.
pub fn plan() -> TablePlan {
    let (source, target) = tables();
    let mut plan = TablePlan::for_tests(
        TableKind::Model,
        "res.partner",
        vec![
            ColumnPlan::for_tests("id", true, Output::OwnId { field: 0 }),
            ColumnPlan::for_tests("name", false, Output::Copy { field: 1 }),
            ColumnPlan::for_tests(
                "parent_id",
                false,
                Output::Remap {
                    field: 2,
                    model: "res.partner".into(),
                },
            ),
        ],
    );
    plan.key = source.clone();
    plan.source_table = source;
    plan.target_table = target;
    plan.select = vec!["s.id".into(), "s.name".into(), "s.parent_id".into()];
    plan
}

/// A second connection, the source side of a check that reads the same Odoo table on both
/// databases, in a transaction of its own that is never committed either.
pub async fn source_side() -> Client {
    let client = crate::test_utils::test_server().await;
    client
        .batch_execute("BEGIN")
        .await
        .expect("the source side's transaction");
    client
}

/// Gives the connection's side its own `ir_model_data` (a temporary table: PostgreSQL reads it
/// before any schema's, and no other connection sees it) with `rows`, as
/// (module, name, model, res_id).
pub async fn ir_model_data(client: &Client, rows: &[(&str, &str, &str, Option<i32>)]) {
    client
        .batch_execute(
            "CREATE TEMPORARY TABLE ir_model_data (module text, name text, model text, res_id int) \
             ON COMMIT DROP",
        )
        .await
        .expect("ir_model_data");
    for (module, name, model, res_id) in rows {
        client
            .execute(
                "INSERT INTO ir_model_data VALUES ($1, $2, $3, $4)",
                &[module, name, model, res_id],
            )
            .await
            .expect("an external id");
    }
}

/// Records that the run could not keep `count` references of the target table's `column`.
pub async fn report_unmapped(client: &Client, column: &str, count: i64) {
    let (_, target) = tables();
    client
        .execute(
            "INSERT INTO odoo_migrate.problems VALUES ($1, 'unmapped_reference', $2, jsonb_build_object('count', $3::bigint))",
            &[&target, &column, &count],
        )
        .await
        .expect("a problem recorded");
}

/// The target's catalog as the checks read it: `tables` (integer columns, see
/// [`Table::of_integers`]) and `models`, each (model, its table).
pub fn target_catalog(tables: &[(&str, &[&str])], models: &[(&str, &str)]) -> Catalog {
    Catalog {
        side: "target",
        database: "t".to_string(),
        base_version: "19.0.1.3".to_string(),
        major: 19,
        modules: Default::default(),
        models: models
            .iter()
            .map(|(name, table)| {
                let model = Model {
                    name: name.to_string(),
                    table: Some(table.to_string()),
                    transient: false,
                    custom: false,
                    fields: Default::default(),
                };
                (name.to_string(), model)
            })
            .collect(),
        tables: tables
            .iter()
            .map(|(name, columns)| (name.to_string(), Table::of_integers(name, columns)))
            .collect(),
        loose_sequences: Vec::new(),
        xmlids_per_module: Default::default(),
    }
}
