//! Step 2 of the planning: matching by natural key. Each model whose rule names a `natural_key` has
//! its still-unmapped source records matched to the target records with the same key (many2one key
//! columns compared through the mapping of their model), and the attachments of binary fields of
//! matched records are matched to the target's attachment of the same field. Reads both
//! databases; fills the mappings only.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, Result, bail};
use tokio_postgres::{Client, Row, Transaction};

use super::map::{How, IdMap, Mappings};
use crate::catalog::{Catalog, Column, Table, quote_ident};
use crate::plan::tables::{ColumnPlan, Output, TablePlan};
use crate::rules::Rules;
use crate::rules::pairing::{TableKind, TablePair};

/// A natural key as compared: one text (or NULL) per key column.
type Key = Vec<Option<String>>;

/// Matches by natural key every planned model whose rule gives one, in the order of
/// [`keyed_in_order`]. Returns how many records were matched.
#[allow(clippy::too_many_arguments)]
pub(super) async fn match_keyed_models(
    source: &Client,
    transaction: &Transaction<'_>,
    source_catalog: &Catalog,
    target_catalog: &Catalog,
    rules: &Rules,
    planned: &[&TablePair],
    plans: &[TablePlan],
    mappings: &mut Mappings,
    taken: &mut BTreeMap<String, HashSet<i32>>,
) -> Result<usize> {
    let mut found = 0;
    for pair in keyed_in_order(source_catalog, rules, planned) {
        found += match_natural_keys(
            source,
            transaction,
            source_catalog,
            target_catalog,
            rules,
            pair,
            plans.iter().find(|p| {
                Some(&p.model) == pair.source_model.as_ref() && p.kind == TableKind::Model
            }),
            mappings,
            taken,
        )
        .await?;
    }
    Ok(found)
}

/// The planned models that have a natural key, models whose keys reference no other keyed model
/// first (fewest many2one key columns first, keys with a polymorphic id last), so that a key's ids compare through mappings
/// already made.
fn keyed_in_order<'a>(
    source_catalog: &Catalog,
    rules: &Rules,
    planned: &[&'a TablePair],
) -> Vec<&'a TablePair> {
    let mut keyed: Vec<&TablePair> = planned
        .iter()
        .copied()
        .filter(|p| {
            p.source_model
                .as_deref()
                .and_then(|m| rules.model(m))
                .and_then(|r| r.natural_key.as_ref())
                .is_some()
        })
        .collect();
    keyed.sort_by_key(|p| {
        let model = p.source_model.as_deref().unwrap_or_default();
        let keys = rules
            .model(model)
            .and_then(|r| r.natural_key.clone())
            .unwrap_or_default();
        // A key holding an id of any model (`res_id`) goes after every other keyed model.
        keys.iter()
            .map(|k| {
                match source_catalog
                    .models
                    .get(model)
                    .and_then(|m| m.fields.get(k))
                    .map(|f| f.ttype.as_str())
                {
                    Some("many2one") => 1,
                    Some("many2one_reference") => 1000,
                    _ => 0,
                }
            })
            .sum::<usize>()
    });
    keyed
}

