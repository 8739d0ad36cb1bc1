//! Plumbing every stage shares and none of them owns: exit statuses, connections, progress on a
//! terminal, rendering of reports, stop signals and fault points. Nothing here knows Odoo or the
//! migration's stages; it may not import any other folder of the crate.

pub mod codec;
pub mod connect;
pub mod exit;
pub mod fault;
pub mod pgpass;
pub mod progress;
pub mod report;
pub mod stop;
pub mod tls;
