//! The rules file format: the TOML structs one file deserializes into, [`parse`] (refusing a
//! syntax error, an unknown key or a column rule whose keys contradict each other, with the file
//! and line), and [`locate`]/[`line_in`], the line where each key of a file is written. Knows
//! nothing of the default pack, of how files combine, or of the databases.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::io::exit::{Status, refuse};

/// One rules file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// What became of source modules: renamed, merged into another, or removed.
    #[serde(default)]
    pub modules: BTreeMap<String, ModuleRule>,
    /// Per source model (by its Odoo 16 name).
    #[serde(default)]
    pub models: BTreeMap<String, ModelRule>,
    /// Per source table that belongs to no model (many2many relation tables).
    #[serde(default)]
    pub tables: BTreeMap<String, TableRule>,
    /// External ids that changed module or name, beyond the module renames.
    #[serde(default)]
    pub xmlids: Vec<XmlidRule>,
    /// Many2many tables of the target filled from rows of the source (a many2one that became a
    /// many2many, a model that became a relation).
    #[serde(default)]
    pub relations: Vec<RelationRule>,
    /// Records that Odoo 16 shared between companies and Odoo 19 keeps one per company.
    #[serde(default)]
    pub company_copies: Vec<CompanyCopyRule>,
    /// Records of a target model made from rows of a source table, beside what that table's own
    /// model becomes (a mail alias per maintenance team, a stock move per repair line).
    #[serde(default)]
    pub derived: Vec<DerivedRule>,
    /// Source columns, by name, whose data Odoo 19 has no place for in any table that lost them
    /// (`message_main_attachment_id`), each with the reason.
    #[serde(default)]
    pub dropped_everywhere: BTreeMap<String, String>,
}

/// Records of `model` that Odoo 16 shared between companies while Odoo 19 gives each its
/// `company_id`: after the copy, each company whose created records point at a record of another
/// company gets its own copy (or the record of its own that the original's company-prefixed
/// external id names), and those references are moved to it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyCopyRule {
    /// The Odoo 16 model of the shared records.
    pub model: String,
    /// The models (Odoo 16 names) and target columns that point at them; their rows have a
    /// `company_id`.
    pub referrers: Vec<Referrer>,
    /// Target columns of a copy computed in the target by SQL over the original row `g` and the
    /// copy's company id `p.company`; other columns are those of the original.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referrer {
    pub model: String,
    pub column: String,
}

/// Rows of a source table (aliased `s`) that each become a record of a target model, with an id
/// mapping of their own under `name`: a column rule of any model says `references = "<name>"` to
/// point at the record made from a source row of that table (by its id). Only the columns given a
/// rule are written, besides the id and who and when created and wrote the source row.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedRule {
    /// The name of the id mapping, never a model's (`maintenance.team:alias`).
    pub name: String,
    /// The source table whose rows are read (as `s`).
    pub from: String,
    /// The Odoo 19 model the records are made of; its table receives them.
    pub model: String,
    /// A condition on the source rows: only those make a record.
    pub filter: Option<String>,
    /// `[model, column]`: when the source row's own record (of that Odoo 16 model, same id) is
    /// matched to a target record, the derived record is that target record's `column` (the
    /// alias a team Odoo 19 installed already has), not a new one.
    pub matched_through: Option<[String; 2]>,
    /// Each target column given a value: the same rules as a model's columns.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnRule>,
    /// Set-based SQL run in the target after the records are copied, in the same transaction.
    #[serde(default)]
    pub post_sql: Vec<String>,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

impl DerivedRule {
    /// The model rule the table plan reads the columns and post-copy SQL from.
    pub fn as_model_rule(&self) -> ModelRule {
        ModelRule {
            policy: Some(Policy::Migrate),
            columns: self.columns.clone(),
            post_sql: self.post_sql.clone(),
            ..ModelRule::default()
        }
    }
}

/// Rows of a source table (aliased `s`) that become pairs of a target many2many table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationRule {
    pub from: String,
    pub to: String,
    /// A condition on the source rows.
    pub filter: Option<String>,
    /// Each column of the target table: `sql` over `s` and the (Odoo 16) model its ids belong to.
    pub columns: BTreeMap<String, ColumnRule>,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

