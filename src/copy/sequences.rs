//! Document numbering carried over: Odoo's `ir_sequence` records keep their next number in a
//! PostgreSQL sequence named after the record id (`ir_sequence_NNN`, and `ir_sequence_NNN_MMM` for
//! date ranges) when their implementation is `standard`, and in `number_next` when it is `no_gap`.
//! Ids change during the migration, so these sequences are created or advanced in the target so
//! that the next sale order or transfer never reuses a number of the source. It writes only the
//! mapped numbering records (after keeping their before-images) and their PostgreSQL sequences.

use anyhow::{Context, Result};
use tokio_postgres::{Client, GenericClient};

use crate::catalog::quote_ident;

/// Next number of a sequence, as Odoo computes `number_next_actual`.
async fn next_number(client: &impl GenericClient, pg_sequence: &str, fallback: i64) -> Result<i64> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("public.{}", quote_ident(pg_sequence))],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(fallback);
    }
    let row = client
        .query_one(
            &format!(
                "SELECT last_value, is_called, (SELECT increment_by FROM pg_sequences \
                 WHERE schemaname = 'public' AND sequencename = $1) FROM public.{}",
                quote_ident(pg_sequence)
            ),
            &[&pg_sequence],
        )
        .await
        .with_context(|| format!("cannot read sequence {pg_sequence}"))?;
    let last: i64 = row.get(0);
    let called: bool = row.get(1);
    let increment: Option<i64> = row.get(2);
    Ok(next_after(last, called, increment))
}

/// The number `nextval` hands out next, from a sequence's `last_value` and `is_called` (a fresh or
/// reset sequence, not called yet, gives `last_value` itself).
fn next_after(last: i64, called: bool, increment: Option<i64>) -> i64 {
    if called {
        last + increment.unwrap_or(1)
    } else {
        last
    }
}

/// The PostgreSQL sequence Odoo keeps behind an `ir_sequence` record (`ir_sequence_NNN`) or one
/// of its date ranges (`ir_sequence_NNN_MMM`), ids padded to three digits.
fn pg_sequence_name(sequence_id: i32, date_range_id: Option<i32>) -> String {
    match date_range_id {
        None => format!("ir_sequence_{sequence_id:03}"),
        Some(range) => format!("ir_sequence_{sequence_id:03}_{range:03}"),
    }
}

/// One numbering of the source (an `ir.sequence` or `ir.sequence.date_range` record) and the
/// target record it was mapped to.
struct Numbering {
    /// The query reading the source record's `number_next` by id.
    source_query: &'static str,
    source_id: i32,
    /// The PostgreSQL sequences behind the record on each side (`ir_sequence_NNN[_MMM]`).
    source_pg_sequence: String,
    target_pg_sequence: String,
    /// The target's table and record.
    table: &'static str,
    target_id: i32,
    implementation: String,
    increment: i32,
}

/// Makes the target's numbering sequences continue where the source's stopped, for every mapped
/// `ir.sequence` and `ir.sequence.date_range` record. Returns how many were set.
pub async fn carry_over(source: &Client, target: &Client, run_id: i64) -> Result<usize> {
    let mut count = 0;
    for numbering in sequences(target).await? {
        count += usize::from(carry_one(source, target, run_id, &numbering).await?);
    }
    for numbering in date_ranges(target).await? {
        count += usize::from(carry_one(source, target, run_id, &numbering).await?);
    }
    Ok(count)
}

/// The mapped `ir.sequence` records, by source id.
async fn sequences(target: &Client) -> Result<Vec<Numbering>> {
    let mapped = target
        .query(
            "SELECT m.source_id, m.target_id, t.implementation, coalesce(t.number_increment, 1) \
             FROM odoo_migrate.id_map m JOIN ir_sequence t ON t.id = m.target_id \
             WHERE m.model = 'ir.sequence' ORDER BY m.source_id",
            &[],
        )
        .await
        .context("cannot read the mapped ir_sequence records")?;
    Ok(mapped
        .iter()
        .map(|row| {
            let source_id: i32 = row.get(0);
            let target_id: i32 = row.get(1);
            Numbering {
                source_query: "SELECT coalesce(number_next, 1) FROM ir_sequence WHERE id = $1",
                source_id,
                source_pg_sequence: pg_sequence_name(source_id, None),
                target_pg_sequence: pg_sequence_name(target_id, None),
                table: "ir_sequence",
                target_id,
                implementation: row.get(2),
                increment: row.get(3),
            }
        })
        .collect())
}

