//! Logging the way runc does it, because containerd and podman parse it:
//! `--log FILE` receives one line per message, `--log-format json` makes
//! each line `{"level":"error","msg":"…","time":"…"}`. Errors also go to
//! stderr, once, as a single line.
//!
//! It sits below every module that logs (cgroups, process, recorder,
//! ktrace, container…) and calls none of them; `cli` only configures it
//! from the flags, with [`init`], before the verb runs. Until then (and in
//! unit tests) a message goes to stderr as it is.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct LogConfig {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

static CONFIG: OnceLock<LogConfig> = OnceLock::new();

/// Set up logging. A `--log` that cannot take lines (a directory, a
/// missing directory, no permission) is an error now, not silence later:
/// the file is opened for appending, as each message will open it, and made
/// if missing — runc makes it at start too.
pub fn init(file: Option<PathBuf>, format: LogFormat, debug: bool) -> Result<(), String> {
    if let Some(path) = &file {
        open_log(path)
            .map_err(|e| format!("--log {}: {e}: give the path of a file to append log lines to", path.display()))?;
    }
    let _ = CONFIG.set(LogConfig { file, format, debug });
    Ok(())
}

fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

fn write(level: &str, msg: &str) {
    let Some(cfg) = CONFIG.get() else {
        eprintln!("glassbox: {level}: {msg}");
        return;
    };
    if level == "debug" && !cfg.debug {
        return;
    }
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let line = match cfg.format {
        LogFormat::Json => serde_json::json!({"level": level, "msg": msg, "time": time}).to_string(),
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}"),
    };
    match &cfg.file {
        Some(path) => match open_log(path) {
            Ok(mut f) => {
                let _ = writeln!(f, "{line}");
            }
            Err(e) => eprintln!("glassbox: cannot write log file {}: {e}", path.display()),
        },
        None if cfg.debug || level != "error" => eprintln!("{line}"),
        None => {}
    }
}

pub fn error(msg: &str) {
    write("error", msg);
    eprintln!("glassbox: error: {msg}");
}

pub fn warn(msg: &str) {
    write("warning", msg);
}

pub fn debug(msg: &str) {
    write("debug", msg);
}
