//! The sans-IO streaming engine: [`Encryptor`] and [`Decryptor`] take bytes in chunks of any
//! size and hand bytes back; they never block, await or do I/O. Drivers (the async client, the
//! CLI, the wasm bindings) move bytes and call keyrings.

mod decrypt;
mod encrypt;

pub use decrypt::{DecryptParams, DecryptState, Decryptor, OpenJob};
pub use encrypt::{EncryptParams, Encryptor, SealJob};
