//! The copy plan of each table: which target columns are written, the SQL that reads their values
//! from the source (cast to the target's types, so that binary COPY needs no conversion), and how
//! each value is rewritten on the way (ids through the mappings, polymorphic pairs, `model,id`
//! references, company-keyed jsonb). Built from the catalogs and the rules, checked against the
//! source before anything is written.
//!
//! Split by concern: `columns` plans the columns of a model or many2many table, `sql` writes the
//! SQL pieces they read through (conversions, value maps, the `ir_property` join). Reads the
//! catalogs and the rules only; touches no database.

mod columns;
mod sql;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::catalog::{Catalog, quote_ident};
use crate::rules::pairing::{TableKind, TablePair};
use crate::rules::{OnMatch, Policy, Rules};

/// How one output value is produced from the fields read from the source.
#[derive(Debug, Clone, Serialize)]
pub enum Output {
    /// The field as read.
    Copy { field: usize },
    /// The row's own id, replaced by its planned target id.
    OwnId { field: usize },
    /// An id of `model`, replaced by its mapped id; NULL (and reported) when unmapped.
    Remap { field: usize, model: String },
    /// An id whose model is named by another field of the row: the record the row belongs to
    /// (`owner`: `res_model`/`res_id`), or another one a rule names (`model_in`).
    Polymorphic {
        field: usize,
        model_field: usize,
        owner: bool,
    },
    /// A `model,id` string.
    Reference { field: usize },
    /// A jsonb object keyed by ids of `key_model` (a company, for company-dependent values),
    /// values optionally ids of `value_model`.
    KeyedJson {
        field: usize,
        key_model: String,
        value_model: Option<String>,
    },
    /// A text list of ids of `model` separated by commas, each remapped, written sorted by id.
    IdList { field: usize, model: String },
    /// The target id of the external id (`module.name` text) read, or of `fallback` when the
    /// value is NULL or the target has no such external id.
    Xmlid { field: usize, fallback: String },
}

impl Output {
    pub fn field(&self) -> usize {
        match self {
            Output::Copy { field }
            | Output::OwnId { field }
            | Output::Remap { field, .. }
            | Output::Polymorphic { field, .. }
            | Output::Reference { field }
            | Output::KeyedJson { field, .. }
            | Output::IdList { field, .. }
            | Output::Xmlid { field, .. } => *field,
        }
    }
}

/// What to do with a record the target's users changed since the last sync when the source
/// changed it too (`run --catch-up --on-conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// The source's values win.
    Source,
    /// The target's values stay.
    Target,
    /// The table's copy fails, naming the conflicts; nothing of that table is written.
    Fail,
}

impl OnConflict {
    pub fn as_str(self) -> &'static str {
        match self {
            OnConflict::Source => "source",
            OnConflict::Target => "target",
            OnConflict::Fail => "fail",
        }
    }

    pub fn parse(text: &str) -> Option<OnConflict> {
        match text {
            "source" => Some(OnConflict::Source),
            "target" => Some(OnConflict::Target),
            "fail" => Some(OnConflict::Fail),
            _ => None,
        }
    }
}

/// A catch-up's copy of a table: the last sync's end and the conflict policy.
#[derive(Debug, Clone, Serialize)]
pub struct CatchUpCopy {
    /// When the last sync ended, as a UTC timestamp text (Odoo's `write_date` is UTC).
    pub since: String,
    pub on_conflict: OnConflict,
    /// For a many2many table: pairs that earlier runs added and the source no longer has are
    /// removed (false when several plans fill the table: none of them sees all its pairs).
    pub remove_vanished_pairs: bool,
    /// What of the source table is read again (see [`Reread`]).
    #[serde(skip)]
    pub reread: Reread,
}

/// What a catch-up reads again of a source table, from the rows' hashes at the last sync.
#[derive(Debug, Clone, Default)]
pub enum Reread {
    /// Every row (no hashes of the last sync, or too many rows differ).
    #[default]
    All,
    /// Only these source ids (sorted): new rows and rows whose values differ.
    Only(std::sync::Arc<Vec<i32>>),
    /// Nothing: the table reads as it did at the last sync.
    Nothing,
}

/// One target column and how it is filled.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnPlan {
    pub target_column: String,
    pub target_type: String,
    pub not_null: bool,
    pub output: Output,
    /// Completed by a `post_sql` after the copy: `verify` does not compare it.
    pub set_by_post_sql: bool,
}

