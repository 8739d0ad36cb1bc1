//! Custom models (Studio's, or a company's own module's) recorded in Odoo's catalog of a test
//! database, as Odoo does: a row of `ir_model` and one of `ir_model_fields` per field. The table
//! itself is the test's to create: its names are what the tests are about.

/// A field of a custom model.
pub struct Field<'a> {
    pub name: &'a str,
    pub ttype: &'a str,
    /// The model a relational field points at.
    pub relation: Option<&'a str>,
    /// A many2many's table and its two columns (this model's, the other's).
    pub relation_table: Option<(&'a str, &'a str, &'a str)>,
}

impl<'a> Field<'a> {
    pub fn plain(name: &'a str, ttype: &'a str) -> Field<'a> {
        Field {
            name,
            ttype,
            relation: None,
            relation_table: None,
        }
    }

    pub fn many2one(name: &'a str, model: &'a str) -> Field<'a> {
        Field {
            relation: Some(model),
            ..Field::plain(name, "many2one")
        }
    }

    pub fn many2many(
        name: &'a str,
        model: &'a str,
        table: &'a str,
        column1: &'a str,
        column2: &'a str,
    ) -> Field<'a> {
        Field {
            relation: Some(model),
            relation_table: Some((table, column1, column2)),
            ..Field::plain(name, "many2many")
        }
    }
}

/// A SQL string literal, or NULL.
fn literal(text: Option<&str>) -> String {
    text.map_or("NULL".to_string(), |t| {
        format!("'{}'", t.replace('\'', "''"))
    })
}

/// SQL that records `model` with its `fields` in Odoo's catalog (`ir_model`, `ir_model_fields`) as
/// Studio would: `id` and `order` are base fields, the others manual ones.
pub fn register_custom_model(model: &str, fields: &[Field]) -> String {
    let values: Vec<String> = fields
        .iter()
        .map(|field| {
            let (table, column1, column2) = match field.relation_table {
                Some((table, column1, column2)) => (Some(table), Some(column1), Some(column2)),
                None => (None, None, None),
            };
            let state = if matches!(field.name, "id" | "order") {
                "base"
            } else {
                "manual"
            };
            format!(
                "({}, {}, {}, '{state}', {}, {}, {})",
                literal(Some(field.name)),
                literal(Some(field.ttype)),
                literal(field.relation),
                literal(table),
                literal(column1),
                literal(column2),
            )
        })
        .collect();
    let model = literal(Some(model));
    format!(
        "INSERT INTO ir_model (model, name, \"order\", state, transient) \
         VALUES ({model}, '{{\"en_US\": \"Custom\"}}', 'id', 'manual', false); \
         INSERT INTO ir_model_fields (model_id, model, name, ttype, state, field_description, relation, \
         relation_table, column1, column2, store) \
         SELECT m.id, m.model, f.name, f.ttype, f.state, '{{\"en_US\": \"Custom\"}}', f.relation, \
         f.relation_table, f.column1, f.column2, true \
         FROM ir_model m, (VALUES {}) f (name, ttype, relation, state, relation_table, column1, column2) \
         WHERE m.model = {model}",
        values.join(", ")
    )
}
