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
//!
//! This file owns the [`Rules`] type and its look-ups; `format` the TOML structs and parsing,
//! `pack` the default pack and how files load and merge, `conflicts` what files say against each
//! other, `checks` the names checked against both catalogs, `pairing` source and target tables.
//! Rules may read the catalogs (`catalog`, `io`), never a stage above them.

mod checks;
mod conflicts;
mod format;
mod pack;
pub mod pairing;

use std::collections::BTreeMap;

use format::ColumnNotes;
pub use format::{
    ColumnRule, CompanyCopyRule, DerivedRule, ModelRule, ModuleRule, OnMatch, Policy, RelationRule,
    TableRule, XmlidRule,
};
// Unit tests elsewhere build company-copy rules of their own.
#[cfg(test)]
pub use format::Referrer;

/// All rules in force: the default pack with the user's files applied over it.
#[derive(Debug, Default)]
pub struct Rules {
    pub modules: BTreeMap<String, ModuleRule>,
    pub models: BTreeMap<String, ModelRule>,
    pub tables: BTreeMap<String, TableRule>,
    pub xmlids: Vec<XmlidRule>,
    pub relations: Vec<RelationRule>,
    pub company_copies: Vec<CompanyCopyRule>,
    pub derived: Vec<DerivedRule>,
    /// The model rule of each derived record set, by its mapping's name (`derived.name`).
    derived_models: BTreeMap<String, ModelRule>,
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
    /// The `file:line` of a rule key, or of the nearest entry that holds it (`models.x.natural_key`
    /// falls back to `models.x`); the key itself when no user's file wrote it.
    pub(super) fn location_of(&self, key: &str) -> String {
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

    /// The rule of a model, or of a derived record set by its mapping's name.
    pub fn model(&self, model: &str) -> Option<&ModelRule> {
        self.models
            .get(model)
            .or_else(|| self.derived_models.get(model))
    }

    /// The derived record set whose id mapping is called `name`.
    pub fn derived(&self, name: &str) -> Option<&DerivedRule> {
        self.derived.iter().find(|d| d.name == name)
    }

    /// Where the rule of `key` (e.g. `models.mail.channel`) was written, for reports.
    pub fn origin(&self, key: &str) -> Option<&str> {
        self.origins.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod testing;
