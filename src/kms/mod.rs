//! Talking to a KMS-compatible endpoint (AWS KMS JSON 1.1 API): AWS KMS, moto, LocalStack
//! and the dev KMS server.
//!
//! Sans-IO layers: [`request`] builds bodies and requests, [`sigv4`] signs, [`response`]
//! parses and classifies, [`retry`] decides backoff; only a [`Transport`] does I/O
//! (`NativeTransport` natively, `fetch` in the browser). [`KmsClient`] ties them together
//! and records [`Metrics`].

pub mod arn;
pub mod auth;
mod client;
mod error;
/// The browser/worker/Node `fetch` transport (wasm bindings only).
#[cfg(all(target_arch = "wasm32", feature = "wasm"))]
pub mod fetch;
pub(crate) mod json;
pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod request;
pub mod response;
pub mod retry;
pub mod sigv4;
pub mod transport;

pub use arn::{KmsArn, ResourceType};
pub use auth::{Auth, Credentials, CredentialsProvider, FnCredentials, ProxyAuth};
pub use client::KmsClient;
pub use error::{KmsError, KmsErrorKind};
pub use metrics::{CacheStats, Metrics, MetricsSnapshot, OpStats};
#[cfg(not(target_arch = "wasm32"))]
pub use native::NativeTransport;
pub use request::{Endpoint, Operation};
pub use response::{DecryptOutput, EncryptOutput, GenerateDataKeyOutput};
pub use retry::{DEFAULT_TIMEOUT, RetryPolicy};
pub use transport::{
    CancelToken, FetchCredentials, HttpRequest, HttpResponse, KmsFuture, Transport,
};