/// Everything needed to copy one table.
#[derive(Debug, Clone, Serialize)]
pub struct TablePlan {
    /// What the run's checkpoints call this copy: the source table, or `from → to` for a derived
    /// relation.
    pub key: String,
    pub kind: TableKind,
    pub source_table: String,
    pub target_table: String,
    /// The Odoo 16 model of a model table; the owner model of a relation table.
    pub model: String,
    pub target_model: String,
    /// Expressions over the source row `s` (and the `joins`), in field order.
    pub select: Vec<String>,
    /// Joins that the expressions read from (company-dependent values from `ir_property`).
    pub joins: Vec<String>,
    pub columns: Vec<ColumnPlan>,
    pub on_match: OnMatch,
    pub post_sql: Vec<String>,
    /// The rules' SQL run once every table is copied (`final_sql`).
    pub final_sql: Vec<String>,
    pub rows: i64,
    /// An extra condition on the source rows (`rehearse` samples), built by the tool from ids.
    pub filter: Option<String>,
    /// `run --update`: write into records already migrated, never create.
    pub update_only: bool,
    /// `run --catch-up`: records created by earlier runs are updated where their values differ
    /// (records changed in the target since the last sync are conflicts), new ones inserted.
    pub catch_up: Option<CatchUpCopy>,
    /// Models (16 and 19 names) whose matched records take the source's values (`on_match =
    /// "update"`): a matched row of this table that belongs to one of them (`res_model`/`res_id`,
    /// such as the attachment of a company's logo) is updated too, whatever this table's own
    /// `on_match`.
    pub update_owners: Vec<String>,
    /// Records of a `[[derived]]` rule: copied once every table's own rows are in.
    pub derived: bool,
}

/// Plans made by hand, for the unit tests of the modules that read them.
#[cfg(test)]
impl TablePlan {
    /// A plan of `model` in table `t` with these columns, reading nothing beyond them.
    pub fn for_tests(kind: TableKind, model: &str, columns: Vec<ColumnPlan>) -> TablePlan {
        TablePlan {
            key: "t".to_string(),
            kind,
            source_table: "t".to_string(),
            target_table: "t".to_string(),
            model: model.to_string(),
            target_model: model.to_string(),
            select: Vec::new(),
            joins: Vec::new(),
            columns,
            on_match: crate::rules::OnMatch::Keep,
            post_sql: Vec::new(),
            final_sql: Vec::new(),
            rows: 0,
            filter: None,
            update_only: false,
            catch_up: None,
            update_owners: Vec::new(),
            derived: false,
        }
    }
}

#[cfg(test)]
impl ColumnPlan {
    /// An integer column filled as `output`.
    pub fn for_tests(name: &str, not_null: bool, output: Output) -> ColumnPlan {
        ColumnPlan {
            target_column: name.to_string(),
            target_type: "integer".to_string(),
            not_null,
            output,
            set_by_post_sql: false,
        }
    }
}

impl TablePlan {
    /// Whether a matched row is written over its target record.
    pub fn updates_match(&self, owner_model: Option<&[u8]>) -> bool {
        self.on_match == OnMatch::Update
            || owner_model
                .is_some_and(|owner| self.update_owners.iter().any(|m| m.as_bytes() == owner))
    }

    /// The field holding the model of the record the row belongs to, when it has one.
    pub fn owner_model_field(&self) -> Option<usize> {
        self.columns.iter().find_map(|c| match c.output {
            Output::Polymorphic {
                model_field,
                owner: true,
                ..
            } => Some(model_field),
            _ => None,
        })
    }
}

/// Which rows of a model table one read takes, in id order: those after `after` up to `upto`
/// (a slice's end), at most `limit` of them (a chunk). Relations are read whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub after: Option<i64>,
    pub upto: Option<i64>,
    pub limit: Option<i64>,
}

impl Span {
    /// Every row.
    pub const ALL: Span = Span {
        after: None,
        upto: None,
        limit: None,
    };
}

impl TablePlan {
    /// The statement that reads the table from the source, ordered by id for model tables.
    pub fn copy_out_sql(&self, span: Span) -> String {
        let mut sql = format!(
            "COPY (SELECT {} FROM {}",
            self.select.join(", "),
            self.source_from()
        );
        let mut conditions: Vec<String> = self.filter.iter().cloned().collect();
        match self.catch_up.as_ref().map(|c| &c.reread) {
            Some(Reread::Nothing) => conditions.push("false".to_string()),
            Some(Reread::Only(ids)) if self.kind == TableKind::Model => {
                let list: Vec<String> = ids.iter().map(i32::to_string).collect();
                conditions.push(format!("s.id = ANY('{{{}}}'::int[])", list.join(",")));
            }
            _ => {}
        }
        if self.kind == TableKind::Model {
            if let Some(after) = span.after {
                conditions.push(format!("s.id > {after}"));
            }
            if let Some(upto) = span.upto {
                conditions.push(format!("s.id <= {upto}"));
            }
        }
        if !conditions.is_empty() {
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        if self.kind == TableKind::Model {
            sql.push_str(" ORDER BY s.id");
            if let Some(limit) = span.limit {
                sql.push_str(&format!(" LIMIT {limit}"));
            }
        }
        sql.push_str(") TO STDOUT (FORMAT binary)");
        sql
    }

    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| quote_ident(&c.target_column))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The same SELECT without COPY, to check the plan against the source before running it.
    pub fn probe_sql(&self) -> String {
        format!(
            "SELECT {} FROM {} LIMIT 0",
            self.select.join(", "),
            self.source_from()
        )
    }

