//! The values of one column rewritten through the mappings: `res_model`/`res_id` pairs,
//! `model,id` references, jsonb objects keyed by ids, and external ids looked up in the target.
//! Pure functions over bytes, except [`XmlidTargets::read`], which reads the target once per
//! copy before the COPY starts; nothing here writes.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use bytes::BufMut;
use tokio_postgres::Transaction;

use crate::io::codec::Tuple;
use crate::plan::ids::{IdMap, Mappings};
use crate::plan::tables::TablePlan;

/// The records of a target model by external id, for an [`Output::Xmlid`] column.
pub(super) struct XmlidTargets {
    ids: HashMap<Vec<u8>, i32>,
    fallback: i32,
}

impl XmlidTargets {
    /// The external ids of the fallback's model in the target.
    pub(super) async fn read(
        transaction: &Transaction<'_>,
        plan: &TablePlan,
        column: &str,
        fallback: &str,
    ) -> Result<XmlidTargets> {
        let (module, name) = fallback.split_once('.').unwrap_or(("", fallback));
        let row = transaction
            .query_opt(
                "SELECT model, res_id FROM ir_model_data WHERE module = $1 AND name = $2 AND res_id IS NOT NULL",
                &[&module, &name],
            )
            .await
            .with_context(|| format!("cannot read external id {fallback} in the target"))?
            .with_context(|| {
                format!(
                    "the rule for {}.{column} falls back on external id {fallback}, which the target does not have; \
                     correct the rule or install the module that defines it",
                    plan.target_table
                )
            })?;
        let model: String = row.get(0);
        let ids = transaction
            .query(
                "SELECT module || '.' || name, res_id FROM ir_model_data WHERE model = $1 AND res_id IS NOT NULL",
                &[&model],
            )
            .await
            .with_context(|| format!("cannot read the external ids of {model} in the target"))?
            .iter()
            .map(|r| (r.get::<_, String>(0).into_bytes(), r.get(1)))
            .collect();
        Ok(XmlidTargets {
            ids,
            fallback: row.get(1),
        })
    }

    /// The target id of an external id read, or the fallback's.
    pub(super) fn id_of(&self, xmlid: Option<&[u8]>) -> i32 {
        xmlid
            .and_then(|x| self.ids.get(x))
            .copied()
            .unwrap_or(self.fallback)
    }
}

/// Rewrites a `res_model`/`res_id` pair. `Ok(None)` for NULL or 0 (Odoo's "no record"),
/// `Err(model)` when the record is not mapped.
pub(super) fn polymorphic(
    tuple: &Tuple<'_>,
    field: usize,
    model_field: usize,
    mappings: &Mappings,
) -> std::result::Result<Option<i32>, String> {
    let Some(id) = tuple.int4(field) else {
        return Ok(None);
    };
    if id == 0 {
        return Ok(Some(0));
    }
    let Some(model) = tuple.field(model_field) else {
        return Ok(Some(id));
    };
    match mappings.get_bytes(model).and_then(|m| m.get(id)) {
        Some(target) => Ok(Some(target)),
        None => Err(String::from_utf8_lossy(model).into_owned()),
    }
}

/// Rewrites a `model,id` string into `out`; `Err(model)` when the record is not mapped.
pub(super) fn reference(
    text: &[u8],
    mappings: &Mappings,
    renamed_models: &BTreeMap<String, String>,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    out.clear();
    let text = String::from_utf8_lossy(text);
    let Some((model, id)) = text.rsplit_once(',') else {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    };
    let Ok(id) = id.trim().parse::<i32>() else {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    };
    match mappings.get(model).and_then(|m| m.get(id)) {
        Some(target) => {
            let model = renamed_models.get(model).map_or(model, String::as_str);
            out.extend_from_slice(model.as_bytes());
            out.put_u8(b',');
            out.extend_from_slice(target.to_string().as_bytes());
            Ok(())
        }
        None => Err(model.to_string()),
    }
}

