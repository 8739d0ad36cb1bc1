//! The SQL pieces a copy plan reads its values through: type conversions the cast alone would get
//! wrong, `value_map` CASE expressions, and the join that gathers company-dependent values from
//! `ir_property`. Pure text; runs nothing.

use std::collections::BTreeMap;

use crate::catalog::quote_literal;

/// The join that turns the `ir_property` rows of `model`.`field` into one jsonb object per record,
/// keyed by company id: for each company, the record's row of that company, else its company-less
/// row; NULL values are left out and a record with none gets no row (so NULL).
pub(super) fn property_join(
    model: &str,
    field: &str,
    alias: &str,
    value_map: Option<&BTreeMap<String, String>>,
) -> String {
    let text = match value_map {
        Some(map) if !map.is_empty() => value_map_sql("q.value_text", map),
        _ => "q.value_text".to_string(),
    };
    let value = format!(
        "CASE q.type \
         WHEN 'many2one' THEN to_jsonb(NULLIF(split_part(q.value_reference, ',', 2), '')::int) \
         WHEN 'float' THEN to_jsonb(q.value_float) WHEN 'monetary' THEN to_jsonb(q.value_float) \
         WHEN 'integer' THEN to_jsonb(q.value_integer) WHEN 'boolean' THEN to_jsonb(q.value_integer <> 0) \
         WHEN 'date' THEN to_jsonb(q.value_datetime::date) WHEN 'datetime' THEN to_jsonb(q.value_datetime) \
         ELSE to_jsonb({text}) END"
    );
    let prefix = format!("{model},");
    format!(
        "LEFT JOIN (SELECT x.record_id, jsonb_object_agg(x.company_id::text, x.value) AS value \
         FROM (SELECT DISTINCT ON (1, 2) split_part(q.res_id, ',', 2)::int AS record_id, c.id AS company_id, {value} AS value \
         FROM public.ir_property q \
         JOIN public.ir_model_fields f ON f.id = q.fields_id AND f.model = {model} AND f.name = {field} \
         JOIN public.res_company c ON c.id = q.company_id OR q.company_id IS NULL \
         WHERE q.res_id LIKE {pattern} AND split_part(q.res_id, ',', 2) ~ '^[0-9]+$' \
         ORDER BY 1, 2, q.company_id NULLS LAST) x \
         WHERE x.value IS NOT NULL AND x.value <> 'null'::jsonb GROUP BY x.record_id) {alias} \
         ON {alias}.record_id = s.id",
        model = quote_literal(model),
        field = quote_literal(field),
        pattern = quote_literal(&format!(
            "{}%",
            prefix.replace('%', "\\%").replace('_', "\\_")
        )),
    )
}

/// Columns that hold a model name and so follow model renames.
pub(super) fn is_model_name_column(name: &str, data_type: &str) -> bool {
    (data_type.starts_with("character varying") || data_type == "text")
        && (name == "model" || name == "res_model" || name.ends_with("_model"))
}

/// The SQL that converts a source value to the target's type where a plain cast would be wrong.
pub(super) fn convert(expression: &str, from: &str, to: &str) -> String {
    let text = |t: &str| t == "text" || t.starts_with("character varying");
    if text(from) && to == "jsonb" {
        format!(
            "CASE WHEN {expression} IS NULL THEN NULL ELSE jsonb_build_object('en_US', {expression}) END"
        )
    } else if from == "jsonb" && text(to) {
        format!("coalesce({expression} ->> 'en_US', {expression} #>> '{{}}')")
    } else {
        expression.to_string()
    }
}

/// `CASE expr WHEN 'a' THEN 'b' … ELSE expr END` over the text of the value.
pub(super) fn value_map_sql(expression: &str, map: &BTreeMap<String, String>) -> String {
    let mut sql = format!("CASE ({expression})::text");
    for (from, to) in map {
        sql.push_str(&format!(
            " WHEN {} THEN {}",
            quote_literal(from),
            quote_literal(to)
        ));
    }
    sql.push_str(&format!(" ELSE ({expression})::text END"));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_a_translation_and_back() {
        assert_eq!(
            convert("s.name", "character varying", "jsonb"),
            "CASE WHEN s.name IS NULL THEN NULL ELSE jsonb_build_object('en_US', s.name) END"
        );
        assert!(convert("s.name", "jsonb", "character varying").contains("->> 'en_US'"));
        assert_eq!(convert("s.qty", "double precision", "numeric"), "s.qty");
    }

    #[test]
    fn value_maps_quote_their_values() {
        let map = BTreeMap::from([("it's".to_string(), "b".to_string())]);
        assert_eq!(
            value_map_sql("s.x", &map),
            "CASE (s.x)::text WHEN 'it''s' THEN 'b' ELSE (s.x)::text END"
        );
    }
}
