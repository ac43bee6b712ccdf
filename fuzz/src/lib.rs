//! What the fuzz targets share: the fixed raw AES key, the oracles (properties every input must
//! satisfy; a violation panics, which libFuzzer reports as a crash), and the seed corpus.
//!
//! Seeds are written by any target started with `KMS_ENVELOPE_FUZZ_SEEDS=<corpus dir>` (it
//! writes `<dir>/<target>/…` for every target and exits before fuzzing): our own messages under
//! the fixed key (so the fuzzer starts deep inside valid messages), and one official ESDK
//! vector per suite plus the two non-framed ones from `$KMS_ENVELOPE_SHARED/vectors`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kms_envelope::crypto::{AesGcmKey, DataKey, SigningKey, open};
use kms_envelope::format::header::{IV_LEN, TAG_LEN};
use kms_envelope::format::{ContentType, ParsedHeader, Progress, parse_header};
use kms_envelope::keyring::{DecryptionMaterials, Keyring, MultiKeyring, RawAesKeyring};
use kms_envelope::stream::{Decryptor, EncryptParams, Encryptor, OpenFrame};
use kms_envelope::{
    AlgorithmSuite, Client, Decrypted, EncryptOptions, EncryptionContext, Error, Limits,
};

/// The raw AES keyring every decrypting target uses.
pub const NAMESPACE: &str = "kms-envelope-fuzz";
/// Its key name.
pub const KEY_NAME: &str = "fixed";
/// Its 256-bit wrapping key.
pub const KEY: [u8; 32] = *b"kms-envelope fuzz: fixed raw key";

/// The fixed keyring.
pub fn keyring() -> RawAesKeyring {
    RawAesKeyring::new(NAMESPACE, KEY_NAME, &KEY).expect("fixed keyring")
}

/// A decrypting client with default limits and policy around the fixed keyring.
pub fn client() -> Client {
    Client::new(Arc::new(keyring()))
}

/// Limits that let every length through, to reach code behind the default limits.
pub fn permissive() -> Limits {
    Limits {
        max_encrypted_data_keys: usize::from(u16::MAX),
        max_header_size: usize::MAX,
        max_frame_length: u32::MAX,
        max_body_size: None,
        max_context_size: usize::from(u16::MAX),
    }
}

fn known_code(e: &Error) {
    let code = e.code();
    assert!(Error::ALL_CODES.contains(&code), "unknown code {code}");
    // Display and Debug must not panic either.
    let _ = format!("{e} {e:?}");
}

// ---------------------------------------------------------------------------------------------
// header_parse

/// `parse_header` never panics; when it parses, the header is exactly the consumed bytes, the
/// limits hold, the parse does not depend on later bytes, every shorter prefix asks for more,
/// and serializing the fields gives back the consumed bytes (modulo a non-canonical context
/// encoding, which is then replaced by the canonical one and nothing else changes).
pub fn check_header(data: &[u8]) {
    for limits in [Limits::default(), permissive(), tight()] {
        match parse_header(data, &limits) {
            Err(e) => known_code(&e),
            Ok(Progress::NeedMore(n)) => assert!(n >= 1, "NeedMore(0)"),
            Ok(Progress::Done { value, consumed }) => check_parsed(data, &value, consumed, &limits),
        }
    }
}

