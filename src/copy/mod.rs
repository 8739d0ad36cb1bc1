//! Moving the data: the row stream of one table with its ids rewritten, and
//! what surrounds a bulk load in the target (secondary indexes set aside, foreign keys held and
//! proven, sequences and document numbering moved, company defaults and per-company copies,
//! attachment files). Each piece works on plans made by `plan`; none decides what to migrate.

pub mod company_copies;
pub mod defaults;
pub mod filestore;
pub mod indexes;
pub mod keys;
pub mod rows;
pub mod sequences;
