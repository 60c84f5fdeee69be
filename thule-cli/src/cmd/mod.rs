//! One module per subcommand. Each exposes its clap `Args` and `run`.

pub mod diff;
pub mod render;
pub mod schema;
pub mod validate;
