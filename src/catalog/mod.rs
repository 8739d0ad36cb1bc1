//! Introspection of one Odoo database: Odoo's own catalog (modules, models, fields, external ids) and
//! PostgreSQL's (tables, columns, constraints, sequences, row counts), read once into a [`Catalog`]
//! that every later phase consults instead of querying the database again.

pub mod session;

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::GenericClient;

use crate::io::connect::Side;
use crate::io::exit::{Status, refuse};

/// Everything the tool knows about one database.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    pub side: &'static str,
    pub database: String,
    /// `latest_version` of the `base` module, e.g. `16.0.1.3`.
    pub base_version: String,
    /// The major Odoo version, e.g. 16.
    pub major: u32,
    /// Installed modules (state installed, to upgrade or to remove) and their versions.
    pub modules: BTreeMap<String, String>,
    pub models: BTreeMap<String, Model>,
    pub tables: BTreeMap<String, Table>,
    /// Free-standing sequences (not owned by a column), e.g. `ir_sequence_001`.
    pub loose_sequences: Vec<String>,
    /// Number of external ids per module.
    pub xmlids_per_module: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub name: String,
    /// The table holding the model's rows, when it has one in this database.
    pub table: Option<String>,
    pub transient: bool,
    /// Made by the company itself (Studio or a field editor: `state = 'manual'`, or an `x_` name)
    /// rather than by a module of Odoo's.
    pub custom: bool,
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: String,
    pub ttype: String,
    pub relation: Option<String>,
    pub relation_table: Option<String>,
    pub column1: Option<String>,
    pub column2: Option<String>,
    pub store: bool,
    pub required: bool,
    /// Values live in a jsonb column keyed by company id (Odoo 18 and later).
    pub company_dependent: bool,
    /// Translatable: `translate` is a boolean in 16 and a string in 19; any true-ish value counts.
    pub translate: bool,
    /// Allowed keys of a selection field, from ir_model_fields_selection.
    pub selection: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub unique: Vec<Constraint>,
    pub foreign_keys: Vec<ForeignKey>,
    /// The sequence feeding each column that has one (normally `id`).
    pub sequences: BTreeMap<String, String>,
    pub row_count: i64,
}

