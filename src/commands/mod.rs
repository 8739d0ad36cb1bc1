//! One thin file per subcommand: each turns the command line into the plain options of the stage
//! it runs, calls it, and renders the result. Only this folder, `cli` and `main` know `Cli`.

pub mod analyze;
pub mod config;
pub mod rehearse;
pub mod rollback;
pub mod run;
pub mod status;
pub mod verify;