/// Matches the still-unmapped source records of a model to target records with the same natural
/// key. Many2one key columns are compared through the mapping of their model.
#[allow(clippy::too_many_arguments)]
async fn match_natural_keys(
    source: &Client,
    transaction: &Transaction<'_>,
    source_catalog: &Catalog,
    target_catalog: &Catalog,
    rules: &Rules,
    pair: &TablePair,
    plan: Option<&TablePlan>,
    mappings: &mut Mappings,
    taken: &mut BTreeMap<String, HashSet<i32>>,
) -> Result<usize> {
    let model = pair.source_model.clone().unwrap_or_default();
    let keys = rules
        .model(&model)
        .and_then(|r| r.natural_key.clone())
        .unwrap_or_default();
    let target_table = pair.target_table.as_deref().unwrap_or_default();
    let (Some(source_def), Some(target_def)) = (
        source_catalog.tables.get(&pair.source_table),
        target_catalog.tables.get(target_table),
    ) else {
        return Ok(0);
    };
    let reads = keys
        .iter()
        .map(|key| {
            key_read(
                source_catalog,
                pair,
                plan,
                &model,
                key,
                source_def,
                target_def,
            )
        })
        .collect::<Result<Vec<KeyRead>>>()?;
    let target_rows = read_target_keys(transaction, pair, &reads).await?;
    let matching = KeyMatching {
        model: &model,
        by_key: target_keys(&target_rows, &reads),
        // Copied out: the matching adds this model's matches to the mappings.
        companies: reads
            .iter()
            .any(|r| matches!(r.value, KeyValue::CompanyJson))
            .then(|| mappings.get("res.company").cloned())
            .flatten(),
        shared: rules.model(&model).is_some_and(|r| r.shared_match),
        reads: &reads,
        source_models: rules
            .renamed_models()
            .into_iter()
            .map(|(from, to)| (to, from))
            .collect(),
    };
    drop(target_rows);
    // Streamed: a keyed model of millions of rows (followers) is never held as rows.
    let source_table = &pair.source_table;
    let rows = source
        .query_raw(
            &source_keys_sql(pair, plan, &reads),
            std::iter::empty::<i32>(),
        )
        .await
        .with_context(|| format!("cannot read the natural keys of source table {source_table}"))?;
    futures::pin_mut!(rows);
    let mut pass = Pass::default();
    while let Some(row) = futures::TryStreamExt::try_next(&mut rows)
        .await
        .with_context(|| format!("cannot read the natural keys of source table {source_table}"))?
    {
        matching.take(&row, mappings, taken, &mut pass);
    }
    Ok(matching.finish(pass, mappings))
}

/// How one key column is read on both sides and compared.
struct KeyRead {
    /// Its text over the source row `s` (and the plan's joins).
    source: String,
    /// Its text over the target row `t`.
    target: String,
    value: KeyValue,
}

/// How a natural key column's value is compared with the target's.
enum KeyValue {
    /// As text.
    Plain,
    /// An id of this model, compared through its mapping.
    Id(String),
    /// A jsonb object keyed by company id, compared whole with its keys remapped.
    CompanyJson,
    /// An id of the model named by another column of the row (`res_model`/`res_id`), read from
    /// the source as `model,id` and compared through that model's mapping.
    Polymorphic,
}

/// How key column `key` of `model` is read: as the copy plan writes it when there is one, else
/// from the source column the pairing names.
fn key_read(
    source_catalog: &Catalog,
    pair: &TablePair,
    plan: Option<&TablePlan>,
    model: &str,
    key: &str,
    source_def: &Table,
    target_def: &Table,
) -> Result<KeyRead> {
    // With a copy plan, the key is read as the copy would write it (rules applied), so that a
    // key column the rules compute still meets its value in the target.
    let planned = plan.and_then(|p| {
        p.columns
            .iter()
            .find(|c| c.target_column == key)
            .map(|c| (c, &p.select[c.output.field()]))
    });
    if let (Some((column, expression)), Some(target_column_def)) = (planned, target_def.column(key))
    {
        if let (Output::Polymorphic { model_field, .. }, Some(plan)) = (&column.output, plan)
            && let Some(model_expression) = plan.select.get(*model_field)
        {
            return Ok(KeyRead {
                source: format!("(({model_expression})::text || ',' || ({expression})::text)"),
                target: text_expr("t", &target_column_def.name, &target_column_def.data_type),
                value: KeyValue::Polymorphic,
            });
        }
        return Ok(planned_key_read(column, expression, target_column_def));
    }
    let source_column = pair.renamed_columns.get(key).map_or(key, String::as_str);
    let (Some(source_column_def), Some(target_column_def)) =
        (source_def.column(source_column), target_def.column(key))
    else {
        let source_table = &pair.source_table;
        let target_table = pair.target_table.as_deref().unwrap_or_default();
        bail!(
            "natural key of {model} names column `{key}`, which is missing in source table {source_table} or target table {target_table}; correct the rule"
        );
    };
    Ok(KeyRead {
        source: text_expr("s", &source_column_def.name, &source_column_def.data_type),
        target: text_expr("t", &target_column_def.name, &target_column_def.data_type),
        value: source_catalog
            .models
            .get(model)
            .and_then(|m| m.fields.get(source_column))
            .filter(|f| f.ttype == "many2one")
            .and_then(|f| f.relation.clone())
            .map_or(KeyValue::Plain, KeyValue::Id),
    })
}

