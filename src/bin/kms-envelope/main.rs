//! `kms-envelope`: encrypt, decrypt and inspect AWS Encryption SDK messages from the shell.
//!
//! Streams (memory stays bounded by the frame length), writes output to a temporary file that
//! is renamed only on success, and reports failures as one line naming the error code.

#[cfg(not(target_arch = "wasm32"))]
mod app;
#[cfg(not(target_arch = "wasm32"))]
mod args;
#[cfg(not(target_arch = "wasm32"))]
mod io;
#[cfg(not(target_arch = "wasm32"))]
mod kms_args;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(app::run(std::env::args_os().skip(1).collect()));
}

// The CLI is native-only; this keeps `cargo build --target wasm32-unknown-unknown` working.
#[cfg(target_arch = "wasm32")]
fn main() {}
