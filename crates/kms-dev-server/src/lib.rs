//! kms-dev-server: a development/test server for the AWS KMS JSON 1.1 API subset that boto3,
//! the AWS CLI, the AWS Encryption SDKs and browser clients use. Not for production keys.
//!
//! The pure parts (blob format, encryption-context serialization, ARN/alias resolution, key
//! state machine, SigV4, CORS, HTTP codec) are modules here so they can be unit-tested; the
//! command in [`cli`] only parses flags and starts [`server::Server`].

#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod blob;
pub mod cli;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod error;
pub mod fsutil;
pub mod http;
pub mod ids;
pub mod record;
pub mod server;
pub mod state;
pub mod store;
pub mod time;

#[cfg(test)]
pub(crate) mod testutil {
    use std::path::PathBuf;

    /// A fresh private directory under the system temp dir.
    pub fn scratch(name: &str) -> PathBuf {
        let r: [u8; 8] = crate::crypto::random().unwrap();
        let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let d = std::env::temp_dir().join(format!("kms-dev-server-test-{name}-{hex}"));
        crate::fsutil::create_dir_private(&d).unwrap();
        d
    }
}