/// A key column read through the copy plan's `expression`, as the copy writes `column`.
fn planned_key_read(column: &ColumnPlan, expression: &str, target_column_def: &Column) -> KeyRead {
    let company_json = matches!(
        &column.output,
        Output::KeyedJson {
            key_model,
            value_model: None,
            ..
        } if key_model == "res.company"
    );
    KeyRead {
        source: if company_json {
            // Compared whole, once its company keys are remapped (an account's code per company).
            format!("({expression})::text")
        } else if column.target_type == "jsonb" {
            format!("(({expression}) ->> 'en_US')")
        } else if column.target_type.starts_with("numeric") {
            // 100 and 100.000000 are the same key.
            format!("trim_scale(({expression})::numeric)::text")
        } else {
            format!("({expression})::text")
        },
        target: if company_json {
            format!("(t.{})::text", quote_ident(&target_column_def.name))
        } else {
            text_expr("t", &target_column_def.name, &target_column_def.data_type)
        },
        value: match &column.output {
            Output::Remap { model, .. } => KeyValue::Id(model.clone()),
            _ if company_json => KeyValue::CompanyJson,
            _ => KeyValue::Plain,
        },
    }
}

/// The statement reading the id and key columns of every source row (through the copy plan's
/// joins when there is one).
fn source_keys_sql(pair: &TablePair, plan: Option<&TablePlan>, reads: &[KeyRead]) -> String {
    let source_exprs: Vec<&str> = reads.iter().map(|r| r.source.as_str()).collect();
    format!(
        "SELECT s.id, {} FROM {}",
        source_exprs.join(", "),
        plan.map_or_else(
            || format!("public.{} s", quote_ident(&pair.source_table)),
            TablePlan::source_from
        )
    )
}

/// Reads the id and key columns of every target row.
async fn read_target_keys(
    transaction: &Transaction<'_>,
    pair: &TablePair,
    reads: &[KeyRead],
) -> Result<Vec<Row>> {
    let target_table = pair.target_table.as_deref().unwrap_or_default();
    let target_exprs: Vec<&str> = reads.iter().map(|r| r.target.as_str()).collect();
    transaction
        .query(
            &format!(
                "SELECT t.id, {} FROM public.{} t",
                target_exprs.join(", "),
                quote_ident(target_table)
            ),
            &[],
        )
        .await
        .with_context(|| format!("cannot read the natural keys of target table {target_table}"))
}

/// The target records by key, the first of each key.
fn target_keys(target_rows: &[Row], reads: &[KeyRead]) -> HashMap<Key, i32> {
    let mut by_key: HashMap<Key, i32> = HashMap::new();
    for row in target_rows {
        let key: Key = (1..=reads.len())
            .map(|i| {
                let value: Option<String> = row.get(i);
                match reads[i - 1].value {
                    KeyValue::CompanyJson => value.and_then(|v| canonical_company_json(&v, None)),
                    _ => value,
                }
            })
            .collect();
        by_key.entry(key).or_insert(row.get(0));
    }
    by_key
}

/// What a pass over the source rows of a keyed model found: how many matched one to one, and
/// (with `shared_match`) the records whose target record was taken already.
#[derive(Default)]
struct Pass {
    found: usize,
    left_over: Vec<(i32, i32)>,
}

/// One model's natural-key matching, once the target's keys are read.
struct KeyMatching<'a> {
    model: &'a str,
    reads: &'a [KeyRead],
    by_key: HashMap<Key, i32>,
    /// The companies' mapping when a key is keyed by company.
    companies: Option<IdMap>,
    /// The rule's `shared_match`: target records left over once every one-to-one match is made
    /// may be the counterpart of several source records.
    shared: bool,
    /// Odoo 19 model name → Odoo 16 name, for the models the rules rename: a polymorphic key's
    /// model is read as the copy writes it, its mapping is under the source name.
    source_models: BTreeMap<String, String>,
}

