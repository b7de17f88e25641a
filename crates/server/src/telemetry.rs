//! Structured logging with `tracing`.

use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

/// Installs the global subscriber: `RUST_LOG` if set, else the configured filter; JSON lines
/// when asked. Safe to call twice (the second call is ignored).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    let _ = if settings.json { builder.json().try_init() } else { builder.try_init() };
}