/// Tables made by hand, for the unit tests of the modules that read the catalog.
#[cfg(test)]
impl Table {
    /// A table of integer columns, keyed by `id` fed by `<name>_id_seq`, with no row.
    pub fn of_integers(name: &str, columns: &[&str]) -> Table {
        Table {
            name: name.to_string(),
            columns: columns
                .iter()
                .zip(1..)
                .map(|(column, position)| Column {
                    name: column.to_string(),
                    position,
                    data_type: "integer".to_string(),
                    not_null: false,
                    default_expr: None,
                })
                .collect(),
            primary_key: vec!["id".to_string()],
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            sequences: [("id".to_string(), format!("{name}_id_seq"))]
                .into_iter()
                .collect(),
            row_count: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    pub position: i32,
    pub data_type: String,
    pub not_null: bool,
    pub default_expr: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Constraint {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub referenced_table: String,
    pub referenced_columns: Vec<String>,
    /// PostgreSQL's letter: a (no action), r (restrict), c (cascade), n (set null), d (set default).
    pub on_delete: String,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.column(name).is_some()
    }
}

impl Catalog {
    /// Many2many relation tables, each with the model and field that own it.
    pub fn relation_tables(&self) -> BTreeMap<String, (&Model, &Field)> {
        let mut out = BTreeMap::new();
        for model in self.models.values() {
            for field in model.fields.values() {
                if field.ttype == "many2many"
                    && field.store
                    && let Some(table) = &field.relation_table
                    && self.tables.contains_key(table)
                {
                    out.entry(table.clone()).or_insert((model, field));
                }
            }
        }
        out
    }
}

/// Reads the catalog of one database on two connections of `pool` at once (PostgreSQL's catalog on
/// one, Odoo's on the other: each takes about half the time). Refuses, with a message saying what
/// to do, a database that is not an Odoo database.
pub async fn load(pool: &deadpool_postgres::Pool, side: Side, database: &str) -> Result<Catalog> {
    let first = pool.get().await?;
    let client: &tokio_postgres::Client = &first;
    let label = side.label();
    let is_odoo: bool = client
        .query_one(
            "SELECT to_regclass('public.ir_module_module') IS NOT NULL \
             AND to_regclass('public.ir_model_fields') IS NOT NULL",
            &[],
        )
        .await
        .with_context(|| format!("cannot read the catalog of the {label} database"))?
        .get(0);
    if !is_odoo {
        return Err(refuse(
            Status::WrongDatabase,
            format!(
                "the {label} database {database} is not an Odoo database (it has no ir_module_module table); check the {label} connection string"
            ),
        ));
    }
    let base_version: Option<String> = client
        .query_opt(
            "SELECT latest_version FROM ir_module_module WHERE name = 'base' AND state = 'installed'",
            &[],
        )
        .await
        .with_context(|| format!("cannot read the version of the {label} database"))?
        .and_then(|row| row.get(0));
    let Some(base_version) = base_version else {
        return Err(refuse(
            Status::WrongDatabase,
            format!(
                "the {label} database {database} has no installed `base` module; it is not a usable Odoo database"
            ),
        ));
    };
    let major = base_version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| {
            refuse(
                Status::WrongDatabase,
                format!("the {label} database reports an unreadable Odoo version `{base_version}`"),
            )
        })?;

    let mut modules = BTreeMap::new();
    for row in client
        .query(
            "SELECT name, coalesce(latest_version, '') FROM ir_module_module \
             WHERE state IN ('installed', 'to upgrade', 'to remove') ORDER BY name",
            &[],
        )
        .await
        .context("cannot read ir_module_module")?
    {
        modules.insert(row.get::<_, String>(0), row.get::<_, String>(1));
    }

    let second = pool.get().await?;
    let odoo_side: &tokio_postgres::Client = &second;
    let (tables, odoo) = tokio::join!(load_tables(client), read_odoo_catalog(odoo_side));
    let tables = match tables {
        Ok(tables) => tables,
        Err(error) if is_lock_timeout(&error) => {
            let locked = locked_tables(client).await.unwrap_or_default();
            return Err(error.context(format!(
                "the {label} database has {} locked by another session",
                if locked.is_empty() {
                    "a table".to_string()
                } else {
                    locked.join(", ")
                }
            )));
        }
        Err(error) => return Err(error),
    };
    let OdooCatalog {
        mut models,
        sequences,
        xmlids_per_module,
    } = odoo?;
    assign_tables(&mut models, &tables);

    let mut loose_sequences = Vec::new();
    let mut tables = tables;
    for row in sequences {
        let sequence: String = row.get(0);
        let table: Option<String> = row.get(1);
        let column: Option<String> = row.get(2);
        match (table.and_then(|t| tables.get_mut(&t)), column) {
            (Some(table), Some(column)) => {
                table.sequences.insert(column, sequence);
            }
            _ => loose_sequences.push(sequence),
        }
    }

    Ok(Catalog {
        side: label,
        database: database.to_string(),
        base_version,
        major,
        modules,
        models,
        tables,
        loose_sequences,
        xmlids_per_module,
    })
}

async fn load_tables(client: &impl GenericClient) -> Result<BTreeMap<String, Table>> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for row in client
        .query(include_str!("../../sql/catalog/columns.sql"), &[])
        .await
        .context("cannot read the table columns")?
    {
        let table_name: String = row.get("table_name");
        let table = tables.entry(table_name.clone()).or_insert_with(|| Table {
            name: table_name,
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            sequences: BTreeMap::new(),
            row_count: 0,
        });
        table.columns.push(Column {
            name: row.get("column_name"),
            position: row.get("position"),
            data_type: row.get("data_type"),
            not_null: row.get("not_null"),
            default_expr: row.get("default_expr"),
        });
    }
    for row in client
        .query(include_str!("../../sql/catalog/constraints.sql"), &[])
        .await
        .context("cannot read the table constraints")?
    {
        let table_name: String = row.get("table_name");
        let Some(table) = tables.get_mut(&table_name) else {
            continue;
        };
        let name: String = row.get("name");
        let columns: Vec<String> = row.get("columns");
        match row.get::<_, String>("kind").as_str() {
            "p" => table.primary_key = columns,
            "u" => table.unique.push(Constraint { name, columns }),
            _ => table.foreign_keys.push(ForeignKey {
                name,
                columns,
                referenced_table: row
                    .get::<_, Option<String>>("referenced_table")
                    .unwrap_or_default(),
                referenced_columns: row.get("referenced_columns"),
                on_delete: row.get("on_delete"),
            }),
        }
    }
    count_rows(client, &mut tables).await?;
    Ok(tables)
}

