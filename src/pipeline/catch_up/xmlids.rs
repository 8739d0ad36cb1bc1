//! A catch-up's external ids of records that earlier runs created and the source still has: an
//! external id the source gave such a record since the last sync is created (planned with the
//! catch-up's id plan, in `xmlid_plan`; the record's row may not be read again), and one an earlier
//! run created that the source no longer gives it (listed by the id plan in
//! `catch_up_lost_xmlids`) is deleted, kept whole in `removed_rows` for `rollback`. A renamed
//! external id is both. Records the migration matched keep the target's own external ids. One
//! target transaction.

use anyhow::{Context, Result};
use tokio_postgres::Client;

use crate::rules::Rules;

/// Creates and deletes the external ids of earlier created records as the source's changed;
/// returns (created, deleted).
pub async fn follow_external_ids(
    control: &mut Client,
    rules: &Rules,
    run_id: i64,
) -> Result<(u64, u64)> {
    let transaction = control.transaction().await?;
    let mut created = 0;
    let models: Vec<String> = transaction
        .query(
            "SELECT DISTINCT model FROM odoo_migrate.xmlid_plan WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for model in &models {
        created += transaction
            .execute(
                "INSERT INTO ir_model_data (id, module, name, model, res_id, noupdate, create_date, write_date) \
                 SELECT x.target_id, x.module, x.name, $3, m.target_id, x.noupdate, x.create_date, x.write_date \
                 FROM odoo_migrate.xmlid_plan x \
                 JOIN odoo_migrate.id_map m ON m.model = x.model AND m.source_id = x.source_id AND m.how = 'created' \
                 WHERE x.run_id = $1 AND x.model = $2 ON CONFLICT DO NOTHING",
                &[&run_id, model, &rules.model_in_target(model)],
            )
            .await
            .with_context(|| format!("cannot create the new external ids of {model} records"))?;
    }
    let deleted = transaction
        .execute(
            "WITH gone AS (DELETE FROM public.ir_model_data d USING odoo_migrate.catch_up_lost_xmlids l \
             WHERE l.run_id = $1 AND d.module = l.module AND d.name = l.name RETURNING d.*) \
             INSERT INTO odoo_migrate.removed_rows (run_id, table_name, image) SELECT $1, 'ir_model_data', to_jsonb(g) FROM gone g",
            &[&run_id],
        )
        .await
        .context("cannot delete the external ids the source no longer gives")?;
    transaction
        .commit()
        .await
        .context("cannot commit the catch-up's external ids")?;
    Ok((created, deleted))
}
