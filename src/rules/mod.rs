//! The migration knowledge carried as data: the rules files (TOML) that say how Odoo 16 data becomes
//! Odoo 19 data — module fates, model and table renames, how each target column gets its value,
//! which models are only matched, natural keys — loaded from the default pack shipped with the tool
//! and from the user's files, which add to it or override it.
//!
//! A rules file that does not parse, has a key this version does not know, a column rule whose keys
//! contradict each other, or says otherwise than an earlier user's file about a model's, table's
//! or column's name or value, is refused with the file and the line, before anything runs; so is,
//! once both catalogs are read ([`Rules::check_names`]), an entry that names a model, table or
//! column that does not exist (or a module not installed where the rule needs it), at the line of
//! the key that names it.

pub mod pairing;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::io::exit::{Status, refuse};

/// The default 16 → 19 pack, compiled into the binary so that it always matches the tool's version.
const DEFAULT_PACK: &[(&str, &str)] = &[
    (
        "rules/16-19/modules.toml",
        include_str!("../../rules/16-19/modules.toml"),
    ),
    (
        "rules/16-19/models.toml",
        include_str!("../../rules/16-19/models.toml"),
    ),
    (
        "rules/16-19/base.toml",
        include_str!("../../rules/16-19/base.toml"),
    ),
    (
        "rules/16-19/payment.toml",
        include_str!("../../rules/16-19/payment.toml"),
    ),
    (
        "rules/16-19/partner.toml",
        include_str!("../../rules/16-19/partner.toml"),
    ),
    (
        "rules/16-19/accounting.toml",
        include_str!("../../rules/16-19/accounting.toml"),
    ),
    (
        "rules/16-19/product.toml",
        include_str!("../../rules/16-19/product.toml"),
    ),
    (
        "rules/16-19/stock.toml",
        include_str!("../../rules/16-19/stock.toml"),
    ),
    (
        "rules/16-19/sale_purchase.toml",
        include_str!("../../rules/16-19/sale_purchase.toml"),
    ),
    (
        "rules/16-19/mail.toml",
        include_str!("../../rules/16-19/mail.toml"),
    ),
];

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
    /// Leave the column to the target's default (or NULL).
    #[serde(default)]
    pub skip: bool,
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
                "xmlid" => self.xmlid.is_some(),
                _ => false,
            })
            .collect()
    }

    /// Where the column's value comes from, as written (`from = "x"`, `sql = "…"`, …), when the
    /// rule says.
    fn value_source(&self) -> Option<String> {
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
type ColumnNotes = BTreeMap<String, String>;

/// All rules in force: the default pack with the user's files applied over it.
#[derive(Debug, Default)]
pub struct Rules {
    pub modules: BTreeMap<String, ModuleRule>,
    pub models: BTreeMap<String, ModelRule>,
    pub tables: BTreeMap<String, TableRule>,
    pub xmlids: Vec<XmlidRule>,
    pub relations: Vec<RelationRule>,
    pub company_copies: Vec<CompanyCopyRule>,
    pub dropped_everywhere: BTreeMap<String, String>,
    /// Where each rule came from, for reports: "models.mail.channel" → "rules/16-19/models.toml".
    pub origins: BTreeMap<String, String>,
    /// Where each entry of the user's files is written, as `file:line`: keys `models.<model>`,
    /// `models.<model>.columns.<column>`, `tables.<table>`, `relations.<from>.<to>`.
    pub locations: BTreeMap<String, String>,
    /// What the user's files set so far, for [`Rules::conflicts_with`]: key (`models.<model>.rename`,
    /// `models.<model>.columns.<column>`, …) → (what it is set to, `file:line`).
    user_settings: BTreeMap<String, (String, String)>,
}

impl Rules {
    /// Loads the default pack and then each user file, in order; later files override earlier ones
    /// entry by entry, except that two of the user's files may not give a model, table or column
    /// two different names or values: that is refused with both places.
    pub fn load(user_files: &[PathBuf]) -> Result<Rules> {
        let mut rules = Rules::default();
        for (name, text) in DEFAULT_PACK {
            rules.merge(parse(name, text)?, name);
        }
        let mut problems = Vec::new();
        for path in user_files {
            let text = std::fs::read_to_string(path).map_err(|error| {
                refuse(
                    Status::Usage,
                    format!("cannot read the rules file {}: {error}", path.display()),
                )
            })?;
            let name = path.display().to_string();
            let file = parse(&name, &text)?;
            let lines = locate(&text);
            problems.extend(rules.conflicts_with(&name, &lines, &file));
            rules.record_locations(&name, &lines, &file);
            rules.merge(file, &name);
        }
        problems.extend(rules.carried_by_problems());
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(refuse(Status::Usage, problems.join("\n")))
        }
    }

    /// What a user's file says that an earlier user's file (or an earlier entry of the same list)
    /// already said otherwise: a model or table renamed twice differently, a model given two
    /// tables, a column given its value two different ways, the same external ids renamed to two
    /// names, one relation written twice differently. Each is named at its line here and at the
    /// earlier one.
    fn conflicts_with(
        &mut self,
        name: &str,
        lines: &BTreeMap<Vec<String>, usize>,
        file: &RulesFile,
    ) -> Vec<String> {
        // (what is set, as a key; where it is in the file; what it is; what it is set to)
        let mut settings: Vec<(String, Vec<&str>, String, String)> = Vec::new();
        fn set<'a>(
            settings: &mut Vec<(String, Vec<&'a str>, String, String)>,
            path: Vec<&'a str>,
            what: String,
            value: String,
        ) {
            settings.push((path.join("."), path, what, value));
        }
        for (model, rule) in &file.models {
            if let Some(rename) = &rule.rename {
                set(
                    &mut settings,
                    vec!["models", model, "rename"],
                    format!("model {model} is renamed"),
                    format!("to \"{rename}\""),
                );
            }
            if let Some(table) = &rule.table {
                set(
                    &mut settings,
                    vec!["models", model, "table"],
                    format!("model {model} is written"),
                    format!("into table {table}"),
                );
            }
        }
        for (table, rule) in &file.tables {
            if let Some(rename) = &rule.rename {
                set(
                    &mut settings,
                    vec!["tables", table, "rename"],
                    format!("table {table} is renamed"),
                    format!("to {rename}"),
                );
            }
        }
        let columns = file
            .models
            .iter()
            .map(|(m, r)| ("models", m, &r.columns))
            .chain(file.tables.iter().map(|(t, r)| ("tables", t, &r.columns)));
        for (section, owner, columns) in columns {
            for (column, rule) in columns {
                if let Some(source) = rule.value_source() {
                    set(
                        &mut settings,
                        vec![section, owner, "columns", column],
                        format!("column {column} of {owner} gets its value"),
                        format!("from `{source}`"),
                    );
                }
            }
        }
        // `[[xmlids]]` and `[[relations]]` entries are a list: the same external ids or the same
        // pair of tables given twice, in one file or two, must say the same.
        let positions: Vec<String> = (0..file.xmlids.len().max(file.relations.len()))
            .map(|i| i.to_string())
            .collect();
        for (rule, index) in file.xmlids.iter().zip(&positions) {
            let mut models = rule.models.clone();
            models.sort();
            let names = rule.name.as_deref().unwrap_or("*");
            let prefixed = if rule.company_prefixed {
                " (company-prefixed)"
            } else {
                ""
            };
            settings.push((
                format!(
                    "xmlids {}.{names}{prefixed} [{}]",
                    rule.module,
                    models.join(",")
                ),
                vec!["xmlids#", index],
                format!(
                    "external ids {}.{names}{prefixed}{} become",
                    rule.module,
                    if models.is_empty() {
                        String::new()
                    } else {
                        format!(" of {}", models.join(", "))
                    }
                ),
                format!(
                    "{}.{}",
                    rule.to_module.as_deref().unwrap_or(&rule.module),
                    rule.to_name.as_deref().unwrap_or(names)
                ),
            ));
        }
        for (rule, index) in file.relations.iter().zip(&positions) {
            let columns: Vec<String> = rule
                .columns
                .iter()
                .map(|(column, c)| {
                    let keys: Vec<String> = c
                        .value_source()
                        .into_iter()
                        .chain(
                            c.references
                                .as_ref()
                                .map(|r| format!("references = \"{r}\"")),
                        )
                        .collect();
                    format!("{column} = {{ {} }}", keys.join(", "))
                })
                .collect();
            settings.push((
                format!("relations {} {}", rule.from, rule.to),
                vec!["relations#", index],
                format!("the relation from {} to {} is", rule.from, rule.to),
                format!(
                    "filtered by `{}` with `{}`",
                    rule.filter.as_deref().unwrap_or("true"),
                    columns.join("; ")
                ),
            ));
        }
        let mut problems = Vec::new();
        for (key, path, what, value) in settings {
            let here = line_in(name, lines, &path);
            match self.user_settings.get(&key) {
                Some((earlier, there)) if *earlier != value => problems.push(format!(
                    "rules file {here}: conflicting rules: {what} {value} here but {earlier} at {there}; keep one of them"
                )),
                Some(_) => {}
                None => {
                    self.user_settings.insert(key, (value, here));
                }
            }
        }
        problems
    }

    /// Remembers where the entries of a user's file are written, for the errors of
    /// [`Rules::check_names`]: an entry at its first place, what it sets at the place in force
    /// (the last file that sets it).
    fn record_locations(
        &mut self,
        name: &str,
        lines: &BTreeMap<Vec<String>, usize>,
        file: &RulesFile,
    ) {
        let xmlids_before = self.xmlids.len();
        for (path, line) in lines {
            let here = format!("{name}:{line}");
            let is_section = |s: &String| s == "models" || s == "tables";
            match path.as_slice() {
                [section, module] if section == "modules" => {
                    self.locations
                        .entry(format!("modules.{module}"))
                        .or_insert(here);
                }
                [section, module, what] if section == "modules" => {
                    self.locations
                        .insert(format!("modules.{module}.{what}"), here);
                }
                [section, owner] if is_section(section) => {
                    self.locations
                        .entry(format!("{section}.{owner}"))
                        .or_insert(here);
                }
                [section, owner, what] if is_section(section) && what != "columns" => {
                    self.locations
                        .insert(format!("{section}.{owner}.{what}"), here);
                }
                [section, owner, kind, column]
                    if is_section(section)
                        && (kind == "columns" || kind == "dropped" || kind == "carried_by") =>
                {
                    self.locations
                        .insert(format!("{section}.{owner}.{kind}.{column}"), here);
                }
                [section, index] if section == "relations#" => {
                    if let Some(rule) = index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| file.relations.get(i))
                    {
                        self.locations
                            .insert(format!("relations.{}.{}", rule.from, rule.to), here);
                    }
                }
                [section, index] if section == "xmlids#" => {
                    if let Ok(index) = index.parse::<usize>() {
                        self.locations
                            .insert(format!("xmlids.{}", xmlids_before + index), here);
                    }
                }
                _ => {}
            }
        }
    }

    /// The `file:line` of a rule key, or of the nearest entry that holds it (`models.x.natural_key`
    /// falls back to `models.x`); the key itself when no user's file wrote it.
    fn location_of(&self, key: &str) -> String {
        let mut candidate = key;
        loop {
            if let Some(at) = self.locations.get(candidate) {
                return at.clone();
            }
            match candidate.rsplit_once('.') {
                Some((parent, _)) => candidate = parent,
                None => return key.to_string(),
            }
        }
    }

    /// Checks the entries of the user's files against both databases, before anything runs: every
    /// model, table and column they name must exist where the rule reads or writes it, and no two
    /// models may become the same model. All problems are reported at once, each with its file and
    /// line.
    pub fn check_names(&self, source: &Catalog, target: &Catalog) -> Result<()> {
        let mut problems: Vec<String> = Vec::new();
        let mut report = |key: &str, message: String| {
            problems.push(format!("rules file {}: {message}", self.location_of(key)));
        };
        for (module, rule) in &self.modules {
            let key = format!("modules.{module}");
            if !self.locations.contains_key(&key) {
                continue;
            }
            if !source.modules.contains_key(module) {
                report(
                    &key,
                    format!(
                        "module {module} is not installed in the source database; check its technical name"
                    ),
                );
            }
            for (what, name) in [
                ("renamed_to", &rule.renamed_to),
                ("merged_into", &rule.merged_into),
            ] {
                if let Some(name) = name
                    && !target.modules.contains_key(name)
                {
                    report(
                        &format!("{key}.{what}"),
                        format!(
                            "`{what} = \"{name}\"`: module {name} is not installed in the target database; its external ids could not be found there, so {module}'s records would be created again instead of matched"
                        ),
                    );
                }
            }
        }
        let target_columns = |table: &str| -> Option<Vec<&str>> {
            target
                .tables
                .get(table)
                .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
        };
        for (name, rule) in &self.models {
            let model_key = format!("models.{name}");
            let user_columns: Vec<(&String, &ColumnRule)> = rule
                .columns
                .iter()
                .filter(|(column, _)| {
                    self.locations
                        .contains_key(&format!("{model_key}.columns.{column}"))
                })
                .collect();
            if !self.locations.contains_key(&model_key) && user_columns.is_empty() {
                continue;
            }
            let Some(source_model) = source.models.get(name) else {
                report(
                    &model_key,
                    format!(
                        "model {name} is not in the source database (not in its ir_model); check the model's Odoo 16 name"
                    ),
                );
                continue;
            };
            if rule.policy == Some(Policy::Skip) {
                continue;
            }
            let target_name = rule.rename.as_deref().unwrap_or(name);
            let target_table = rule
                .table
                .clone()
                .or_else(|| target.models.get(target_name).and_then(|m| m.table.clone()));
            let Some(target_table) = target_table else {
                report(
                    &format!("{model_key}.rename"),
                    format!(
                        "model {target_name} (what {name} becomes) has no table in the target database; check `rename` and `table`"
                    ),
                );
                continue;
            };
            let Some(columns) = target_columns(&target_table) else {
                let key = if rule.table.is_some() {
                    format!("{model_key}.table")
                } else {
                    format!("{model_key}.rename")
                };
                report(
                    &key,
                    format!("table {target_table} does not exist in the target database"),
                );
                continue;
            };
            let natural_key_key = format!("{model_key}.natural_key");
            if self.locations.contains_key(&natural_key_key) {
                for column in rule.natural_key.iter().flatten() {
                    if !columns.contains(&column.as_str()) {
                        report(
                            &natural_key_key,
                            format!(
                                "`natural_key`: column {column} does not exist in the target table {target_table}; a natural key names target columns"
                            ),
                        );
                    }
                }
            }
            let source_columns: Vec<&str> = source_model
                .table
                .as_ref()
                .and_then(|t| source.tables.get(t))
                .map(|t| t.columns.iter().map(|c| c.name.as_str()).collect())
                .unwrap_or_default();
            for (column, column_rule) in user_columns {
                let key = format!("{model_key}.columns.{column}");
                if !columns.contains(&column.as_str()) {
                    report(
                        &key,
                        format!(
                            "column {column} of {name} does not exist in the target table {target_table}; rules name target columns"
                        ),
                    );
                }
                if let Some(from) = &column_rule.from
                    && !source_columns.contains(&from.as_str())
                {
                    report(
                        &key,
                        format!(
                            "`from = \"{from}\"`: the source table of {name} has no column {from}"
                        ),
                    );
                }
                if let Some(model) = &column_rule.references
                    && !source.models.contains_key(model)
                {
                    report(
                        &key,
                        format!(
                            "`references = \"{model}\"`: model {model} is not in the source database; name the Odoo 16 model whose ids the value holds"
                        ),
                    );
                }
                if let Some(model) = &column_rule.keyed_by
                    && !source.models.contains_key(model)
                {
                    report(
                        &key,
                        format!(
                            "`keyed_by = \"{model}\"`: model {model} is not in the source database; name the Odoo 16 model whose ids key the object"
                        ),
                    );
                }
                if let Some(field) = &column_rule.property
                    && !source_model.fields.contains_key(field)
                {
                    report(
                        &key,
                        format!(
                            "`property = \"{field}\"`: {name} has no field {field} in the source database"
                        ),
                    );
                }
            }
            for (kind, entries) in [("dropped", &rule.dropped), ("carried_by", &rule.carried_by)] {
                for problem in
                    self.lost_column_problems(&model_key, kind, entries, &source_columns, &columns)
                {
                    report(&problem.0, problem.1);
                }
            }
        }
        // Two source models that would become one target model would write the same rows twice.
        let mut becomes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for name in source.models.keys() {
            let rule = self.models.get(name);
            if rule.and_then(|r| r.policy) == Some(Policy::Skip) {
                continue;
            }
            becomes
                .entry(self.model_in_target(name))
                .or_default()
                .push(name);
        }
        for (target_model, sources) in becomes {
            let written_by_user: Vec<&&str> = sources
                .iter()
                .filter(|s| self.locations.contains_key(&format!("models.{s}")))
                .collect();
            if sources.len() > 1 && !written_by_user.is_empty() {
                // Named at the rule that renames, when the user wrote one.
                let culprit = written_by_user
                    .iter()
                    .find(|s| self.models.get(***s).is_some_and(|r| r.rename.is_some()))
                    .unwrap_or(&written_by_user[0]);
                let key = format!("models.{culprit}.rename");
                report(
                    &key,
                    format!(
                        "conflicting rules: {} would all become {target_model}; rename one of them elsewhere or skip it",
                        sources.join(" and ")
                    ),
                );
            }
        }
        // Two source tables that a user's `table` or `rename` sends into one target table.
        let mut written_into: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
        for pair in crate::rules::pairing::pair_tables(source, target, self) {
            let Some(target_table) = pair.target_table.filter(|_| pair.policy != Policy::Skip)
            else {
                continue;
            };
            let key = match pair.kind {
                crate::rules::pairing::TableKind::Model => pair
                    .source_model
                    .as_ref()
                    .filter(|m| self.models.get(*m).is_some_and(|r| r.table.is_some()))
                    .map(|m| format!("models.{m}.table")),
                crate::rules::pairing::TableKind::Relation => self
                    .tables
                    .get(&pair.source_table)
                    .filter(|r| r.rename.is_some())
                    .map(|_| format!("tables.{}.rename", pair.source_table)),
            }
            .filter(|k| self.locations.contains_key(k));
            written_into
                .entry(target_table)
                .or_default()
                .push((pair.source_table, key));
        }
        for (target_table, sources) in written_into {
            if sources.len() < 2 {
                continue;
            }
            if let Some(key) = sources.iter().find_map(|(_, key)| key.clone()) {
                let names: Vec<&str> = sources.iter().map(|(t, _)| t.as_str()).collect();
                report(
                    &key,
                    format!(
                        "conflicting rules: source tables {} would all be written into {target_table}; give one of them another target table or skip it",
                        names.join(" and ")
                    ),
                );
            }
        }
        for (name, rule) in &self.tables {
            let key = format!("tables.{name}");
            if !self.locations.contains_key(&key) {
                continue;
            }
            let Some(source_table) = source.tables.get(name) else {
                report(&key, format!("table {name} is not in the source database"));
                continue;
            };
            let target_table = rule.rename.as_deref().unwrap_or(name);
            match target_columns(target_table) {
                None if !rule.skip => report(
                    &format!("{key}.rename"),
                    format!("table {target_table} does not exist in the target database"),
                ),
                None => {}
                Some(columns) => {
                    let source_columns: Vec<&str> = source_table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect();
                    for (kind, entries) in
                        [("dropped", &rule.dropped), ("carried_by", &rule.carried_by)]
                    {
                        for problem in self.lost_column_problems(
                            &key,
                            kind,
                            entries,
                            &source_columns,
                            &columns,
                        ) {
                            report(&problem.0, problem.1);
                        }
                    }
                    for (column, column_rule) in &rule.columns {
                        let column_key = format!("{key}.columns.{column}");
                        if !columns.contains(&column.as_str()) {
                            report(
                                &column_key,
                                format!(
                                    "column {column} does not exist in the target table {target_table}"
                                ),
                            );
                        }
                        if let Some(from) = &column_rule.from
                            && !source_table.columns.iter().any(|c| c.name == *from)
                        {
                            report(
                                &column_key,
                                format!(
                                    "`from = \"{from}\"`: the source table {name} has no column {from}"
                                ),
                            );
                        }
                        if let Some(model) = &column_rule.references
                            && !source.models.contains_key(model)
                        {
                            report(
                                &column_key,
                                format!(
                                    "`references = \"{model}\"`: model {model} is not in the source database; name the Odoo 16 model whose ids the value holds"
                                ),
                            );
                        }
                    }
                }
            }
        }
        for relation in &self.relations {
            let key = format!("relations.{}.{}", relation.from, relation.to);
            if !self.locations.contains_key(&key) {
                continue;
            }
            if !source.tables.contains_key(&relation.from) {
                report(
                    &key,
                    format!(
                        "`from`: table {} is not in the source database",
                        relation.from
                    ),
                );
            }
            match target_columns(&relation.to) {
                None => report(
                    &key,
                    format!("`to`: table {} is not in the target database", relation.to),
                ),
                Some(columns) => {
                    for (column, column_rule) in &relation.columns {
                        if !columns.contains(&column.as_str()) {
                            report(
                                &key,
                                format!(
                                    "column {column} does not exist in the target table {}",
                                    relation.to
                                ),
                            );
                        }
                        if let Some(model) = &column_rule.references
                            && !source.models.contains_key(model)
                        {
                            report(
                                &key,
                                format!(
                                    "column {column}: `references = \"{model}\"`: model {model} is not in the source database"
                                ),
                            );
                        }
                    }
                }
            }
        }
        for (index, rule) in self.xmlids.iter().enumerate() {
            let key = format!("xmlids.{index}");
            if !self.locations.contains_key(&key) {
                continue;
            }
            for model in &rule.models {
                if !source.models.contains_key(model) {
                    report(
                        &key,
                        format!(
                            "`models`: model {model} is not in the source database; external id rules name Odoo 16 models"
                        ),
                    );
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(refuse(Status::Usage, problems.join("\n")))
        }
    }

    /// The user's `dropped` or `carried_by` entries (`kind`) of one model or relation table that
    /// name no column the target lost: a column the source does not have, or one the target still
    /// has (it is copied; `skip` on the target column leaves it empty). Each as (rule key,
    /// message).
    fn lost_column_problems(
        &self,
        owner_key: &str,
        kind: &str,
        dropped: &BTreeMap<String, String>,
        source_columns: &[&str],
        target_columns: &[&str],
    ) -> Vec<(String, String)> {
        dropped
            .keys()
            .filter_map(|column| {
                let key = format!("{owner_key}.{kind}.{column}");
                if !self.locations.contains_key(&key) {
                    return None;
                }
                let message = if !source_columns.contains(&column.as_str()) {
                    format!("`{kind}`: the source table has no column {column}")
                } else if target_columns.contains(&column.as_str()) {
                    format!(
                        "`{kind}`: the target table still has a column {column}, so its values are copied; to leave it empty write `columns.{column} = {{ skip = true }}`"
                    )
                } else {
                    return None;
                };
                Some((key, message))
            })
            .collect()
    }

    /// Applies a file over the rules so far: a model or table named again keeps what the new file
    /// does not set, and its columns are replaced one by one.
    fn merge(&mut self, file: RulesFile, origin: &str) {
        for (name, rule) in file.modules {
            self.origins
                .insert(format!("modules.{name}"), origin.to_string());
            self.modules.insert(name, rule);
        }
        for (name, rule) in file.models {
            self.record_origins(
                &format!("models.{name}"),
                &rule.dropped,
                &rule.carried_by,
                origin,
            );
            let merged = self.models.entry(name).or_default();
            merged.rename = rule.rename.or(merged.rename.take());
            merged.table = rule.table.or(merged.table.take());
            merged.policy = rule.policy.or(merged.policy);
            merged.natural_key = rule.natural_key.or(merged.natural_key.take());
            merged.on_match = rule.on_match.or(merged.on_match);
            merged.shared_match |= rule.shared_match;
            merged.note = rule.note.or(merged.note.take());
            merged.columns.extend(rule.columns);
            merged.post_sql.extend(rule.post_sql);
            merged.not_in_target.extend(rule.not_in_target);
            merged.dropped.extend(rule.dropped);
            merged.carried_by.extend(rule.carried_by);
        }
        for column in file.dropped_everywhere.keys() {
            self.origins
                .insert(format!("dropped_everywhere.{column}"), origin.to_string());
        }
        self.dropped_everywhere.extend(file.dropped_everywhere);
        self.xmlids.extend(file.xmlids);
        for relation in file.relations {
            self.origins.insert(
                format!("relations.{}.{}", relation.from, relation.to),
                origin.to_string(),
            );
            self.relations
                .retain(|r| !(r.from == relation.from && r.to == relation.to));
            self.relations.push(relation);
        }
        for copy in file.company_copies {
            self.origins
                .insert(format!("company_copies.{}", copy.model), origin.to_string());
            self.company_copies.retain(|c| c.model != copy.model);
            self.company_copies.push(copy);
        }
        for (name, rule) in file.tables {
            self.record_origins(
                &format!("tables.{name}"),
                &rule.dropped,
                &rule.carried_by,
                origin,
            );
            let merged = self.tables.entry(name).or_default();
            merged.rename = rule.rename.or(merged.rename.take());
            merged.skip |= rule.skip;
            merged.note = rule.note.or(merged.note.take());
            merged.columns.extend(rule.columns);
            merged.dropped.extend(rule.dropped);
            merged.carried_by.extend(rule.carried_by);
        }
    }

    /// Where a model's or relation table's rule (`owner_key`, `models.<model>` or
    /// `tables.<table>`) and each of its `dropped` and `carried_by` entries come from.
    fn record_origins(
        &mut self,
        owner_key: &str,
        dropped: &ColumnNotes,
        carried_by: &ColumnNotes,
        origin: &str,
    ) {
        self.origins
            .insert(owner_key.to_string(), origin.to_string());
        for (kind, columns) in [("dropped", dropped), ("carried_by", carried_by)] {
            for column in columns.keys() {
                self.origins
                    .insert(format!("{owner_key}.{kind}.{column}"), origin.to_string());
            }
        }
    }

    /// The `dropped` and `carried_by` entries of the rule of `owner_key` (`models.<model>` or
    /// `tables.<table>`), when there is one.
    fn lost_columns(&self, owner_key: &str) -> Option<(&ColumnNotes, &ColumnNotes)> {
        match owner_key.split_once('.')? {
            ("models", model) => self.models.get(model).map(|r| (&r.dropped, &r.carried_by)),
            ("tables", table) => self.tables.get(table).map(|r| (&r.dropped, &r.carried_by)),
            _ => None,
        }
    }

    /// The column rule (`<model>.<target column>`) that reads a source column Odoo 19 moved to
    /// another model, and the file that says so.
    pub fn carried_column(&self, owner_key: &str, column: &str) -> Option<(&str, &str)> {
        let by = self.lost_columns(owner_key)?.1.get(column)?;
        Some((
            by.as_str(),
            self.origin(&format!("{owner_key}.carried_by.{column}"))?,
        ))
    }

    /// The `carried_by` entries (of every file) whose rule does not exist or does not name the
    /// column in its SQL: such an entry would claim data is carried that is not.
    fn carried_by_problems(&self) -> Vec<String> {
        let entries = self
            .models
            .iter()
            .map(|(m, r)| ("models", m, &r.carried_by))
            .chain(
                self.tables
                    .iter()
                    .map(|(t, r)| ("tables", t, &r.carried_by)),
            );
        let mut problems = Vec::new();
        for (section, owner, carried) in entries {
            for (column, by) in carried {
                let key = format!("{section}.{owner}.carried_by.{column}");
                let rule = by.rsplit_once('.').and_then(|(model, target_column)| {
                    self.models.get(model)?.columns.get(target_column)
                });
                let reads = rule
                    .and_then(|r| r.sql.as_deref())
                    .is_some_and(|sql| names_word(sql, column));
                if !reads {
                    let at = if self.locations.contains_key(&key) {
                        self.location_of(&key)
                    } else {
                        format!("{} ({key})", self.origin(&key).unwrap_or("?"))
                    };
                    problems.push(format!(
                        "rules file {at}: `carried_by.{column} = \"{by}\"`: no column rule {by} (`<odoo 16 model>.<target column>`) whose `sql` reads {column}; name the rule that carries it, or list it under `dropped`"
                    ));
                }
            }
        }
        problems
    }

    /// Why a source column that Odoo 19 lost is left behind, and the file that says so: the rule
    /// of its model (or relation table), else `dropped_everywhere`.
    pub fn dropped_column(&self, owner_key: &str, column: &str) -> Option<(&str, &str)> {
        let own = self
            .lost_columns(owner_key)
            .and_then(|(dropped, _)| dropped.get(column));
        let (reason, key) = match own {
            Some(reason) => (reason, format!("{owner_key}.dropped.{column}")),
            None => (
                self.dropped_everywhere.get(column)?,
                format!("dropped_everywhere.{column}"),
            ),
        };
        Some((reason.as_str(), self.origin(&key)?))
    }

    /// The name a source module has in Odoo 19: itself, its new name, or the module it merged into.
    /// `None` when the module was removed.
    pub fn module_in_target<'a>(&'a self, module: &'a str) -> Option<&'a str> {
        match self.modules.get(module) {
            Some(rule) if rule.removed => None,
            Some(rule) => Some(
                rule.renamed_to
                    .as_deref()
                    .or(rule.merged_into.as_deref())
                    .unwrap_or(module),
            ),
            None => Some(module),
        }
    }

    /// The external id a source record is looked up by in the target — the first xmlid rule that
    /// concerns it, else the module rename — and whether its name starts with a company id that
    /// must follow the company's mapping (`company_prefixed` rules).
    pub fn xmlid_rule_in_target(
        &self,
        model: &str,
        module: &str,
        name: &str,
    ) -> Option<(String, String, bool)> {
        if let Some((rule, (module, name))) = self
            .xmlids
            .iter()
            .rev()
            .find_map(|rule| rule.apply(model, module, name).map(|found| (rule, found)))
        {
            return Some((module, name, rule.company_prefixed));
        }
        self.module_in_target(module)
            .map(|m| (m.to_string(), name.to_string(), false))
    }

    /// Source model → Odoo 19 model, for the models the rules rename.
    pub fn renamed_models(&self) -> BTreeMap<String, String> {
        self.models
            .iter()
            .filter_map(|(from, rule)| rule.rename.as_ref().map(|to| (from.clone(), to.clone())))
            .collect()
    }

    /// The Odoo 19 name of a source model.
    pub fn model_in_target<'a>(&'a self, model: &'a str) -> &'a str {
        self.models
            .get(model)
            .and_then(|rule| rule.rename.as_deref())
            .unwrap_or(model)
    }

    pub fn model(&self, model: &str) -> Option<&ModelRule> {
        self.models.get(model)
    }

    /// Where the rule of `key` (e.g. `models.mail.channel`) was written, for reports.
    pub fn origin(&self, key: &str) -> Option<&str> {
        self.origins.get(key).map(String::as_str)
    }
}

/// Parses one rules file; a syntax error, an unknown key or a column rule whose keys contradict
/// each other is reported with the file and line.
pub fn parse(name: &str, text: &str) -> Result<RulesFile> {
    let file = parse_toml(name, text)?;
    let lines = locate(text);
    let line_of = |path: &[&str]| line_in(name, &lines, path);
    let mut problems = Vec::new();
    let sections = file
        .models
        .iter()
        .map(|(m, r)| ("models", m, &r.columns))
        .chain(file.tables.iter().map(|(t, r)| ("tables", t, &r.columns)));
    for (section, owner, columns) in sections {
        for (column, rule) in columns {
            let sources = rule.keys_set(&["from", "sql", "property", "skip"]);
            let key_kinds = rule.keys_set(&["company_json", "keyed_by"]);
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
                let ignored =
                    rule.keys_set(&["value_map", "references", "company_json", "keyed_by"]);
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
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(refuse(Status::Usage, problems.join("\n")))
    }
}

/// Whether `text` holds `word` with no identifier character on either side.
fn names_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(is_ident)
            && !text[at + word.len()..].chars().next().is_some_and(is_ident)
    })
}