/// How many tables one counting statement reads: each holds a lock until its statement ends, and
/// the server's lock table is shared by every session (max_locks_per_transaction, 64 by default, per
/// allowed connection).
const TABLES_COUNTED_AT_ONCE: usize = 50;

/// Exact row counts of `tables`, a batch of tables per statement.
async fn count_rows(
    client: &impl GenericClient,
    tables: &mut BTreeMap<String, Table>,
) -> Result<()> {
    let names: Vec<String> = tables.keys().cloned().collect();
    for batch in names.chunks(TABLES_COUNTED_AT_ONCE) {
        let counts = client
            .query(include_str!("../../sql/catalog/row_counts.sql"), &[&batch])
            .await
            .with_context(|| {
                format!(
                    "cannot count the rows of the tables {} … {}",
                    batch.first().map(String::as_str).unwrap_or_default(),
                    batch.last().map(String::as_str).unwrap_or_default()
                )
            })?;
        for row in counts {
            let name: String = row.get(0);
            if let Some(table) = tables.get_mut(&name) {
                table.row_count = row.get::<_, Option<i64>>(1).unwrap_or(0);
            }
        }
    }
    Ok(())
}

/// What is read on the second connection: Odoo's models and fields, the sequences and the external
/// ids per module.
struct OdooCatalog {
    models: BTreeMap<String, Model>,
    sequences: Vec<tokio_postgres::Row>,
    xmlids_per_module: BTreeMap<String, i64>,
}

async fn read_odoo_catalog(client: &impl GenericClient) -> Result<OdooCatalog> {
    let models = load_models(client).await?;
    let sequences = client
        .query(include_str!("../../sql/catalog/sequences.sql"), &[])
        .await
        .context("cannot read the sequences")?;
    let mut xmlids_per_module = BTreeMap::new();
    for row in client
        .query(
            "SELECT module, count(*) FROM ir_model_data GROUP BY module ORDER BY module",
            &[],
        )
        .await
        .context("cannot count external ids in ir_model_data")?
    {
        xmlids_per_module.insert(row.get::<_, String>(0), row.get::<_, i64>(1));
    }
    Ok(OdooCatalog {
        models,
        sequences,
        xmlids_per_module,
    })
}

/// The columns of `ir_model_fields` that the catalog reads, in the order of its query.
const FIELD_COLUMNS: [&str; 11] = [
    "model",
    "name",
    "ttype",
    "relation",
    "relation_table",
    "column1",
    "column2",
    "store",
    "required",
    "company_dependent",
    "translate",
];

/// Odoo's models and their fields; their tables are assigned once PostgreSQL's catalog is read.
async fn load_models(client: &impl GenericClient) -> Result<BTreeMap<String, Model>> {
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    for row in client
        .query(include_str!("../../sql/catalog/models.sql"), &[])
        .await
        .context("cannot read ir_model")?
    {
        let json: Value = row.get(0);
        let name = text(&json, "model").unwrap_or_default();
        models.insert(
            name.clone(),
            Model {
                custom: text(&json, "state").as_deref() == Some("manual") || name.starts_with("x_"),
                name,
                table: None,
                transient: truthy(&json, "transient"),
                fields: BTreeMap::new(),
            },
        );
    }
    // Read as text, NULL where this version's table lacks the column (company_dependent is 17+;
    // translate turned from boolean into varchar in 18): a row as JSON would read any version
    // too, but converting every field to JSON took 80–100 ms of the catalog's time.
    let present: HashSet<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute \
             WHERE attrelid = 'public.ir_model_fields'::regclass AND attnum > 0 AND NOT attisdropped",
            &[],
        )
        .await
        .context("cannot read the columns of ir_model_fields")?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let columns: Vec<String> = FIELD_COLUMNS
        .iter()
        .map(|column| {
            if present.contains(*column) {
                format!("f.{}::text", quote_ident(column))
            } else {
                "NULL::text".to_string()
            }
        })
        .collect();
    let query =
        include_str!("../../sql/catalog/fields.sql").replace("{columns}", &columns.join(", "));
    for row in client
        .query(&query, &[])
        .await
        .context("cannot read ir_model_fields")?
    {
        let value = |column: &str| -> Option<String> {
            let index = FIELD_COLUMNS.iter().position(|c| *c == column)?;
            row.get::<_, Option<String>>(index)
                .filter(|v| !v.is_empty())
        };
        let flag = |column: &str| value(column).is_some_and(|v| v != "false");
        let model_name = value("model").unwrap_or_default();
        let field = Field {
            name: value("name").unwrap_or_default(),
            ttype: value("ttype").unwrap_or_default(),
            relation: value("relation"),
            relation_table: value("relation_table"),
            column1: value("column1"),
            column2: value("column2"),
            store: flag("store"),
            required: flag("required"),
            company_dependent: flag("company_dependent"),
            translate: flag("translate"),
            selection: Vec::new(),
        };
        if let Some(model) = models.get_mut(&model_name) {
            model.fields.insert(field.name.clone(), field);
        }
    }
    for row in client
        .query(
            "SELECT f.model, f.name, s.value FROM ir_model_fields_selection s \
             JOIN ir_model_fields f ON f.id = s.field_id ORDER BY f.model, f.name, s.sequence, s.value",
            &[],
        )
        .await
        .context("cannot read ir_model_fields_selection")?
    {
        let model: String = row.get(0);
        let field: String = row.get(1);
        if let Some(field) = models
            .get_mut(&model)
            .and_then(|m| m.fields.get_mut(&field))
        {
            field.selection.push(row.get(2));
        }
    }
    Ok(models)
}