/// Rewrites a binary jsonb object keyed by ids (a company's, or several comma-separated ids of
/// one model, as analytic distributions have) into `out` (binary jsonb as well). Returns how many
/// entries were dropped because a key's record or the value was not mapped.
pub(super) fn keyed_json(
    bytes: &[u8],
    keys: Option<&IdMap>,
    values: Option<&IdMap>,
    out: &mut Vec<u8>,
) -> std::result::Result<usize, &'static str> {
    let (&version, text) = bytes.split_first().ok_or("invalid_jsonb")?;
    if version != 1 {
        return Err("invalid_jsonb");
    }
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|_| "invalid_jsonb")?;
    let serde_json::Value::Object(object) = value else {
        out.clear();
        out.extend_from_slice(bytes);
        return Ok(0);
    };
    let mut result = serde_json::Map::new();
    let mut dropped = 0;
    for (key, value) in object {
        let Some(remapped) = keys.and_then(|map| map.remap_key(&key)) else {
            dropped += 1;
            continue;
        };
        let value = match (values, &value) {
            (Some(map), serde_json::Value::Number(number)) => {
                match number.as_i64().and_then(|n| map.get(n as i32)) {
                    Some(target) => serde_json::Value::from(target),
                    None => {
                        dropped += 1;
                        continue;
                    }
                }
            }
            _ => value,
        };
        result.insert(remapped, value);
    }
    out.clear();
    out.push(1);
    serde_json::to_writer(&mut *out, &serde_json::Value::Object(result))
        .map_err(|_| "invalid_jsonb")?;
    Ok(dropped)
}

/// Rewrites a text list of ids separated by commas (`3,7`) into `out`: each id through `map`,
/// the list sorted by the new ids and joined by commas without spaces, as Odoo writes one.
/// Returns how many entries were left out: ids not mapped (or no map at all) and entries that are
/// no number.
pub(super) fn id_list(bytes: &[u8], map: Option<&IdMap>, out: &mut Vec<u8>) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let mut ids = Vec::new();
    let mut dropped = 0;
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match entry
            .parse::<i32>()
            .ok()
            .and_then(|id| map.and_then(|m| m.get(id)))
        {
            Some(target) => ids.push(target),
            None => dropped += 1,
        }
    }
    ids.sort_unstable();
    ids.dedup();
    out.clear();
    let joined: Vec<String> = ids.iter().map(i32::to_string).collect();
    out.extend_from_slice(joined.join(",").as_bytes());
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ids::How;

    #[test]
    fn company_json_keys_and_values_are_remapped() {
        let mut companies = IdMap::default();
        companies.insert(1, 1, How::Xmlid);
        companies.insert(3, 2, How::Created);
        let mut accounts = IdMap::default();
        accounts.insert(10, 510, How::Created);
        let mut input = vec![1u8];
        input.extend_from_slice(br#"{"1": 10, "3": 11, "9": 10}"#);
        let mut out = Vec::new();
        let dropped = keyed_json(&input, Some(&companies), Some(&accounts), &mut out).unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(out[0], 1);
        let value: serde_json::Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(value, serde_json::json!({"1": 510}));
    }

    #[test]
    fn a_list_of_ids_is_remapped_and_sorted_by_its_new_ids() {
        let mut values = IdMap::default();
        values.insert(3, 40, How::Created);
        values.insert(7, 8, How::Xmlid);
        values.insert(9, 12, How::Created);
        let mut out = Vec::new();
        assert_eq!(id_list(b"3,7,9", Some(&values), &mut out), 0);
        assert_eq!(out, b"8,12,40");
        assert_eq!(id_list(b"3,5,x", Some(&values), &mut out), 2);
        assert_eq!(out, b"40");
        assert_eq!(id_list(b"", Some(&values), &mut out), 0);
        assert_eq!(out, b"");
    }

    #[test]
    fn keys_of_several_ids_are_remapped_each() {
        let mut analytic = IdMap::default();
        analytic.insert(4, 40, How::Created);
        analytic.insert(5, 50, How::Created);
        let mut input = vec![1u8];
        input.extend_from_slice(br#"{"4": 60.0, "4,5": 40.0, "4,6": 1.0, "x": 2}"#);
        let mut out = Vec::new();
        let dropped = keyed_json(&input, Some(&analytic), None, &mut out).unwrap();
        assert_eq!(dropped, 2);
        let value: serde_json::Value = serde_json::from_slice(&out[1..]).unwrap();
        assert_eq!(value, serde_json::json!({"40": 60.0, "40,50": 40.0}));
    }
}