/// `file:line` of a key path in a file located by [`locate`], or of the nearest enclosing key that
/// is there; the file alone when none is.
fn line_in(name: &str, lines: &BTreeMap<Vec<String>, usize>, path: &[&str]) -> String {
    (1..=path.len())
        .rev()
        .find_map(|n| lines.get(&path[..n].iter().map(|p| p.to_string()).collect::<Vec<_>>()))
        .map_or_else(|| name.to_string(), |line| format!("{name}:{line}"))
}

/// The line (1-based) where each key path of a TOML text first appears: table headers
/// (`[models."res.partner"]`, the n-th `[[relations]]` as `relations#`, `n`) and dotted keys
/// (`columns.phone = …`) joined to the header above them. Lines inside multi-line values are not
/// keys and are left out.
fn locate(text: &str) -> BTreeMap<Vec<String>, usize> {
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
    fn the_default_pack_parses() {
        let rules = Rules::load(&[]).expect("default pack");
        assert_eq!(rules.module_in_target("web_editor"), Some("html_editor"));
        assert_eq!(rules.module_in_target("account_sequence"), Some("account"));
        assert_eq!(rules.model_in_target("mail.channel"), "discuss.channel");
        assert_eq!(rules.model_in_target("res.partner"), "res.partner");
    }

    #[test]
    fn company_prefixed_xmlids_follow_their_rule() {
        let file = parse(
            "t.toml",
            "[[xmlids]]\nmodels = [\"account.account\"]\nmodule = \"l10n_fr\"\ncompany_prefixed = true\nto_module = \"account\"\n",
        )
        .unwrap();
        let mut rules = Rules::default();
        rules.merge(file, "t.toml");
        assert_eq!(
            rules.xmlid_rule_in_target("account.account", "l10n_fr", "1_pcg_1011"),
            Some(("account".into(), "1_pcg_1011".into(), true))
        );
        assert_eq!(
            rules.xmlid_rule_in_target("account.account", "l10n_fr", "pcg_1011"),
            Some(("l10n_fr".into(), "pcg_1011".into(), false))
        );
        assert_eq!(
            rules.xmlid_rule_in_target("account.tax", "l10n_fr", "1_tva"),
            Some(("l10n_fr".into(), "1_tva".into(), false))
        );
    }

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

    /// Writes rules files of a test to a directory of its own, returning their paths.
    fn write_files(test: &str, files: &[(&str, &str)]) -> Vec<PathBuf> {
        let dir = std::env::temp_dir().join(format!("rules-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        files
            .iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text).expect("rules file written");
                path
            })
            .collect()
    }

    /// A catalog of models, each with its table and the columns of that table (also its fields).
    fn catalog(side: &'static str, models: &[(&str, &str, &[&str])]) -> Catalog {
        let mut catalog = Catalog {
            side,
            database: side.to_string(),
            base_version: String::new(),
            major: 0,
            modules: BTreeMap::new(),
            models: BTreeMap::new(),
            tables: BTreeMap::new(),
            loose_sequences: Vec::new(),
            xmlids_per_module: BTreeMap::new(),
        };
        for (model, table, columns) in models {
            let fields = columns
                .iter()
                .map(|c| {
                    let field = crate::catalog::Field {
                        name: c.to_string(),
                        ttype: "char".into(),
                        relation: None,
                        relation_table: None,
                        column1: None,
                        column2: None,
                        store: true,
                        required: false,
                        company_dependent: false,
                        translate: false,
                        selection: Vec::new(),
                    };
                    (c.to_string(), field)
                })
                .collect();
            catalog.models.insert(
                model.to_string(),
                crate::catalog::Model {
                    name: model.to_string(),
                    table: Some(table.to_string()),
                    transient: false,
                    custom: false,
                    fields,
                },
            );
            let columns = columns
                .iter()
                .enumerate()
                .map(|(i, c)| crate::catalog::Column {
                    name: c.to_string(),
                    position: i as i32 + 1,
                    data_type: "character varying".into(),
                    not_null: false,
                    default_expr: None,
                })
                .collect();
            catalog.tables.insert(
                table.to_string(),
                crate::catalog::Table {
                    name: table.to_string(),
                    columns,
                    primary_key: vec!["id".into()],
                    unique: Vec::new(),
                    foreign_keys: Vec::new(),
                    sequences: BTreeMap::new(),
                    row_count: 0,
                },
            );
        }
        catalog
    }

    #[test]
    fn two_files_renaming_one_model_or_column_differently_are_refused_with_both_places() {
        let paths = write_files(
            "conflict",
            &[
                (
                    "a.toml",
                    "[models.\"x.thing\"]\nrename = \"x.one\"\ncolumns.x_code = { from = \"x_ref\" }\n\n[tables.x_rel]\nrename = \"x_rel_a\"\n",
                ),
                (
                    "b.toml",
                    "# the same rules, written again elsewhere\n[models.\"x.thing\"]\nnatural_key = [\"x_code\"]\nrename = \"x.two\"\n\n[models.\"x.thing\".columns.x_code]\nsql = \"s.x_ref || 'b'\"\n[tables.x_rel]\nrename = \"x_rel_a\"\n",
                ),
            ],
        );
        let error = Rules::load(&paths).unwrap_err();
        assert_eq!(crate::io::exit::status_of(&error), Status::Usage);
        let message = error.to_string();
        let (a, b) = (paths[0].display(), paths[1].display());
        assert!(
            message.contains(&format!(
                "rules file {b}:4: conflicting rules: model x.thing is renamed to \"x.two\" here but to \"x.one\" at {a}:2; keep one of them"
            )),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "rules file {b}:6: conflicting rules: column x_code of x.thing gets its value from `sql = \"s.x_ref || 'b'\"` here but from `from = \"x_ref\"` at {a}:3"
            )),
            "{message}"
        );
        // The same rename written twice is no conflict.
        assert!(!message.contains("x_rel"), "{message}");
        assert_eq!(message.lines().count(), 2, "{message}");

        // A user's file still overrides the default pack.
        let paths = write_files(
            "override",
            &[(
                "c.toml",
                "[models.\"mail.channel\"]\nrename = \"mail.channel\"\n",
            )],
        );
        let rules = Rules::load(&paths).expect("overriding the default pack is allowed");
        assert_eq!(rules.model_in_target("mail.channel"), "mail.channel");
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn external_ids_or_relations_given_twice_differently_are_refused_with_both_places() {
        let paths = write_files(
            "lists",
            &[
                (
                    "a.toml",
                    "[[xmlids]]\nmodule = \"x_old\"\nname = \"tag_a\"\nto_module = \"x_new\"\n\n[[relations]]\nfrom = \"x_link\"\nto = \"x_pair_rel\"\ncolumns.a_id = { sql = \"s.a\", references = \"x.a\" }\n\n[[xmlids]]\nmodule = \"x_old\"\nname = \"tag_a\"\nto_module = \"x_other\"\n",
                ),
                (
                    "b.toml",
                    "[[relations]]\nfrom = \"x_link\"\nto = \"x_pair_rel\"\nfilter = \"s.a IS NOT NULL\"\ncolumns.a_id = { sql = \"s.a\", references = \"x.a\" }\n\n[[xmlids]]\nmodule = \"x_old\"\nname = \"tag_a\"\nto_module = \"x_new\"\n",
                ),
            ],
        );
        let message = Rules::load(&paths).unwrap_err().to_string();
        let (a, b) = (paths[0].display(), paths[1].display());
        assert_eq!(
            message,
            format!(
                "rules file {a}:11: conflicting rules: external ids x_old.tag_a become x_other.tag_a here but x_new.tag_a at {a}:1; keep one of them\n\
                 rules file {b}:1: conflicting rules: the relation from x_link to x_pair_rel is filtered by `s.a IS NOT NULL` with \
                 `a_id = {{ sql = \"s.a\", references = \"x.a\" }}` here but filtered by `true` with \
                 `a_id = {{ sql = \"s.a\", references = \"x.a\" }}` at {a}:6; keep one of them"
            )
        );
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn two_source_tables_sent_into_one_target_table_are_refused_at_the_rule() {
        let models: &[(&str, &str, &[&str])] = &[
            ("x.thing", "x_thing", &["id", "x_ref"]),
            ("x.other", "x_other", &["id", "x_ref"]),
        ];
        let (source, target) = (catalog("source", models), catalog("target", models));
        let paths = write_files(
            "tables",
            &[(
                "mine.toml",
                "[models.\"x.other\"]\nnote = \"ours\"\ntable = \"x_thing\"\n",
            )],
        );
        let rules = Rules::load(&paths).expect("the file parses");
        let message = rules.check_names(&source, &target).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "rules file {}:3: conflicting rules: source tables x_other and x_thing would all be written into x_thing; give one of them another target table or skip it",
                paths[0].display()
            )
        );
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn dropped_columns_must_be_columns_the_target_lost() {
        let source = catalog(
            "source",
            &[("x.thing", "x_thing", &["id", "x_old", "x_kept"])],
        );
        let target = catalog("target", &[("x.thing", "x_thing", &["id", "x_kept"])]);
        let paths = write_files(
            "dropped",
            &[(
                "mine.toml",
                "[models.\"x.thing\"]\ndropped.x_old = \"19 computes it\"\ndropped.x_kept = \"no\"\ndropped.x_never = \"no\"\n",
            )],
        );
        let rules = Rules::load(&paths).expect("the file parses");
        let message = rules.check_names(&source, &target).unwrap_err().to_string();
        let file = paths[0].display();
        assert_eq!(
            message,
            format!(
                "rules file {file}:3: `dropped`: the target table still has a column x_kept, so its values are copied; to leave it empty write `columns.x_kept = {{ skip = true }}`\n\
                 rules file {file}:4: `dropped`: the source table has no column x_never"
            )
        );
        assert_eq!(
            rules.dropped_column("models.x.thing", "x_old"),
            Some(("19 computes it", file.to_string().as_str()))
        );
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_carried_by_entry_must_name_a_rule_that_reads_the_column() {
        let paths = write_files(
            "carried",
            &[(
                "mine.toml",
                "[models.\"x.line\"]\ncarried_by.x_rate = \"x.head.x_rate\"\ncarried_by.x_days = \"x.head.x_rate\"\ncarried_by.x_gone = \"x.nowhere.x_gone\"\n\n[models.\"x.head\"]\ncolumns.x_rate = { sql = \"(SELECT l.x_rate FROM x_line l WHERE l.head_id = s.id)\" }\n",
            )],
        );
        let message = Rules::load(&paths).unwrap_err().to_string();
        let file = paths[0].display();
        assert_eq!(
            message,
            format!(
                "rules file {file}:3: `carried_by.x_days = \"x.head.x_rate\"`: no column rule x.head.x_rate (`<odoo 16 model>.<target column>`) whose `sql` reads x_days; name the rule that carries it, or list it under `dropped`\n\
                 rules file {file}:4: `carried_by.x_gone = \"x.nowhere.x_gone\"`: no column rule x.nowhere.x_gone (`<odoo 16 model>.<target column>`) whose `sql` reads x_gone; name the rule that carries it, or list it under `dropped`"
            )
        );
        let fine = write_files(
            "carried_fine",
            &[(
                "mine.toml",
                "[models.\"account.payment.term.line\"]\ncarried_by.discount_days = \"account.payment.term.discount_days\"\n",
            )],
        );
        let rules = Rules::load(&fine).expect("the rule it names exists in the default pack");
        assert_eq!(
            rules.carried_column("models.account.payment.term.line", "discount_days"),
            Some((
                "account.payment.term.discount_days",
                fine[0].display().to_string().as_str()
            ))
        );
        for path in paths.into_iter().chain(fine) {
            let _ = std::fs::remove_file(path);
        }
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
    fn names_that_do_not_exist_are_located_at_the_key_that_names_them() {
        let mut source = catalog(
            "source",
            &[
                ("res.partner", "res_partner", &["id", "name", "ref"]),
                ("x.thing", "x_thing", &["id", "x_ref"]),
            ],
        );
        source.modules.insert("x_module".into(), "16.0.1.0".into());
        let target = catalog(
            "target",
            &[
                ("res.partner", "res_partner", &["id", "name", "ref"]),
                ("x.thing", "x_thing", &["id", "x_code"]),
            ],
        );
        let paths = write_files(
            "names",
            &[
                (
                    "first.toml",
                    "[models.\"x.thing\"]\nnote = \"ours\"\n\n[modules.x_module]\nrenamed_to = \"x_gone\"\n\n[modules.x_never]\nremoved = true\n",
                ),
                (
                    "second.toml",
                    "[models.\"x.thing\"]\nnatural_key = [\"x_code\", \"x_nope\"]\ncolumns.x_code = { sql = \"s.x_ref\", references = \"x.gone\" }\n\n[models.\"res.partner\"]\non_match = \"keep\"\nrename = \"res.contact\"\n\n[[xmlids]]\nmodels = [\"x.missing\"]\nmodule = \"base\"\n\n[tables.x_thing_rel]\nskip = true\n",
                ),
            ],
        );
        let rules = Rules::load(&paths).expect("the files parse");
        let message = rules.check_names(&source, &target).unwrap_err().to_string();
        let (first, second) = (paths[0].display(), paths[1].display());
        for expected in [
            format!(
                "rules file {second}:2: `natural_key`: column x_nope does not exist in the target table x_thing"
            ),
            format!(
                "rules file {second}:3: `references = \"x.gone\"`: model x.gone is not in the source database"
            ),
            format!(
                "rules file {second}:7: model res.contact (what res.partner becomes) has no table in the target database"
            ),
            format!(
                "rules file {second}:9: `models`: model x.missing is not in the source database"
            ),
            format!("rules file {second}:13: table x_thing_rel is not in the source database"),
            format!(
                "rules file {first}:5: `renamed_to = \"x_gone\"`: module x_gone is not installed in the target database"
            ),
            format!("rules file {first}:7: module x_never is not installed in the source database"),
        ] {
            assert!(
                message.contains(&expected),
                "expected `{expected}` in {message}"
            );
        }
        assert_eq!(message.lines().count(), 7, "{message}");
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn a_syntax_error_is_reported_with_file_and_line() {
        let error = parse("bad.toml", "[modules.x]\nremoved = \n")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("rules file bad.toml:2:"), "{error}");
    }
}
