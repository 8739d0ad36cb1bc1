//! Planning, before any row moves: the analysis of both catalogs under the rules (what differs and
//! what blocks), the copy plan of each table (columns, casts, rewrites) and the id plan (the target
//! id of every source record). Reads the databases, writes only the side schema.

pub mod analysis;
pub mod ids;
pub mod tables;