fn check_parsed(data: &[u8], h: &ParsedHeader, consumed: usize, limits: &Limits) {
    let body = &h.body;
    let v1 = body.version() == 1;
    assert!(consumed <= data.len());
    assert_eq!(h.raw, &data[..consumed], "raw must be the consumed bytes");
    assert_eq!(h.body_len + if v1 { IV_LEN } else { 0 } + TAG_LEN, consumed);
    assert_eq!(h.body_bytes(), &h.raw[..h.body_len]);
    assert!(
        consumed <= limits.max_header_size,
        "header over max_header_size accepted"
    );
    let edks = body.encrypted_data_keys.len();
    assert!(edks >= 1 && edks <= limits.max_encrypted_data_keys);
    assert!(body.frame_length <= limits.max_frame_length);
    match body.content_type {
        ContentType::Framed => assert!(body.frame_length > 0),
        ContentType::NonFramed => assert_eq!(body.frame_length, 0),
    }
    assert_eq!(body.message_id.len(), body.suite.message_id_len());
    assert_eq!(body.suite_data.len(), body.suite.suite_data_len());
    if !v1 {
        assert_eq!(h.header_iv, [0; IV_LEN], "v2 header IV is zero");
    }

    // Independent of the bytes after the header.
    match parse_header(&data[..consumed], limits) {
        Ok(Progress::Done { value, consumed: c }) => {
            assert_eq!(c, consumed);
            assert_eq!(value.body, *body);
        }
        other => panic!("the header alone does not parse: {other:?}"),
    }
    // One byte short: asks for exactly what is missing.
    match parse_header(&data[..consumed - 1], limits) {
        Ok(Progress::NeedMore(n)) => assert_eq!(n, 1, "one byte short"),
        other => panic!("one byte short of a header: {other:?}"),
    }

    // Serialization round trip.
    let mut again = body.serialize().expect("a parsed header serializes");
    if v1 {
        again.extend_from_slice(&h.header_iv);
    }
    again.extend_from_slice(&h.header_tag);
    let ctx_len_at = if v1 { 4 } else { 3 } + body.suite.message_id_len();
    let ctx_len = usize::from(u16::from_be_bytes([
        h.raw[ctx_len_at],
        h.raw[ctx_len_at + 1],
    ]));
    let ctx_raw = &h.raw[ctx_len_at + 2..ctx_len_at + 2 + ctx_len];
    let canonical = body
        .context
        .serialize()
        .expect("a parsed context serializes");
    if canonical.as_slice() == ctx_raw {
        assert_eq!(again, h.raw, "serialize(parse(header)) != header");
    } else {
        // Only the context encoding may differ (legacy empty `00 00`, unsorted pairs).
        let mut expected = h.raw[..ctx_len_at].to_vec();
        expected.extend_from_slice(&(canonical.len() as u16).to_be_bytes());
        expected.extend_from_slice(&canonical);
        expected.extend_from_slice(&h.raw[ctx_len_at + 2 + ctx_len..]);
        assert_eq!(
            again, expected,
            "serialization changed more than the context encoding"
        );
    }
    // And the canonical form is a fixed point.
    match parse_header(&again, &permissive()) {
        Ok(Progress::Done { value, consumed }) => {
            assert_eq!(consumed, again.len());
            assert_eq!(value.body, *body);
        }
        other => panic!("re-serialized header does not parse: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// context_parse

/// `EncryptionContext::parse` never panics, fails only with `MALFORMED_MESSAGE`, and what it
/// accepts serializes to the same number of bytes (to the same bytes when the pairs were in
/// order) and parses back to itself.
pub fn check_context(data: &[u8]) {
    let ctx = match EncryptionContext::parse(data) {
        Err(e) => {
            assert_eq!(e.code(), "MALFORMED_MESSAGE", "{e}");
            return;
        }
        Ok(ctx) => ctx,
    };
    let Ok(s) = ctx.serialize() else {
        assert!(
            data.len() > usize::from(u16::MAX),
            "a context that fits does not serialize"
        );
        return;
    };
    assert_eq!(ctx.serialized_len().ok(), Some(s.len()));
    if data == [0, 0] {
        assert!(s.is_empty(), "legacy empty context");
    } else {
        assert_eq!(s.len(), data.len(), "serialized length differs");
        if pairs_sorted(data) {
            assert_eq!(s, data, "pairs in order serialize to the same bytes");
        }
    }
    assert_eq!(EncryptionContext::parse(&s).ok(), Some(ctx.clone()));
    // Every pair is there (keys unique).
    let mut map = BTreeMap::new();
    for (k, v) in ctx.iter() {
        assert!(map.insert(k, v).is_none());
    }
    assert_eq!(map.len(), ctx.len());
}

/// Whether the (already accepted) serialized pairs are in strictly increasing key order.
fn pairs_sorted(data: &[u8]) -> bool {
    let field = |p: &mut usize| {
        let n = usize::from(u16::from_be_bytes([data[*p], data[*p + 1]]));
        let s = &data[*p + 2..*p + 2 + n];
        *p += 2 + n;
        s
    };
    let mut p = 2;
    let mut prev: Option<&[u8]> = None;
    while p < data.len() {
        let k = field(&mut p);
        let _v = field(&mut p);
        if prev.is_some_and(|q| q >= k) {
            return false;
        }
        prev = Some(k);
    }
    true
}

// ---------------------------------------------------------------------------------------------
// decrypt_message

/// Decrypt never panics, fails only with a known code, and returns plaintext only for a
/// message that authenticates: re-encrypting the plaintext with the same data key, message id,
/// EDKs, context and frame length must give back the input byte for byte (up to the signature,
/// which is made by another signing key here).
pub fn check_decrypt(data: &[u8]) {
    let client = client();
    match pollster::block_on(client.decrypt(data, &EncryptionContext::new())) {
        Err(e) => known_code(&e),
        Ok(d) => assert_authentic(data, &d),
    }
}

/// The unsigned part of a message the encryptor would write, and its footer length if signed.
fn reencrypt(d: &Decrypted) -> (Vec<u8>, Vec<u8>) {
    let body = &d.header.body;
    let suite = body.suite;
    assert_eq!(
        body.content_type,
        ContentType::Framed,
        "a non-framed message authenticated under the fixed key (no seed is non-framed)"
    );
    let materials = DecryptionMaterials {
        suite,
        context: d.context.clone(),
    };
    let edks = &body.encrypted_data_keys;
    let key = match pollster::block_on(keyring().on_decrypt(&materials, edks)) {
        Some(Ok(k)) => k,
        other => panic!("plaintext released but the fixed key does not unwrap: {other:?}"),
    };
    let signing_key = suite
        .signature()
        .map(|_| SigningKey::from_bytes(&[7u8; 48]).expect("fixed signing key"));
    let mut enc = Encryptor::new(EncryptParams {
        suite,
        context: body.context.clone(),
        required_keys: Default::default(),
        data_key: DataKey::from_bytes(key.expose_secret().to_vec()),
        encrypted_data_keys: edks.clone(),
        signing_key,
        frame_length: body.frame_length,
        message_id: Some(body.message_id.clone()),
    })
    .expect("re-encryptor");
    enc.push(&d.plaintext).expect("push");
    let mut head = enc.take_output();
    enc.finish().expect("finish");
    let tail = enc.take_output();
    // The final frame: marker, seq, IV, length, content, tag; then the footer.
    let final_len = d.plaintext.len() % body.frame_length as usize;
    let final_frame = 4 + 4 + IV_LEN + 4 + final_len + TAG_LEN;
    head.extend_from_slice(&tail[..final_frame]);
    (head, tail[final_frame..].to_vec())
}

fn assert_authentic(data: &[u8], d: &Decrypted) {
    assert_eq!(d.header.raw, &data[..d.header.raw.len()]);
    let (unsigned, footer) = reencrypt(d);
    assert!(
        data.len() >= unsigned.len() && data[..unsigned.len()] == unsigned[..],
        "plaintext released for a message that is not what the encryptor writes for it \
         ({} input bytes)",
        data.len()
    );
    let rest = &data[unsigned.len()..];
    if footer.is_empty() {
        assert!(
            rest.is_empty(),
            "bytes after an unsigned message were accepted"
        );
    } else {
        // u16 length ‖ DER signature, and nothing after it.
        assert!(rest.len() >= 2);
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        assert_eq!(rest.len(), 2 + n, "bytes after the footer were accepted");
    }
}

// ---------------------------------------------------------------------------------------------
// stream_decrypt

/// Split a fuzz input into a message and chunk sizes. The last byte `b` says how many bytes
/// before it are chunk sizes (`b & 7`); with none, every chunk is `(b >> 3) + 1` bytes. Seeds
/// are `message ‖ 0x00` (1-byte chunks).
pub fn split_chunking(data: &[u8]) -> (&[u8], Vec<usize>) {
    let Some((&last, rest)) = data.split_last() else {
        return (data, vec![1]);
    };
    let n = usize::from(last & 7);
    if n == 0 || rest.len() < n {
        return (rest, vec![usize::from(last >> 3) + 1]);
    }
    let (msg, sizes) = rest.split_at(rest.len() - n);
    (msg, sizes.iter().map(|&s| usize::from(s) + 1).collect())
}

/// Limits our seed messages cross (headers are ~200–400 bytes, contexts up to ~110, frames
/// up to 4096, plaintexts up to 200), so where each limit bites is fuzzed too.
pub fn tight() -> Limits {
    Limits {
        max_encrypted_data_keys: 1,
        max_header_size: 320,
        max_context_size: 100,
        max_frame_length: 32,
        max_body_size: Some(24),
    }
}

/// Streaming decrypt in the chunking the input asks for gives the one-shot result (with the
/// default limits and with [`tight`] ones): the same plaintext, or the same error code with no
/// more plaintext released than the body-size limit and the input allow.
pub fn check_stream(data: &[u8]) {
    let (msg, sizes) = split_chunking(data);
    compare_stream(msg, &sizes, client());
    compare_stream(msg, &sizes, client().with_limits(tight()));
    compare_lent(msg, &sizes, client());
    compare_lent(msg, &sizes, client().with_limits(tight()));
}

fn compare_stream(msg: &[u8], sizes: &[usize], client: Client) {
    let one_shot = pollster::block_on(client.decrypt(msg, &EncryptionContext::new()))
        .map(|d| d.plaintext)
        .map_err(|e| e.code());
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    let mut released = Vec::new();
    let mut pos = 0;
    let mut streamed: Result<(), &'static str> = Ok(());
    for &size in sizes.iter().cycle() {
        if pos >= msg.len() {
            break;
        }
        let piece = &msg[pos..(pos + size).min(msg.len())];
        pos += piece.len();
        let step = dec
            .push(piece)
            .and_then(|()| pollster::block_on(client.unlock(&mut dec)));
        released.extend_from_slice(&dec.take_output());
        if let Err(e) = step {
            known_code(&e);
            streamed = Err(e.code());
            break;
        }
    }
    if streamed.is_ok() {
        streamed = dec.finish().map_err(|e| e.code());
        released.extend_from_slice(&dec.take_output());
    }
    match (&one_shot, streamed) {
        (Ok(pt), Ok(())) => assert_eq!(&released, pt, "streamed plaintext differs"),
        (Err(a), Err(b)) => {
            assert_eq!(*a, b, "one-shot and streamed errors differ ({sizes:?})");
            assert!(released.len() <= msg.len());
            if let Some(max) = client.limits().max_body_size {
                assert!(released.len() as u64 <= max, "released past max_body_size");
            }
        }
        (a, b) => panic!("one-shot {a:?} but streamed {b:?} ({sizes:?})"),
    }
}

/// Open one frame as WebCrypto would (`None`: the tag did not verify).
fn open_lent(key: Option<&AesGcmKey>, f: &OpenFrame<'_>) -> Option<Vec<u8>> {
    let split = f.sealed.len().checked_sub(16)?;
    let mut pt = f.sealed[..split].to_vec();
    let tag: [u8; 16] = f.sealed[split..].try_into().ok()?;
    open(key?, f.iv, f.aad, &mut pt, &tag).ok().map(|()| pt)
}

/// Report opened frames in order: plaintext released (or withheld) only once its job
/// completed.
fn complete(
    dec: &mut Decryptor,
    frames: Vec<(bool, Option<Vec<u8>>)>,
    released: &mut Vec<u8>,
    held: &mut Vec<u8>,
) -> Result<(), Error> {
    for (withhold, pt) in frames {
        dec.complete_job(pt.is_some())?;
        let pt = pt.unwrap_or_default();
        if withhold { &mut *held } else { &mut *released }.extend_from_slice(&pt);
    }
    Ok(())
}

/// The wasm driver's path: external mode, frames lent by `push_opening` (pausing after every
/// other frame) and opened outside the engine, pieces cut where a frame ends. The same
/// plaintext as one-shot when it succeeds; when it fails, so does this (the code may differ: a
/// later frame's format error can surface before an earlier frame's tag is checked), releasing
/// no more than the input and the body-size limit allow.
fn compare_lent(msg: &[u8], sizes: &[usize], client: Client) {
    let one_shot = pollster::block_on(client.decrypt(msg, &EncryptionContext::new()))
        .map(|d| d.plaintext)
        .map_err(|e| e.code());
    let mut dec = client.start_decrypt(&EncryptionContext::new());
    if dec.set_external().is_err() {
        panic!("external mode refused before the first byte");
    }
    let (mut released, mut held, mut key) = (Vec::new(), Vec::new(), None);
    let mut run = || -> Result<(), Error> {
        let mut pos = 0;
        for &size in sizes.iter().cycle() {
            if pos >= msg.len() {
                break;
            }
            let take = dec.frame_needs().map_or(size, |n| n.min(size));
            let piece = &msg[pos..(pos + take).min(msg.len())];
            pos += piece.len();
            let mut n = piece.len();
            loop {
                let (mut frames, mut paused) = (Vec::new(), false);
                let k = key.as_ref();
                let mut opener = |f: OpenFrame<'_>| {
                    frames.push((f.withhold, open_lent(k, &f)));
                    paused = frames.len() % 2 == 1;
                    !paused
                };
                dec.push_opening(n, |b| b.copy_from_slice(&piece[..n]), &mut opener)?;
                n = 0;
                pollster::block_on(client.unlock(&mut dec))?;
                if let Some(k) = dec.take_external_key() {
                    key = Some(AesGcmKey::new(&k)?);
                }
                for job in dec.take_jobs() {
                    frames.push((job.withhold, open_lent(key.as_ref(), &job.frame())));
                }
                complete(&mut dec, frames, &mut released, &mut held)?;
                released.extend_from_slice(&dec.take_output());
                if !paused {
                    break;
                }
            }
        }
        dec.finish()?;
        released.extend_from_slice(&dec.take_output());
        released.append(&mut held);
        Ok(())
    };
    let streamed = run();
    if let Err(e) = &streamed {
        known_code(e);
    }
    match (&one_shot, streamed) {
        (Ok(pt), Ok(())) => assert_eq!(&released, pt, "lent plaintext differs"),
        (Err(_), Err(_)) => {
            assert!(released.len() <= msg.len());
            if let Some(max) = client.limits().max_body_size {
                assert!(released.len() as u64 <= max, "released past max_body_size");
            }
        }
        (a, b) => panic!("one-shot {a:?} but lent {b:?} ({sizes:?})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds

fn own_message(
    suite: AlgorithmSuite,
    frame_length: u32,
    pt_len: usize,
    ctx: &[(&str, &str)],
    extra_key: bool,
) -> Vec<u8> {
    // `Client` takes an `Arc`; nothing here crosses threads.
    #[allow(clippy::arc_with_non_send_sync)]
    let ring: Arc<dyn Keyring> = if extra_key {
        let other: Arc<dyn Keyring> =
            Arc::new(RawAesKeyring::new("another-namespace", "other", &[3u8; 16]).expect("other"));
        Arc::new(MultiKeyring::new(Some(Arc::new(keyring())), vec![other]).expect("multi"))
    } else {
        Arc::new(keyring())
    };
    let client = Client::new(ring)
        .with_suite(suite)
        .expect("suite")
        .with_frame_length(frame_length)
        .expect("frame length");
    let pt: Vec<u8> = (0..pt_len).map(|i| (i * 31 % 251) as u8).collect();
    let options = EncryptOptions {
        context: ctx.iter().copied().collect(),
        ..EncryptOptions::default()
    };
    pollster::block_on(client.encrypt(&pt, &options)).expect("encrypt")
}

/// Our messages under the fixed key: both suites we write, several frame lengths (1 and 7
/// make many frames), empty / full-frame / multi-frame plaintexts, contexts, a second EDK.
pub fn own_messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for suite in [
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ] {
        for (frame_length, pt_len) in [(1, 3), (7, 0), (7, 7), (7, 23), (64, 200), (4096, 100)] {
            out.push(own_message(suite, frame_length, pt_len, &[], false));
        }
        out.push(own_message(
            suite,
            16,
            40,
            &[("purpose", "fuzz"), ("é", "ü")],
            false,
        ));
        out.push(own_message(suite, 32, 50, &[("a", "1")], true));
    }
    out
}

/// One official vector per suite and the non-framed ones.
fn official_vectors() -> Vec<Vec<u8>> {
    let shared = std::env::var_os("KMS_ENVELOPE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let vectors = shared.join("vectors");
    let mut by_suite: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors.join("esdk-offline/ciphertexts"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        if let Ok(Progress::Done { value, .. }) = parse_header(&bytes, &permissive()) {
            by_suite.entry(value.body.suite.id()).or_insert(bytes);
        }
    }
    let mut out: Vec<Vec<u8>> = by_suite.into_values().collect();
    for f in [
        "v1_nonframed_aes256_0178.bin",
        "v2_nonframed_aes256_0478.bin",
    ] {
        if let Ok(b) = std::fs::read(vectors.join("nonframed").join(f)) {
            out.push(b);
        }
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("seed");
}

/// Write every target's seeds under `root` and say how many.
pub fn write_seeds(root: &Path) -> usize {
    let own = own_messages();
    let official = official_vectors();
    let mut n = 0;
    let mut put = |target: &str, name: String, bytes: &[u8]| {
        write(&root.join(target), &name, bytes);
        n += 1;
    };
    for (i, m) in own.iter().enumerate() {
        put("decrypt_message", format!("own-{i:02}"), m);
        let mut chunked = m.clone();
        chunked.push(0); // 1-byte chunks
        put("stream_decrypt", format!("own-{i:02}-by1"), &chunked);
        let mut chunked = m.clone();
        chunked.extend_from_slice(&[6, 40, 2]); // chunks of 7 and 41 bytes
        put("stream_decrypt", format!("own-{i:02}-by7-41"), &chunked);
    }
    for (i, m) in own.iter().chain(&official).enumerate() {
        let Ok(Progress::Done { value, consumed }) = parse_header(m, &permissive()) else {
            continue;
        };
        put("header_parse", format!("header-{i:02}"), &m[..consumed]);
        let ctx = value.body.context.serialize().expect("context");
        put("context_parse", format!("context-{i:02}"), &ctx);
    }
    for (i, m) in official.iter().enumerate() {
        // Not decryptable under the fixed key, but real parsing paths (v1, non-framed, RSA EDKs).
        put("decrypt_message", format!("official-{i:02}"), m);
        put("header_parse", format!("official-{i:02}"), m);
    }
    put("context_parse", "legacy-empty".into(), &[0, 0]);
    put(
        "context_parse",
        "unsorted".into(),
        &[0, 2, 0, 1, b'b', 0, 0, 0, 1, b'a', 0, 0],
    );
    n
}

/// Seed mode: with `KMS_ENVELOPE_FUZZ_SEEDS=<dir>` set, write the seeds and exit (called from
/// every target's init, before libFuzzer reads its corpus).
pub fn seed_mode() {
    if let Some(dir) = std::env::var_os("KMS_ENVELOPE_FUZZ_SEEDS") {
        let n = write_seeds(Path::new(&dir));
        println!(
            "kms-envelope-fuzz: wrote {n} seeds under {}",
            Path::new(&dir).display()
        );
        std::process::exit(0);
    }
}