    /// What the `select` expressions read from: the source table as `s`, and the joins.
    pub fn source_from(&self) -> String {
        let mut from = format!("public.{} s", quote_ident(&self.source_table));
        for join in &self.joins {
            from.push(' ');
            from.push_str(join);
        }
        from
    }
}

/// The table pairs and the copy plans of a session's two catalogs under the rules.
pub fn for_session(
    session: &crate::catalog::session::Session,
    rules: &Rules,
) -> Result<(Vec<TablePair>, Vec<TablePlan>)> {
    let (source, target) = (&session.source_catalog, &session.target_catalog);
    let mut pairs = crate::rules::pairing::pair_tables(source, target, rules);
    pairs.extend(crate::rules::pairing::derived_pairs(source, target, rules));
    let plans = build(
        &session.source_catalog,
        &session.target_catalog,
        rules,
        &pairs,
    )?;
    Ok((pairs, plans))
}

/// Builds the plans of every table that is copied.
pub fn build(
    source: &Catalog,
    target: &Catalog,
    rules: &Rules,
    pairs: &[TablePair],
) -> Result<Vec<TablePlan>> {
    let renamed_models = rules.renamed_models();
    let mut plans = Vec::new();
    for pair in pairs {
        if pair.policy != Policy::Migrate || pair.transient {
            continue;
        }
        let Some(target_table_name) = &pair.target_table else {
            continue;
        };
        if pair.source_table == "ir_model_data" {
            continue;
        }
        let (Some(source_table), Some(target_table)) = (
            source.tables.get(&pair.source_table),
            target.tables.get(target_table_name),
        ) else {
            continue;
        };
        plans.push(columns::table_plan(
            source,
            rules,
            pair,
            source_table,
            target_table,
            &renamed_models,
        )?);
    }
    for rule in &rules.relations {
        // The pack serves databases with and without an app: a relation between tables one side
        // lacks has nothing to move.
        if !source.tables.contains_key(&rule.from) || !target.tables.contains_key(&rule.to) {
            continue;
        }
        plans.push(relation_plan(source, target, rule)?);
    }
    Ok(plans)
}

/// The plan of a `[[relations]]` rule: source rows become pairs of a target many2many table.
fn relation_plan(
    source: &Catalog,
    target: &Catalog,
    rule: &crate::rules::RelationRule,
) -> Result<TablePlan> {
    let origin = format!("relation rule {} → {}", rule.from, rule.to);
    let Some(source_table) = source.tables.get(&rule.from) else {
        bail!("{origin}: the source has no table {}", rule.from);
    };
    let Some(target_table) = target.tables.get(&rule.to) else {
        bail!("{origin}: the target has no table {}", rule.to);
    };
    let mut select = Vec::new();
    let mut columns = Vec::new();
    for (name, column) in &rule.columns {
        let Some(target_column) = target_table.column(name) else {
            bail!("{origin}: the target table has no column {name}");
        };
        let Some(sql) = &column.sql else {
            bail!("{origin}: column {name} needs `sql`");
        };
        let field = select.len();
        select.push(format!("({sql})::{}", target_column.data_type));
        columns.push(ColumnPlan {
            target_column: name.clone(),
            target_type: target_column.data_type.clone(),
            not_null: target_column.not_null,
            set_by_post_sql: column.set_by_post_sql,
            output: match &column.references {
                Some(model) => Output::Remap {
                    field,
                    model: model.clone(),
                },
                None => Output::Copy { field },
            },
        });
    }
    if columns.is_empty() {
        bail!("{origin}: no columns");
    }
    Ok(TablePlan {
        key: format!("{} → {}", rule.from, rule.to),
        kind: TableKind::Relation,
        source_table: rule.from.clone(),
        target_table: rule.to.clone(),
        model: rule.to.clone(),
        target_model: String::new(),
        select,
        joins: Vec::new(),
        columns,
        on_match: OnMatch::Keep,
        post_sql: Vec::new(),
        final_sql: Vec::new(),
        rows: source_table.row_count,
        filter: rule.filter.as_ref().map(|f| format!("({f})")),
        update_only: false,
        catch_up: None,
        update_owners: Vec::new(),
        derived: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_reads_the_ids_after_and_up_to_its_bounds_in_id_order() {
        let plan = TablePlan::for_tests(TableKind::Model, "m", Vec::new());
        let sql = plan.copy_out_sql(Span {
            after: Some(10),
            upto: Some(20),
            limit: Some(5),
        });
        assert!(
            sql.contains("WHERE s.id > 10 AND s.id <= 20 ORDER BY s.id LIMIT 5"),
            "{sql}"
        );
        let sql = plan.copy_out_sql(Span::ALL);
        assert!(!sql.contains("WHERE") && !sql.contains("LIMIT"), "{sql}");
        let relation = TablePlan::for_tests(TableKind::Relation, "m", Vec::new());
        let sql = relation.copy_out_sql(Span {
            after: Some(10),
            upto: Some(20),
            limit: Some(5),
        });
        assert!(!sql.contains("s.id") && !sql.contains("LIMIT"), "{sql}");
    }
}
