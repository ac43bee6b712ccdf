//! `kms-dev-server`: the development KMS (crates/kms-dev-server), runnable from the repository
//! root with `cargo run --release --bin kms-dev-server -- --listen 127.0.0.1:PORT --data-dir DIR`.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    kms_dev_server::cli::run()
}

// Native-only; this keeps `cargo build --target wasm32-unknown-unknown` working.
#[cfg(target_arch = "wasm32")]
fn main() {}
