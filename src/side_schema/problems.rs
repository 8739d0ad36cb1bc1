//! The writer of `odoo_migrate.problems`: one row per thing a run met and says instead of dropping
//! (a record left out, an external id that could not follow its record, a table that failed).
//! Writes that table only, in whatever transaction or session the caller gives.

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_postgres::GenericClient;

/// One row of `odoo_migrate.problems`; what is `None` is left NULL.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// `error`, `warning` or `info`.
    pub severity: &'a str,
    pub kind: &'a str,
    pub model: Option<&'a str>,
    pub table: Option<&'a str>,
    pub column: Option<&'a str>,
    pub source_id: Option<i64>,
    pub message: &'a str,
    pub detail: Option<&'a Value>,
}

/// Records `problem` for run `run_id`.
pub async fn record_problem(
    client: &impl GenericClient,
    run_id: i64,
    problem: &Problem<'_>,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO odoo_migrate.problems (run_id, severity, kind, model, table_name, column_name, source_id, message, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &run_id,
                &problem.severity,
                &problem.kind,
                &problem.model,
                &problem.table,
                &problem.column,
                &problem.source_id,
                &problem.message,
                &problem.detail,
            ],
        )
        .await
        .with_context(|| {
            format!(
                "cannot record a problem of kind {} for {}",
                problem.kind,
                problem.model.unwrap_or("the run")
            )
        })?;
    Ok(())
}
