//! The `kms-dev-server` command: parse flags, open the data directory, print the ready line,
//! serve. The binary itself is the root package's `src/bin/kms-dev-server.rs`, so
//! `cargo run --bin kms-dev-server` works from the repository root while only the
//! `kms-envelope` library is a default workspace member (wasm-pack needs exactly one).

use std::io::Write;
use std::process::ExitCode;

use crate::config::{self, Command};
use crate::server::{Server, describe_alias};

/// Run the server with the process's arguments; returns the exit code.
pub fn run() -> ExitCode {
    let args: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let Ok(args) = args else {
        eprintln!("kms-dev-server: arguments must be valid UTF-8");
        return ExitCode::from(2);
    };
    let cfg = match config::parse_args(args) {
        Ok(Command::Run(cfg)) => cfg,
        Ok(Command::Help) => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("kms-dev-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kms-dev-server: {e}");
            return ExitCode::from(2);
        }
    };

    eprintln!("kms-dev-server: DEVELOPMENT/TEST KMS server. Do not protect real data with it.");
    eprintln!("kms-dev-server: data dir {}", cfg.data_dir.display());
    let (server, notes) = match Server::bind(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kms-dev-server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    for n in notes {
        eprintln!("kms-dev-server: {n}");
    }
    let app = server.app();
    for alias in &cfg.seed_keys {
        match app.seed(alias) {
            Ok(Some(arn)) => eprintln!("kms-dev-server: seeded {alias} -> {arn}"),
            Ok(None) => eprintln!(
                "kms-dev-server: {alias} -> {}",
                describe_alias(&app, alias).unwrap_or_default()
            ),
            Err(e) => {
                eprintln!("kms-dev-server: --seed-key {alias}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let auth = match (cfg.access_keys.is_empty(), cfg.bearer_token.is_some()) {
        (true, false) => "none required (SigV4 headers are parsed, not verified)".to_owned(),
        (false, false) => format!(
            "SigV4 verified against {} access key(s)",
            cfg.access_keys.len()
        ),
        (true, true) => "bearer token required".to_owned(),
        (false, true) => format!(
            "bearer token or SigV4 with {} access key(s)",
            cfg.access_keys.len()
        ),
    };
    eprintln!(
        "kms-dev-server: auth: {auth}; CORS origins: {}",
        cfg.allow_origins.join(" ")
    );
    let addr = match server.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kms-dev-server: cannot read the listening address: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let ready = writeln!(
        out,
        "kms-dev-server ready on http://{addr} (region {}, account {})",
        cfg.region, cfg.account_id
    )
    .and_then(|()| out.flush());
    drop(out);
    if let Err(e) = ready {
        eprintln!("kms-dev-server: cannot write the ready line: {e}");
    }
    server.run();
    ExitCode::SUCCESS
}
