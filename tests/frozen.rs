//! Frozen vectors of our own output: messages written by kms-envelope, committed under
//! `tests/frozen/` with their keys, plaintexts and expected header fields in
//! `tests/frozen/manifest.json`. They must decrypt forever: a change that makes an old
//! message unreadable (or changes what `inspect` reports about it) fails here.
//!
//! Most vectors are made deterministically (fixed message id, data key, signing key and raw
//! AES wrapping IVs), so the test also re-encrypts them and demands byte-identical output: the
//! writer's format cannot drift unnoticed. Two were made through the ordinary client and
//! keyrings (random everything) and are only decrypted.
//!
//! Regenerate (only when the format deliberately changes, and say so in the commit):
//! `cargo test -p kms-envelope --test frozen -- --ignored generate_frozen_vectors`
// Keyrings are deliberately not Send (browser transports), and the client takes an Arc.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::arc_with_non_send_sync
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kms_envelope::crypto::{AesGcmKey, DataKey, SigningKey, seal};
use kms_envelope::format::context::PUBLIC_KEY_FIELD;
use kms_envelope::format::{ContentType, Progress, parse_header};
use kms_envelope::keyring::{Keyring, MultiKeyring, RawAesKeyring};
use kms_envelope::stream::{EncryptParams, Encryptor};
use kms_envelope::{
    AlgorithmSuite, Client, EncryptOptions, EncryptedDataKey, EncryptionContext, Limits,
};
use serde_json::{Value, json};

