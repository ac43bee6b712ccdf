//! The sans-IO streaming engine: [`Encryptor`] and [`Decryptor`] take bytes in chunks of any
//! size and hand bytes back; they never block, await or do I/O. Drivers (the async client, the
//! CLI, the wasm bindings) move bytes and call keyrings.

mod decrypt;
mod encrypt;

pub use decrypt::{DecryptParams, DecryptState, Decryptor, OpenFrame, OpenJob, Opener};
pub use encrypt::{EncryptParams, Encryptor, SealJob};

/// Bytes a framed body takes (frames and final frame, no footer) for `plaintext_len` bytes in
/// frames of `frame_length`, as [`Encryptor`] writes it: a plaintext that fills its last frame
/// gets an empty final frame. Lets a driver size the whole result up front.
pub fn framed_body_len(frame_length: u32, plaintext_len: u64) -> Option<u64> {
    let f = u64::from(frame_length).max(1);
    // Frame: seq 4, IV 12, tag 16; final frame: also the 0xFFFFFFFF marker and a length, 4 each.
    (plaintext_len / f)
        .checked_mul(f + 32)?
        .checked_add(40 + plaintext_len % f)
}

/// The plaintext a framed body of `body_len` bytes holds, if that length is possible:
/// `k` full frames and a final frame of 0 to `frame_length` bytes (the one solution, since a
/// full frame is 32 bytes longer than the final frame's largest content).
pub fn framed_plaintext_len(frame_length: u32, body_len: u64) -> Option<u64> {
    let f = u64::from(frame_length);
    let rest = body_len.checked_sub(40)?;
    let (k, n) = (rest / (f + 32), rest % (f + 32));
    (n <= f).then(|| k * f + n)
}