impl KeyMatching<'_> {
    /// Maps a still-unmapped source record whose key a target record has, one to one; with
    /// `shared`, keeps it for [`KeyMatching::finish`] when that target record is taken.
    fn take(
        &self,
        row: &Row,
        mappings: &mut Mappings,
        taken: &mut BTreeMap<String, HashSet<i32>>,
        pass: &mut Pass,
    ) {
        let model = self.model;
        let source_id: i32 = row.get(0);
        if mappings.get(model).and_then(|m| m.get(source_id)).is_some() {
            return;
        }
        let Some(key) = self.source_key(row, mappings) else {
            return;
        };
        if let Some(&target_id) = self.by_key.get(&key) {
            if taken
                .entry(model.to_string())
                .or_default()
                .insert(target_id)
            {
                mappings
                    .entry(model)
                    .insert(source_id, target_id, How::NaturalKey);
                pass.found += 1;
            } else if self.shared {
                pass.left_over.push((source_id, target_id));
            }
        }
    }

    /// Once every source row was taken: the records left over (with `shared`) onto the target
    /// records already taken. Returns how many records were matched in all.
    fn finish(&self, pass: Pass, mappings: &mut Mappings) -> usize {
        // After every one-to-one match, so that a key both sides have twice still pairs up.
        let map = mappings.entry(self.model);
        for &(source_id, target_id) in &pass.left_over {
            map.insert(source_id, target_id, How::NaturalKey);
        }
        pass.found + pass.left_over.len()
    }

    /// A source row's key as the target would hold it: ids through their mappings, company keys
    /// remapped. `None` when a part cannot be translated or every part is NULL.
    fn source_key(&self, row: &Row, mappings: &Mappings) -> Option<Key> {
        let mut key = Vec::with_capacity(self.reads.len());
        let mut complete = true;
        for (i, read) in self.reads.iter().enumerate() {
            let value: Option<String> = row.get(i + 1);
            let translated = match (&read.value, value) {
                (KeyValue::CompanyJson, Some(value)) => {
                    let remapped = self
                        .companies
                        .as_ref()
                        .and_then(|c| canonical_company_json(&value, Some(c)));
                    if remapped.is_none() {
                        complete = false;
                    }
                    remapped
                }
                (KeyValue::Id(key_model), Some(value)) => {
                    let mapped = value
                        .parse::<i32>()
                        .ok()
                        .and_then(|id| mappings.get(key_model).and_then(|m| m.get(id)));
                    match mapped {
                        Some(id) => Some(id.to_string()),
                        None => {
                            complete = false;
                            None
                        }
                    }
                }
                (KeyValue::Polymorphic, Some(value)) => {
                    let mapped = value.rsplit_once(',').and_then(|(model, id)| {
                        let model = self.source_models.get(model).map_or(model, String::as_str);
                        let id = id.parse::<i32>().ok()?;
                        mappings.get(model)?.get(id)
                    });
                    match mapped {
                        Some(id) => Some(id.to_string()),
                        None => {
                            complete = false;
                            None
                        }
                    }
                }
                (_, value) => value,
            };
            key.push(translated);
        }
        if !complete || key.iter().all(Option::is_none) {
            return None;
        }
        Some(key)
    }
}

/// A jsonb object keyed by company id as one comparable text: keys through `companies` when
/// given (a source value), in a fixed order. `None` when it is no object or a company is not
/// mapped.
fn canonical_company_json(text: &str, companies: Option<&IdMap>) -> Option<String> {
    let serde_json::Value::Object(object) = serde_json::from_str(text).ok()? else {
        return None;
    };
    let mut keyed = BTreeMap::new();
    for (company, value) in object {
        let company = match companies {
            Some(map) => map.remap_key(&company)?,
            None => company,
        };
        keyed.insert(company, value);
    }
    serde_json::to_string(&keyed).ok()
}