/// The mapped `ir.sequence.date_range` records whose sequence is mapped too.
async fn date_ranges(target: &Client) -> Result<Vec<Numbering>> {
    let ranges = target
        .query(
            "SELECT m.source_id, m.target_id, r.sequence_id, s.implementation, coalesce(s.number_increment, 1), \
             (SELECT sm.source_id FROM odoo_migrate.id_map sm WHERE sm.model = 'ir.sequence' AND sm.target_id = r.sequence_id LIMIT 1) \
             FROM odoo_migrate.id_map m JOIN ir_sequence_date_range r ON r.id = m.target_id \
             JOIN ir_sequence s ON s.id = r.sequence_id WHERE m.model = 'ir.sequence.date_range'",
            &[],
        )
        .await
        .context("cannot read the mapped ir_sequence_date_range records")?;
    Ok(ranges
        .iter()
        .filter_map(|row| {
            let source_id: i32 = row.get(0);
            let target_id: i32 = row.get(1);
            let target_sequence: i32 = row.get(2);
            let source_sequence: i32 = row.get::<_, Option<i32>>(5)?;
            Some(Numbering {
                source_query: "SELECT coalesce(number_next, 1) FROM ir_sequence_date_range WHERE id = $1",
                source_id,
                source_pg_sequence: pg_sequence_name(source_sequence, Some(source_id)),
                target_pg_sequence: pg_sequence_name(target_sequence, Some(target_id)),
                table: "ir_sequence_date_range",
                target_id,
                implementation: row.get(3),
                increment: row.get(4),
            })
        })
        .collect())
}

/// Carries one numbering over: reads where the source's stands and advances the target's to it.
/// `false` when the source record is gone.
async fn carry_one(
    source: &Client,
    target: &Client,
    run_id: i64,
    numbering: &Numbering,
) -> Result<bool> {
    let Some(source_row) = source
        .query_opt(numbering.source_query, &[&numbering.source_id])
        .await?
    else {
        return Ok(false);
    };
    let source_next = next_number(
        source,
        &numbering.source_pg_sequence,
        i64::from(source_row.get::<_, i32>(0)),
    )
    .await?;
    advance(target, run_id, numbering, source_next).await?;
    Ok(true)
}

/// Moves one numbering forward to at least `source_next`, never backwards.
async fn advance(
    target: &Client,
    run_id: i64,
    numbering: &Numbering,
    source_next: i64,
) -> Result<()> {
    let Numbering {
        target_pg_sequence: pg_sequence,
        implementation,
        table,
        target_id: record_id,
        increment,
        ..
    } = numbering;
    let next_column = i32::try_from(source_next).unwrap_or(i32::MAX);
    target
        .execute(
            &format!(
                "INSERT INTO odoo_migrate.before_images (run_id, table_name, target_id, image) \
                 SELECT $1, $2, t.id, to_jsonb(t) FROM public.{} t WHERE t.id = $3 ON CONFLICT DO NOTHING",
                quote_ident(table)
            ),
            &[&run_id, &table, &record_id],
        )
        .await
        .with_context(|| format!("cannot keep the before-image of {table} {record_id}"))?;
    target
        .execute(
            &format!(
                "UPDATE public.{} SET number_next = GREATEST(coalesce(number_next, 1), $2) WHERE id = $1",
                quote_ident(table)
            ),
            &[&record_id, &next_column],
        )
        .await
        .with_context(|| format!("cannot advance {table} {record_id}"))?;
    if implementation != "standard" {
        return Ok(());
    }
    let qualified = format!("public.{}", quote_ident(pg_sequence));
    target
        .batch_execute(&format!(
            "CREATE SEQUENCE IF NOT EXISTS {qualified} INCREMENT BY {increment} START WITH {source_next}"
        ))
        .await
        .with_context(|| format!("cannot create sequence {pg_sequence}"))?;
    let target_next = next_number(target, pg_sequence, 1).await?;
    if target_next < source_next {
        target
            .execute(
                "SELECT setval($1::text::regclass, $2, false)",
                &[&qualified, &source_next],
            )
            .await
            .with_context(|| format!("cannot advance sequence {pg_sequence}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_number_follows_is_called_and_the_increment() {
        assert_eq!(next_after(41, true, Some(1)), 42);
        assert_eq!(next_after(41, true, None), 42);
        assert_eq!(next_after(40, true, Some(10)), 50);
        // setval(…, n, false) and a fresh sequence: n comes next.
        assert_eq!(next_after(1, false, Some(1)), 1);
        assert_eq!(next_after(57, false, Some(5)), 57);
    }

    #[test]
    fn odoo_names_its_sequences_after_the_record_ids_padded_to_three_digits() {
        assert_eq!(pg_sequence_name(7, None), "ir_sequence_007");
        assert_eq!(pg_sequence_name(1234, None), "ir_sequence_1234");
        assert_eq!(pg_sequence_name(48, Some(3)), "ir_sequence_048_003");
        assert_eq!(pg_sequence_name(100, Some(2001)), "ir_sequence_100_2001");
    }
}
