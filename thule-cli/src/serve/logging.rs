//! Log lines on stderr through `tracing`: text or JSON, filtered by `RUST_LOG` (default
//! `info`). What the service logs names forges, delivery ids, repositories, merge requests,
//! heads and outcomes; never a header value, a token or a secret.

use tracing_subscriber::EnvFilter;

use crate::serve::settings::LogFormat;

/// Install the process's log subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}