/// Matches the attachments that hold a binary field (`res_field`) of a matched record to the
/// target's attachment of the same field of that record: Odoo reads one attachment per field and
/// record, so a second one beside it would be a duplicate. Which content wins is the owner's
/// `on_match` (see [`TablePlan::update_owners`]). Returns how many were matched.
pub(super) async fn match_field_attachments(
    source: &Client,
    transaction: &Transaction<'_>,
    rules: &Rules,
    mappings: &mut Mappings,
    taken: &mut BTreeMap<String, HashSet<i32>>,
) -> Result<usize> {
    const FIELD_ATTACHMENTS: &str = "SELECT id, res_model, res_field, res_id FROM ir_attachment \
         WHERE res_field IS NOT NULL AND res_model IS NOT NULL AND res_id > 0 ORDER BY id";
    let renamed = rules.renamed_models();
    let target_rows = transaction
        .query(FIELD_ATTACHMENTS, &[])
        .await
        .context("cannot read the target's attachments of binary fields")?;
    let mut by_field: HashMap<(String, String, i32), i32> = HashMap::new();
    for row in &target_rows {
        by_field
            .entry((row.get(1), row.get(2), row.get(3)))
            .or_insert(row.get(0));
    }
    if by_field.is_empty() {
        return Ok(0);
    }
    let source_rows = source
        .query(FIELD_ATTACHMENTS, &[])
        .await
        .context("cannot read the source's attachments of binary fields")?;
    let mut found = 0;
    for row in &source_rows {
        let (id, owner_model, field, owner_id): (i32, String, String, i32) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if mappings
            .get("ir.attachment")
            .and_then(|m| m.get(id))
            .is_some()
        {
            continue;
        }
        let Some(owner_target) = mappings.get(&owner_model).and_then(|m| {
            m.get(owner_id)
                .filter(|_| m.how(owner_id).is_some_and(|h| h != How::Created))
        }) else {
            continue;
        };
        let target_model = renamed.get(&owner_model).cloned().unwrap_or(owner_model);
        if let Some(&target_id) = by_field.get(&(target_model, field, owner_target))
            && taken
                .entry("ir.attachment".to_string())
                .or_default()
                .insert(target_id)
        {
            mappings
                .entry("ir.attachment")
                .insert(id, target_id, How::NaturalKey);
            found += 1;
        }
    }
    Ok(found)
}

/// A key column as text; a translated (jsonb) column by its English value, so that a varchar
/// name in 16 meets its jsonb successor in 19.
fn text_expr(alias: &str, column: &str, data_type: &str) -> String {
    if data_type == "jsonb" {
        format!("({alias}.{} ->> 'en_US')", quote_ident(column))
    } else if data_type.starts_with("numeric") || data_type == "double precision" {
        format!(
            "trim_scale(({alias}.{})::numeric)::text",
            quote_ident(column)
        )
    } else {
        format!("({alias}.{})::text", quote_ident(column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_json_is_compared_in_one_order_with_source_companies_mapped() {
        let mut companies = IdMap::default();
        companies.insert(1, 1, How::Xmlid);
        companies.insert(3, 2, How::Created);
        // Key order does not matter; a source's company ids become the target's.
        assert_eq!(
            canonical_company_json(r#"{"3": "600", "1": "400"}"#, Some(&companies)).as_deref(),
            Some(r#"{"1":"400","2":"600"}"#)
        );
        assert_eq!(
            canonical_company_json(r#"{"2": "600", "1": "400"}"#, None),
            canonical_company_json(r#"{"1": "400", "2": "600"}"#, None)
        );
        // A company the run did not map, no object, no JSON: no key to match on.
        assert_eq!(
            canonical_company_json(r#"{"4": "600"}"#, Some(&companies)),
            None
        );
        assert_eq!(canonical_company_json("[1, 2]", None), None);
        assert_eq!(canonical_company_json("not json", None), None);
    }

    #[test]
    fn key_columns_are_read_as_comparable_text() {
        assert_eq!(text_expr("s", "name", "jsonb"), "(s.\"name\" ->> 'en_US')");
        assert_eq!(
            text_expr("t", "rate", "numeric(12,6)"),
            "trim_scale((t.\"rate\")::numeric)::text"
        );
        assert_eq!(
            text_expr("t", "factor", "double precision"),
            "trim_scale((t.\"factor\")::numeric)::text"
        );
        assert_eq!(
            text_expr("s", "code", "character varying"),
            "(s.\"code\")::text"
        );
        assert_eq!(text_expr("s", "we\"ird", "text"), "(s.\"we\"\"ird\")::text");
    }
}