const NAMESPACE: &str = "kms-envelope-frozen";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("frozen")
}

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn ctx_of(v: &Value) -> EncryptionContext {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn ctx_json(c: &EncryptionContext) -> Value {
    Value::Object(c.iter().map(|(k, v)| (k.to_owned(), json!(v))).collect())
}

fn suite_of(v: &Value) -> AlgorithmSuite {
    AlgorithmSuite::parse(v.as_str().unwrap()).unwrap()
}

/// A raw AES EDK made by hand (SPEC raw-aes-keyring.md): provider id = namespace, provider
/// info = name ‖ u32 128 ‖ u32 12 ‖ IV, ciphertext = AES-GCM(data key, AAD = the serialized
/// full encryption context) ‖ tag.
fn raw_aes_edk(
    name: &str,
    wrapping_key: &[u8],
    iv: [u8; 12],
    data_key: &[u8],
    full_context: &EncryptionContext,
) -> EncryptedDataKey {
    let key = AesGcmKey::new(wrapping_key).unwrap();
    let mut ct = data_key.to_vec();
    let tag = seal(&key, &iv, &full_context.serialize().unwrap(), &mut ct).unwrap();
    ct.extend_from_slice(&tag);
    let mut info = name.as_bytes().to_vec();
    info.extend_from_slice(&128u32.to_be_bytes());
    info.extend_from_slice(&12u32.to_be_bytes());
    info.extend_from_slice(&iv);
    EncryptedDataKey {
        provider_id: NAMESPACE.into(),
        provider_info: info,
        ciphertext: ct,
    }
}

/// The full context of a deterministic message: the caller's pairs plus the public key.
fn full_context(m: &Value) -> EncryptionContext {
    let mut ctx = ctx_of(&m["context"]);
    let det = &m["deterministic"];
    if suite_of(&m["suite"]).signature().is_some() && !det.is_null() {
        let sk = SigningKey::from_bytes(&unhex(&det["signing_key"])).unwrap();
        ctx.insert(PUBLIC_KEY_FIELD, sk.public_key_base64());
    }
    ctx
}

/// Re-create a deterministic message from its manifest entry.
/// The one deliberate change to the writer since these vectors were frozen: P-384 signatures
/// are now 103 bytes whenever `n − s` gets them there (as the Python and Java ESDKs write them).
/// Everything signed, and the signature's `r`, must be unchanged; a frozen 103-byte signature
/// must be reproduced exactly.
fn assert_same_but_static_length_signature(fresh: &[u8], frozen: &[u8], file: &str) {
    // Footer: u16 length ‖ DER SEQUENCE { INTEGER r, INTEGER s }.
    let split = |m: &[u8]| -> (usize, Vec<u8>) {
        for sig_len in (8..=104usize).rev() {
            if m.len() >= sig_len + 2 {
                let at = m.len() - sig_len - 2;
                if usize::from(u16::from_be_bytes([m[at], m[at + 1]])) == sig_len
                    && m[at + 2] == 0x30
                {
                    return (at, m[at + 2..].to_vec());
                }
            }
        }
        panic!("{file}: no footer found");
    };
    let (at_fresh, sig_fresh) = split(fresh);
    let (at_frozen, sig_frozen) = split(frozen);
    assert_eq!(
        fresh[..at_fresh],
        frozen[..at_frozen],
        "{file}: the signed bytes changed"
    );
    if sig_frozen.len() == 103 {
        assert_eq!(sig_fresh, sig_frozen, "{file}: the signature changed");
    } else {
        let r = |der: &[u8]| der[2..4 + usize::from(der[3])].to_vec();
        assert_eq!(r(&sig_fresh), r(&sig_frozen), "{file}: r changed");
        assert_eq!(sig_fresh.len(), 103, "{file}: not the static length");
    }
}

fn encrypt_deterministic(m: &Value, keys: &Value) -> Vec<u8> {
    let suite = suite_of(&m["suite"]);
    let det = &m["deterministic"];
    let data_key = unhex(&det["data_key"]);
    let context = full_context(m);
    let edks = m["keys"]
        .as_array()
        .unwrap()
        .iter()
        .zip(det["edk_ivs"].as_array().unwrap())
        .map(|(id, iv)| {
            let k = &keys[id.as_str().unwrap()];
            let iv: [u8; 12] = unhex(iv).try_into().unwrap();
            raw_aes_edk(
                k["name"].as_str().unwrap(),
                &unhex(&k["key"]),
                iv,
                &data_key,
                &context,
            )
        })
        .collect();
    let mut enc = Encryptor::new(EncryptParams {
        suite,
        context,
        required_keys: m["required_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect(),
        data_key: DataKey::from_bytes(data_key),
        encrypted_data_keys: edks,
        signing_key: det["signing_key"]
            .as_str()
            .map(|h| SigningKey::from_bytes(&hex::decode(h).unwrap()).unwrap()),
        frame_length: m["frame_length"].as_u64().unwrap() as u32,
        message_id: Some(unhex(&det["message_id"])),
    })
    .unwrap();
    enc.push(&unhex(&m["plaintext"])).unwrap();
    enc.finish().unwrap();
    enc.take_output()
}

fn keyring(keys: &Value, id: &str) -> Arc<dyn Keyring> {
    let k = &keys[id];
    Arc::new(
        RawAesKeyring::new(
            k["namespace"].as_str().unwrap(),
            k["name"].as_str().unwrap(),
            &unhex(&k["key"]),
        )
        .unwrap(),
    )
}

fn inspect(path: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kms-envelope"))
        .args(["inspect", "--in"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The permanent test.

#[test]
fn frozen_vectors_decrypt_forever() {
    let manifest = manifest();
    let keys = &manifest["keys"];
    let messages = manifest["messages"].as_array().unwrap();

    // Every file is described and every description has its file.
    let listed: BTreeSet<String> = messages
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_owned())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    assert_eq!(listed, on_disk);
    assert!(messages.len() >= 12);
    let total: u64 = on_disk
        .iter()
        .map(|f| std::fs::metadata(dir().join(f)).unwrap().len())
        .sum();
    assert!(
        total < 100 * 1024,
        "frozen vectors stay small ({total} bytes)"
    );

    let mut deterministic = 0;
    for m in messages {
        let file = m["file"].as_str().unwrap();
        let path = dir().join(file);
        let ct = std::fs::read(&path).unwrap();
        let pt = unhex(&m["plaintext"]);
        let suite = suite_of(&m["suite"]);
        let reproduced = ctx_of(&m["reproduced_context"]);
        let expected_inspect = &m["inspect"];
        let stored = ctx_of(&expected_inspect["encryption_context"]);

        // Each key on its own decrypts it, and so does a multi-keyring of all of them.
        let ids: Vec<&str> = m["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let mut clients: Vec<Client> = ids
            .iter()
            .map(|id| Client::new(keyring(keys, id)))
            .collect();
        let all: Vec<Arc<dyn Keyring>> = ids.iter().rev().map(|id| keyring(keys, id)).collect();
        clients.push(Client::new(Arc::new(MultiKeyring::new(None, all).unwrap())));
        for client in &clients {
            let d = pollster::block_on(client.decrypt(&ct, &reproduced))
                .unwrap_or_else(|e| panic!("{file}: {}: {e}", e.code()));
            assert_eq!(d.plaintext, pt, "{file}");
            // The full context: stored pairs (with the public key) plus the required ones.
            let mut full = stored.clone();
            for (k, v) in reproduced.iter() {
                full.insert(k, v);
            }
            assert_eq!(d.context, full, "{file}");
            assert_eq!(d.header.body.suite, suite, "{file}");
            assert_eq!(
                u64::from(d.header.body.frame_length),
                m["frame_length"].as_u64().unwrap(),
                "{file}"
            );
        }
        for chunk in [1, 13] {
            assert_eq!(
                common::stream_decrypt(&clients[0], &ct, &reproduced, chunk),
                pt,
                "{file}"
            );
        }

        // Required pairs are not in the header, and without them the message does not open.
        for k in m["required_keys"].as_array().unwrap() {
            let k = k.as_str().unwrap();
            assert!(
                !stored.contains_key(k),
                "{file}: required key {k} must not be stored"
            );
            let err =
                pollster::block_on(clients[0].decrypt(&ct, &EncryptionContext::new())).unwrap_err();
            assert_eq!(err.code(), "NO_DECRYPTABLE_KEY", "{file}");
        }

        // The header as the library parses it.
        let Ok(Progress::Done { value: h, consumed }) = parse_header(&ct, &Limits::default())
        else {
            panic!("{file}: header does not parse");
        };
        assert_eq!(
            consumed as u64,
            expected_inspect["header_length"].as_u64().unwrap()
        );
        assert_eq!(
            hex::encode(&h.body.message_id),
            expected_inspect["message_id"],
            "{file}"
        );
        assert_eq!(h.body.context, stored, "{file}");
        assert_eq!(h.body.content_type, ContentType::Framed, "{file}");
        assert_eq!(h.body.encrypted_data_keys.len(), ids.len(), "{file}");
        for (edk, id) in h.body.encrypted_data_keys.iter().zip(&ids) {
            assert_eq!(edk.provider_id, keys[*id]["namespace"], "{file}");
            assert!(
                edk.provider_info
                    .starts_with(keys[*id]["name"].as_str().unwrap().as_bytes())
            );
        }
        if suite.signature().is_some() {
            assert!(stored.contains_key(PUBLIC_KEY_FIELD), "{file}");
        }

        // What `kms-envelope inspect` reports, field for field.
        assert_eq!(
            &inspect(&path),
            expected_inspect,
            "{file}: inspect output changed"
        );

        // Deterministic vectors: the writer still produces exactly these bytes.
        if !m["deterministic"].is_null() {
            let fresh = encrypt_deterministic(m, keys);
            if suite.signature().is_some() {
                assert_same_but_static_length_signature(&fresh, &ct, file);
            } else {
                assert_eq!(fresh, ct, "{file}: the writer's output changed");
            }
            deterministic += 1;
        }
    }
    assert!(deterministic >= 10);
}

// ---------------------------------------------------------------------------------------------
// The generator (run once; its output is committed).

struct Spec {
    file: &'static str,
    description: &'static str,
    suite: AlgorithmSuite,
    frame_length: u32,
    plaintext: Vec<u8>,
    context: Vec<(&'static str, &'static str)>,
    required_keys: Vec<&'static str>,
    keys: Vec<&'static str>,
    /// Made through `Client` and keyrings (random) rather than deterministically.
    via_client: bool,
}

fn text(n: usize) -> Vec<u8> {
    b"The quick brown fox jumps over the lazy dog. "
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

fn specs() -> Vec<Spec> {
    use AlgorithmSuite as S;
    let c = S::Aes256GcmHkdfSha512CommitKey;
    let s = S::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
    let base = |file, description, suite, frame_length, plaintext| Spec {
        file,
        description,
        suite,
        frame_length,
        plaintext,
        context: vec![("purpose", "frozen vector")],
        required_keys: vec![],
        keys: vec!["key-a"],
        via_client: false,
    };
    let non_ascii = vec![
        ("ключ", "значение"),
        ("emoji 🔑", "✓"),
        ("日本", "語"),
        ("Z", "upper case sorts first"),
        ("a", ""),
        ("é", "ü"),
    ];
    vec![
        base(
            "0478-basic.bin",
            "0x0478, three 64-byte frames and a final frame of 22 bytes",
            c,
            64,
            text(214),
        ),
        base(
            "0578-basic.bin",
            "0x0578, three 64-byte frames and a final frame of 22 bytes",
            s,
            64,
            text(214),
        ),
        Spec {
            context: vec![],
            ..base(
                "0478-empty.bin",
                "0x0478, empty plaintext, empty context",
                c,
                4096,
                vec![],
            )
        },
        base("0578-empty.bin", "0x0578, empty plaintext", s, 4096, vec![]),
        base(
            "0478-exact-multiple.bin",
            "0x0478, 128 bytes in 128-byte frames: one frame and an empty final frame",
            c,
            128,
            text(128),
        ),
        base(
            "0578-exact-multiple.bin",
            "0x0578, 256 bytes in 64-byte frames: four frames and an empty final frame",
            s,
            64,
            text(256),
        ),
        Spec {
            context: non_ascii.clone(),
            ..base(
                "0478-non-ascii-context.bin",
                "0x0478, non-ASCII context (serialized in UTF-8 byte order)",
                c,
                100,
                "Grüße, 世界! ".repeat(10).into_bytes(),
            )
        },
        Spec {
            context: non_ascii,
            ..base(
                "0578-non-ascii-context.bin",
                "0x0578, non-ASCII context (serialized in UTF-8 byte order)",
                s,
                100,
                "Grüße, 世界! ".repeat(10).into_bytes(),
            )
        },
        Spec {
            context: vec![("purpose", "frozen vector"), ("tenant", "acme")],
            required_keys: vec!["tenant"],
            ..base(
                "0578-required-context-key.bin",
                "0x0578, required context key `tenant` (bound, not stored): decrypt must supply tenant=acme",
                s,
                64,
                text(100),
            )
        },
        Spec {
            keys: vec!["key-a", "key-b"],
            ..base(
                "0578-two-keys.bin",
                "0x0578, two raw AES keys (AES-256 generator, AES-128 child): either decrypts",
                s,
                64,
                text(100),
            )
        },
        base(
            "0478-frame-length-1.bin",
            "0x0478, frame length 1",
            c,
            1,
            text(33),
        ),
        base(
            "0578-frame-length-1.bin",
            "0x0578, frame length 1",
            s,
            1,
            text(20),
        ),
        Spec {
            via_client: true,
            ..base(
                "0478-client.bin",
                "0x0478 made by Client with a raw AES keyring (random)",
                c,
                64,
                text(150),
            )
        },
        Spec {
            keys: vec!["key-a", "key-b"],
            via_client: true,
            ..base(
                "0578-client-two-keys.bin",
                "0x0578 made by Client with a multi-keyring of two raw AES keys (random)",
                s,
                64,
                text(150),
            )
        },
    ]
}

fn key_table() -> Value {
    json!({
        "key-a": {"namespace": NAMESPACE, "name": "key-a", "key": hex::encode((0u8..32).map(|i| 0xA0 ^ i).collect::<Vec<_>>())},
        "key-b": {"namespace": NAMESPACE, "name": "key-b", "key": hex::encode((0u8..16).map(|i| 0xB0 ^ i).collect::<Vec<_>>())},
    })
}

/// The `inspect` JSON a message must produce, built from what we put in it.
fn expected_inspect(ct: &[u8]) -> Value {
    let Ok(Progress::Done { value: h, consumed }) = parse_header(ct, &Limits::default()) else {
        panic!("header");
    };
    let edks: Vec<Value> = h
        .body
        .encrypted_data_keys
        .iter()
        .map(|e| {
            json!({
                "provider_id": e.provider_id,
                "provider_info": String::from_utf8(e.provider_info.clone()).ok(),
                "provider_info_hex": hex::encode(&e.provider_info),
                "ciphertext_length": e.ciphertext.len(),
            })
        })
        .collect();
    json!({
        "version": h.body.suite.message_version(),
        "suite_id": format!("0x{:04x}", h.body.suite.id()),
        "suite": h.body.suite.name(),
        "message_id": hex::encode(&h.body.message_id),
        "encryption_context": ctx_json(&h.body.context),
        "encrypted_data_keys": edks,
        "content_type": "framed",
        "frame_length": h.body.frame_length,
        "header_length": consumed,
        "authenticated": false,
    })
}

#[test]
#[ignore = "writes tests/frozen/; run once, commit the output"]
fn generate_frozen_vectors() {
    let keys = key_table();
    std::fs::create_dir_all(dir()).unwrap();
    let mut entries = Vec::new();
    for (n, spec) in specs().into_iter().enumerate() {
        let context: EncryptionContext = spec.context.iter().copied().collect();
        let ids: Vec<&str> = spec.keys.clone();
        let reproduced: EncryptionContext = spec
            .context
            .iter()
            .filter(|(k, _)| spec.required_keys.contains(k))
            .copied()
            .collect();
        let mut entry = json!({
            "file": spec.file,
            "description": spec.description,
            "suite": format!("0x{:04x}", spec.suite.id()),
            "frame_length": spec.frame_length,
            "plaintext": hex::encode(&spec.plaintext),
            "context": ctx_json(&context),
            "required_keys": spec.required_keys,
            "reproduced_context": ctx_json(&reproduced),
            "keys": ids,
            "deterministic": null,
        });
        let ct = if spec.via_client {
            let rings: Vec<Arc<dyn Keyring>> = ids.iter().map(|id| keyring(&keys, id)).collect();
            let ring: Arc<dyn Keyring> = if rings.len() == 1 {
                rings[0].clone()
            } else {
                Arc::new(MultiKeyring::new(Some(rings[0].clone()), rings[1..].to_vec()).unwrap())
            };
            let client = Client::new(ring)
                .with_suite(spec.suite)
                .unwrap()
                .with_frame_length(spec.frame_length)
                .unwrap();
            let options = EncryptOptions {
                context: context.clone(),
                required_keys: spec.required_keys.iter().map(|k| k.to_string()).collect(),
            };
            pollster::block_on(client.encrypt(&spec.plaintext, &options)).unwrap()
        } else {
            let seed = n as u8;
            let det = json!({
                "message_id": hex::encode((0..spec.suite.message_id_len()).map(|i| seed.wrapping_mul(16).wrapping_add(i as u8)).collect::<Vec<_>>()),
                "data_key": hex::encode((0u8..32).map(|i| i.wrapping_mul(7).wrapping_add(seed)).collect::<Vec<_>>()),
                "signing_key": spec.suite.signature().map(|_| hex::encode([0x30 + seed; 48])),
                "edk_ivs": ids.iter().enumerate().map(|(j, _)| hex::encode([seed.wrapping_add(j as u8 * 100); 12])).collect::<Vec<_>>(),
            });
            entry["deterministic"] = det;
            encrypt_deterministic(&entry, &keys)
        };
        entry["inspect"] = expected_inspect(&ct);
        std::fs::write(dir().join(spec.file), &ct).unwrap();
        entries.push(entry);
    }
    let manifest = json!({
        "description": "Messages written by kms-envelope, frozen: tests/frozen.rs decrypts them forever \
            and re-encrypts the deterministic ones byte for byte. Hex for bytes. `context` is what \
            the writer was given (without aws-crypto-public-key); `inspect` is the exact JSON of \
            `kms-envelope inspect`; `reproduced_context` is what decrypt must supply.",
        "keys": keys,
        "messages": entries,
    });
    let mut text = serde_json::to_string_pretty(&manifest).unwrap();
    text.push('\n');
    std::fs::write(dir().join("manifest.json"), text).unwrap();
}