/// Odoo does not record a model's table in its catalog. The table is the model name with dots turned
/// into underscores unless the model declares another one (`ir.actions.server` → `ir_act_server`);
/// those are found from the foreign keys that many2one fields pointing at the model created.
fn assign_tables(models: &mut BTreeMap<String, Model>, tables: &BTreeMap<String, Table>) {
    let mut from_foreign_keys: HashMap<String, String> = HashMap::new();
    for model in models.values() {
        let Some(own_table) = tables.get(&model.name.replace('.', "_")) else {
            continue;
        };
        for field in model.fields.values() {
            if field.ttype != "many2one" || !field.store {
                continue;
            }
            let (Some(relation), Some(fk)) = (
                &field.relation,
                own_table
                    .foreign_keys
                    .iter()
                    .find(|fk| fk.columns.len() == 1 && fk.columns[0] == field.name),
            ) else {
                continue;
            };
            from_foreign_keys
                .entry(relation.clone())
                .or_insert_with(|| fk.referenced_table.clone());
        }
    }
    // A model may keep its rows in the table of a many2many (a list subscription in
    // `mailing_contact_list_rel`): a relation table with an id and every stored column of the model.
    let relation_tables: Vec<String> = models
        .values()
        .flat_map(|m| m.fields.values())
        .filter(|f| f.ttype == "many2many")
        .filter_map(|f| f.relation_table.clone())
        .collect();
    for model in models.values_mut() {
        if model.fields.values().all(|f| !f.store) {
            continue;
        }
        let conventional = model.name.replace('.', "_");
        model.table = if tables.contains_key(&conventional) {
            Some(conventional)
        } else {
            from_foreign_keys
                .get(&model.name)
                .filter(|t| tables.contains_key(*t))
                .cloned()
                .or_else(|| holding_relation_table(model, &relation_tables, tables))
        };
    }
}

/// The many2many table that holds a model's rows: it has an `id` column and a column for every
/// stored field of the model.
fn holding_relation_table(
    model: &Model,
    relation_tables: &[String],
    tables: &BTreeMap<String, Table>,
) -> Option<String> {
    let columns: Vec<&str> = model
        .fields
        .values()
        .filter(|f| f.store && !matches!(f.ttype.as_str(), "one2many" | "many2many"))
        .map(|f| f.name.as_str())
        .collect();
    if !columns.contains(&"id") {
        return None;
    }
    relation_tables
        .iter()
        .find(|name| {
            tables
                .get(*name)
                .is_some_and(|t| columns.iter().all(|c| t.has_column(c)))
        })
        .cloned()
}

fn text(json: &Value, key: &str) -> Option<String> {
    match json.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn truthy(json: &Value, key: &str) -> bool {
    match json.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty() && s != "false",
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

fn is_lock_timeout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|c| c.code() == "55P03")
    })
}

/// Tables of this database that another session holds locked against reading.
pub async fn locked_tables(client: &impl GenericClient) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT DISTINCT c.relname::text FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid() \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Quotes an SQL identifier the way PostgreSQL's `quote_ident` does, for every name read from a catalog.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' {
            quoted.push('"');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Quotes a string literal for the rare statements that cannot take parameters (COPY, DDL).
pub fn quote_literal(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push('\'');
        }
        quoted.push(c);
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("x_a\"b c"), "\"x_a\"\"b c\"");
        assert_eq!(quote_literal("l'été"), "'l''été'");
    }
}