/// A change of external id: source `module.name` becomes `to_module.to_name` in the target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlidRule {
    /// Restrict to records of these (Odoo 16) models.
    #[serde(default)]
    pub models: Vec<String>,
    pub module: String,
    /// One exact name; without it every name of the module (of those models) is concerned.
    pub name: Option<String>,
    /// Only names of the form `<company id>_<rest>` (records a chart of accounts made per company).
    #[serde(default)]
    pub company_prefixed: bool,
    pub to_module: Option<String>,
    pub to_name: Option<String>,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

impl XmlidRule {
    /// The target external id of a source one, when this rule concerns it.
    pub fn apply(&self, model: &str, module: &str, name: &str) -> Option<(String, String)> {
        if module != self.module
            || (!self.models.is_empty() && !self.models.iter().any(|m| m == model))
            || self.name.as_deref().is_some_and(|n| n != name)
        {
            return None;
        }
        if self.company_prefixed {
            let (digits, rest) = name.split_once('_')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || rest.is_empty() {
                return None;
            }
        }
        Some((
            self.to_module.clone().unwrap_or_else(|| module.to_string()),
            self.to_name.clone().unwrap_or_else(|| name.to_string()),
        ))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleRule {
    pub renamed_to: Option<String>,
    pub merged_into: Option<String>,
    #[serde(default)]
    pub removed: bool,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

/// What the tool does with the records of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Match by external id or natural key; create the rest.
    Migrate,
    /// Match by external id or natural key; never create (module-owned metadata).
    MatchOnly,
    /// Neither match nor copy.
    Skip,
}

/// What happens to a target record that a source record was matched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMatch {
    Keep,
    Update,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRule {
    /// The model's name in Odoo 19.
    pub rename: Option<String>,
    /// The target table, when it is not derived from the (renamed) model name.
    pub table: Option<String>,
    pub policy: Option<Policy>,
    /// Columns that identify a record without external id in both databases (target column names).
    pub natural_key: Option<Vec<String>>,
    pub on_match: Option<OnMatch>,
    /// Odoo 19 has one record where 16 had several with the same natural key (a tax's two
    /// identical repartition lines): once the keys are matched one to one, the source records left
    /// over are matched to the target record of their key too, instead of being added beside it.
    #[serde(default)]
    pub shared_match: bool,
    /// How target columns get their values, by target column name.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnRule>,
    /// Set-based SQL run in the target after the model's rows are copied, in the same transaction.
    #[serde(default)]
    pub post_sql: Vec<String>,
    /// Set-based SQL run in the target once every table is copied (the finishing phase, after
    /// the keys are restored and the id sequences moved), for values derived from rows of other
    /// tables that must be migrated first (a stored value Odoo 19 computes from joined records).
    /// Runs again when a finish is resumed, so it must give the same result twice.
    #[serde(default)]
    pub final_sql: Vec<String>,
    /// Stored fields (by Odoo 19 name) whose value Odoo 19 would compute otherwise on some records
    /// and which the source's data cannot tell, or constraint methods (`_validate_…`) that such
    /// values break: `filter` (SQL over the target row `t`) says which records, `reason` why.
    /// `analyze` lists each as a `value_unknowable` finding, and the judge counts a recomputed
    /// difference (a failing constraint) on those records only as known, not as a failure.
    #[serde(default)]
    pub unknowable: BTreeMap<String, Unknowable>,
    /// External ids (`module.name`) of records that Odoo 19 deleted: unless the target has a
    /// counterpart of them, they are not created; each is listed in `odoo_migrate.problems` as
    /// `removed_in_target`, and references to them follow their column rules or become NULL.
    #[serde(default)]
    pub not_in_target: Vec<String>,
    /// Source columns that Odoo 19 has no column for and no rule carries elsewhere, each with the
    /// reason its data is left behind: `analyze` counts them as covered and names the reason,
    /// instead of listing them as lost without a word.
    #[serde(default)]
    pub dropped: BTreeMap<String, String>,
    /// Source columns that Odoo 19 moved to another model, each with the column rule that reads
    /// them there, as `<odoo 16 model>.<target column>` (a payment term line's discount is read by
    /// `account.payment.term.discount_percentage`). Checked at load: that rule must exist and its
    /// SQL must name the column.
    #[serde(default)]
    pub carried_by: BTreeMap<String, String>,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

/// Records of a model whose stored value of a field cannot be known from Odoo 16's data.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unknowable {
    /// SQL condition over the target row `t` that holds on exactly those records.
    pub filter: String,
    /// Why the value cannot be known, for the analysis and the judge's results.
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRule {
    pub rename: Option<String>,
    #[serde(default)]
    pub skip: bool,
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnRule>,
    /// As for models: source columns left behind, each with the reason.
    #[serde(default)]
    pub dropped: BTreeMap<String, String>,
    /// As for models: source columns read by another model's column rule.
    #[serde(default)]
    pub carried_by: BTreeMap<String, String>,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    /// The source column the value comes from, when it was renamed.
    pub from: Option<String>,
    /// An SQL expression over the source row (table alias `s`), evaluated in the source database.
    pub sql: Option<String>,
    /// Source value → target value, for selections whose keys changed.
    pub value_map: Option<BTreeMap<String, String>>,
    /// The model whose ids the value holds, when it is computed by `sql` and must be remapped.
    pub references: Option<String>,
    /// The value is a jsonb object keyed by company id (company-dependent fields of Odoo 18+): its
    /// keys are remapped as res.company ids, and its values as ids of `references` when given.
    #[serde(default)]
    pub company_json: bool,
    /// The value is a jsonb object keyed by ids of this model (an analytic distribution: account
    /// ids, several joined by commas in one key, to percentages): its keys are remapped as such,
    /// entries of records not migrated left out and reported.
    pub keyed_by: Option<String>,
    /// The value is a text list of ids of this model separated by commas (a variant's
    /// `combination_indices`, `3,7`, holds ids of its attribute values): each id is remapped as
    /// such and the list written sorted by id, as Odoo computes it; ids not migrated are left out
    /// and reported.
    pub id_list: Option<String>,
    /// The Odoo 16 field (of the rule's model) whose `ir_property` rows hold this company-dependent
    /// value: they become a jsonb object keyed by company id, a company's own row winning over the
    /// company-less one; read with one join per table, not a query per row. `value_map` applies to
    /// the values, `references` names the model of many2one values.
    pub property: Option<String>,
    /// With `property`: whether the 16 field's company-wide defaults (`ir_property` rows without a
    /// record) become `ir_default` rows of this column's field (the default), or are left out.
    #[serde(default = "yes")]
    pub company_default: bool,
    /// The value is the id of a record of the target named by an external id: the `module.name`
    /// that `sql` gives, when the target has it, else this one (which the target must have). For
    /// a many2one that 19 requires and whose record 16 did not have (a transaction's payment
    /// method, found from its provider).
    pub xmlid: Option<String>,
    /// The value is an id of a record of the model (its Odoo 16 name) that this source column of
    /// the same row holds: a polymorphic id besides the row's own `res_model`/`res_id` (a rating's
    /// `parent_res_id`, of its `parent_res_model`). Remapped through that model's mappings; an id
    /// of a record or model not migrated is written NULL and reported, the row is kept.
    pub model_in: Option<String>,
    /// Leave the column to the target's default (or NULL).
    #[serde(default)]
    pub skip: bool,
    /// The value written is completed by a `post_sql` (an id known only in the target, such as a
    /// mail alias's defaults naming its team): `verify` does not compare it with this rule's.
    #[serde(default)]
    pub set_by_post_sql: bool,
    /// For the people who read and write rules; the tool does not act on it.
    #[allow(dead_code)]
    pub note: Option<String>,
}

impl ColumnRule {
    /// The keys of `among` that this rule sets, in that order.
    fn keys_set(&self, among: &[&'static str]) -> Vec<&'static str> {
        among
            .iter()
            .copied()
            .filter(|key| match *key {
                "from" => self.from.is_some(),
                "sql" => self.sql.is_some(),
                "property" => self.property.is_some(),
                "skip" => self.skip,
                "value_map" => self.value_map.is_some(),
                "references" => self.references.is_some(),
                "company_json" => self.company_json,
                "keyed_by" => self.keyed_by.is_some(),
                "id_list" => self.id_list.is_some(),
                "xmlid" => self.xmlid.is_some(),
                "model_in" => self.model_in.is_some(),
                _ => false,
            })
            .collect()
    }

    /// Where the column's value comes from, as written (`from = "x"`, `sql = "…"`, …), when the
    /// rule says.
    pub(super) fn value_source(&self) -> Option<String> {
        if let Some(from) = &self.from {
            Some(format!("from = \"{from}\""))
        } else if let Some(sql) = &self.sql {
            Some(format!("sql = \"{sql}\""))
        } else if let Some(property) = &self.property {
            Some(format!("property = \"{property}\""))
        } else if self.skip {
            Some("skip = true".to_string())
        } else {
            None
        }
    }
}

/// Source column → what a rule says of it: why its data stays behind (`dropped`), or the column
/// rule that reads it (`carried_by`).
pub(super) type ColumnNotes = BTreeMap<String, String>;

/// Parses one rules file; a syntax error, an unknown key or a column rule whose keys contradict
/// each other is reported with the file and line.
pub(super) fn parse(name: &str, text: &str) -> Result<RulesFile> {
    let file = parse_toml(name, text)?;
    let lines = locate(text);
    let line_of = |path: &[&str]| line_in(name, &lines, path);
    let mut problems = Vec::new();
    let sections = file
        .models
        .iter()
        .map(|(m, r)| ("models", m, &r.columns))
        .chain(file.tables.iter().map(|(t, r)| ("tables", t, &r.columns)))
        .chain(
            file.derived
                .iter()
                .map(|d| ("derived", &d.name, &d.columns)),
        );
    for (section, owner, columns) in sections {
        for (column, rule) in columns {
            let sources = rule.keys_set(&["from", "sql", "property", "skip"]);
            let key_kinds = rule.keys_set(&["company_json", "keyed_by"]);
            let id_list_conflicts =
                rule.keys_set(&["references", "company_json", "keyed_by", "property"]);
            if rule.id_list.is_some() && !id_list_conflicts.is_empty() {
                problems.push(format!(
                    "rules file {}: conflicting rules for column {column} of {owner}: `id_list` remaps a list of ids, `{}` another kind of value; keep one",
                    line_of(&[section, owner, "columns", column]),
                    id_list_conflicts.join("` and `")
                ));
            }
            let model_in_conflicts = rule.keys_set(&[
                "references",
                "company_json",
                "keyed_by",
                "id_list",
                "property",
                "xmlid",
            ]);
            if rule.model_in.is_some() && !model_in_conflicts.is_empty() {
                problems.push(format!(
                    "rules file {}: conflicting rules for column {column} of {owner}: `model_in` remaps an id of the model its row names, `{}` another kind of value; keep one",
                    line_of(&[section, owner, "columns", column]),
                    model_in_conflicts.join("` and `")
                ));
            }
            if key_kinds.len() > 1 {
                problems.push(format!(
                    "rules file {}: conflicting rules for column {column} of {owner}: `company_json` keys the object by company, `keyed_by` by another model; keep one",
                    line_of(&[section, owner, "columns", column]),
                ));
            }
            if sources.len() > 1 {
                problems.push(format!(
                    "rules file {}: conflicting rules for column {column} of {owner}: `{}` each give its value; keep one",
                    line_of(&[section, owner, "columns", column]),
                    sources.join("` and `")
                ));
            } else if rule.xmlid.is_some() {
                let ignored = rule.keys_set(&[
                    "from",
                    "property",
                    "skip",
                    "value_map",
                    "references",
                    "company_json",
                    "keyed_by",
                    "id_list",
                ]);
                if !ignored.is_empty() {
                    problems.push(format!(
                        "rules file {}: conflicting rules for column {column} of {owner}: `xmlid` gives a target record's id, which `{}` cannot apply to; keep `xmlid` with `sql` only",
                        line_of(&[section, owner, "columns", column]),
                        ignored.join("` and `")
                    ));
                }
                if rule.xmlid.as_deref().is_some_and(|x| !x.contains('.')) {
                    problems.push(format!(
                        "rules file {}: column {column} of {owner}: `xmlid` must be a full external id, `module.name`",
                        line_of(&[section, owner, "columns", column]),
                    ));
                }
            } else if rule.skip {
                let ignored = rule.keys_set(&[
                    "value_map",
                    "references",
                    "company_json",
                    "keyed_by",
                    "id_list",
                ]);
                if !ignored.is_empty() {
                    problems.push(format!(
                        "rules file {}: conflicting rules for column {column} of {owner}: `skip` leaves it to the target's default, so `{}` would never apply; remove one",
                        line_of(&[section, owner, "columns", column]),
                        ignored.join("` and `")
                    ));
                }
            }
        }
    }
    refuse_problems(problems)?;
    Ok(file)
}

/// Nothing when no problem was found, else a usage refusal that lists them all, one a line.
pub(super) fn refuse_problems(problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(refuse(Status::Usage, problems.join("\n")))
    }
}

/// `file:line` of a key path in a file located by [`locate`], or of the nearest enclosing key that
/// is there; the file alone when none is.
pub(super) fn line_in(name: &str, lines: &BTreeMap<Vec<String>, usize>, path: &[&str]) -> String {
    (1..=path.len())
        .rev()
        .find_map(|n| lines.get(&path[..n].iter().map(|p| p.to_string()).collect::<Vec<_>>()))
        .map_or_else(|| name.to_string(), |line| format!("{name}:{line}"))
}

/// The line (1-based) where each key path of a TOML text first appears: table headers
/// (`[models."res.partner"]`, the n-th `[[relations]]` as `relations#`, `n`) and dotted keys
/// (`columns.phone = …`) joined to the header above them. Lines inside multi-line values are not
/// keys and are left out.
pub(super) fn locate(text: &str) -> BTreeMap<Vec<String>, usize> {
    let mut lines = BTreeMap::new();
    let mut current: Vec<String> = Vec::new();
    let mut arrays: BTreeMap<String, usize> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        if let Some(inner) = trimmed.strip_prefix("[[") {
            if let Some((path, rest)) = key_path(inner)
                && rest.trim_start().starts_with("]]")
            {
                let name = path.join(".");
                let count = arrays.entry(name.clone()).or_insert(0);
                current = vec![format!("{name}#"), count.to_string()];
                *count += 1;
                lines.entry(current.clone()).or_insert(number);
            }
        } else if let Some(inner) = trimmed.strip_prefix('[') {
            if let Some((path, rest)) = key_path(inner)
                && rest.trim_start().starts_with(']')
            {
                current = path;
                for n in 1..=current.len() {
                    lines.entry(current[..n].to_vec()).or_insert(number);
                }
            }
        } else if let Some((path, rest)) = key_path(trimmed)
            && rest.trim_start().starts_with('=')
        {
            let mut full = current.clone();
            full.extend(path);
            for n in 1..=full.len() {
                lines.entry(full[..n].to_vec()).or_insert(number);
            }
        }
    }
    lines
}

/// A dotted key at the start of `text` (bare or double-quoted parts), and what follows it.
fn key_path(text: &str) -> Option<(Vec<String>, &str)> {
    let mut parts = Vec::new();
    let mut rest = text.trim_start();
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"')?;
            parts.push(quoted[..end].to_string());
            rest = &quoted[end + 1..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            parts.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        rest = rest.trim_start();
        match rest.strip_prefix('.') {
            Some(after) => rest = after.trim_start(),
            None => return Some((parts, rest)),
        }
    }
}

fn parse_toml(name: &str, text: &str) -> Result<RulesFile> {
    toml::from_str::<RulesFile>(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text.get(..span.start).unwrap_or(text).matches('\n').count() + 1);
        let location = match line {
            Some(line) => format!("{name}:{line}"),
            None => name.to_string(),
        };
        refuse(
            Status::Usage,
            format!(
                "rules file {location}: {}",
                error.message().trim_end().replace('\n', " ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_reported_with_file_and_line() {
        let text = "[models.\"res.partner\"]\nrename = \"res.partner\"\nrenmae = 1\n";
        let error = parse("mine.toml", text).unwrap_err().to_string();
        assert!(error.starts_with("rules file mine.toml:3:"), "{error}");
        assert!(error.contains("renmae"), "{error}");
    }

    #[test]
    fn mangled_rules_files_are_refused_with_a_location_never_a_panic() {
        let base = "[modules.web_editor]\nrenamed_to = \"html_editor\"\n\n[models.\"res.partner\"]\nnatural_key = [\"ref\"]\ncolumns.x = { sql = \"1\" }\n\n[[xmlids]]\nmodule = \"l10n_fr\"\ncompany_prefixed = true\n";
        assert!(parse("base.toml", base).is_ok());
        let bytes = base.as_bytes();
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let noise = [
            '[', ']', '"', '=', '{', '}', '\n', ',', 'é', '\\', '#', ' ', 'x',
        ];
        for _ in 0..3_000 {
            let mut text: Vec<char> = String::from_utf8_lossy(bytes).chars().collect();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % text.len().max(1);
                match next() % 3 {
                    0 if !text.is_empty() => {
                        text.remove(at);
                    }
                    0 => {}
                    1 => text.insert(at, noise[(next() as usize) % noise.len()]),
                    _ => text.truncate(at),
                }
            }
            let text: String = text.into_iter().collect();
            if let Err(error) = parse("fuzz.toml", &text) {
                let message = error.to_string();
                assert!(message.starts_with("rules file fuzz.toml"), "{message}");
            }
        }
    }

    #[test]
    fn every_key_is_located_on_its_line() {
        let text = "# comment\n[models.\"res.partner\"]\nrename = \"res.partner\"\ncolumns.phone = { from = \"mobile\" }\npost_sql = [\n  \"UPDATE x SET a = b\",\n]\n\n[models.\"res.partner\".columns.ref]\nskip = true\n\n[[relations]]\nfrom = \"a\"\n[[relations]]\nfrom = \"b\"\n";
        let lines = locate(text);
        let at = |path: &[&str]| {
            lines
                .get(&path.iter().map(|p| p.to_string()).collect::<Vec<_>>())
                .copied()
        };
        assert_eq!(at(&["models", "res.partner"]), Some(2));
        assert_eq!(at(&["models", "res.partner", "rename"]), Some(3));
        assert_eq!(at(&["models", "res.partner", "columns", "phone"]), Some(4));
        assert_eq!(at(&["models", "res.partner", "columns", "ref"]), Some(9));
        assert_eq!(at(&["relations#", "1"]), Some(14));
        // The '=' inside the SQL string of a multi-line array is not a key.
        assert!(
            lines
                .keys()
                .all(|k| !k.iter().any(|p| p.contains("UPDATE")))
        );
    }

    #[test]
    fn a_column_rule_whose_keys_contradict_each_other_is_refused_with_its_line() {
        let text = "[models.\"res.partner\"]\ncolumns.ref = { skip = true }\ncolumns.phone = { from = \"mobile\", sql = \"s.mobile\" }\n";
        let error = parse("mine.toml", text).unwrap_err().to_string();
        assert!(
            error.starts_with("rules file mine.toml:3: conflicting rules for column phone of res.partner: `from` and `sql`"),
            "{error}"
        );
    }

    #[test]
    fn an_xmlid_column_rule_takes_only_sql_and_a_full_external_id() {
        let text = "[models.\"payment.token\"]\ncolumns.payment_method_id = { xmlid = \"payment.payment_method_unknown\", references = \"payment.method\" }\ncolumns.provider_id = { xmlid = \"unknown\" }\n";
        let error = parse("mine.toml", text).unwrap_err().to_string();
        assert!(
            error.contains("mine.toml:2: conflicting rules for column payment_method_id of payment.token: `xmlid` gives a target record's id, which `references` cannot apply to"),
            "{error}"
        );
        assert!(
            error.contains("mine.toml:3: column provider_id of payment.token: `xmlid` must be a full external id"),
            "{error}"
        );
        let fine = "[models.\"payment.token\"]\ncolumns.payment_method_id = { sql = \"'payment.x'\", xmlid = \"payment.payment_method_unknown\" }\n";
        assert!(parse("mine.toml", fine).is_ok());
    }

    #[test]
    fn a_skipped_column_with_a_value_rule_is_refused_with_its_line() {
        let text = "[tables.x_rel]\ncolumns.a = { from = \"b\" }\ncolumns.kind = { skip = true, value_map = { a = \"b\" } }\n";
        let error = parse("mine.toml", text).unwrap_err().to_string();
        assert!(
            error.starts_with("rules file mine.toml:3: conflicting rules for column kind of x_rel: `skip` leaves it to the target's default, so `value_map` would never apply"),
            "{error}"
        );
    }

    #[test]
    fn a_syntax_error_is_reported_with_file_and_line() {
        let error = parse("bad.toml", "[modules.x]\nremoved = \n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("rules file bad.toml:2:"), "{error}");
    }
}
