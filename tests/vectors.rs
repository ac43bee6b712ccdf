//! Conformance: the official ESDK decrypt vectors in `../shared/vectors` (manifest v5, made by
//! the Dafny ESDK 4.1.0) and the two Python non-framed messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use kms_envelope::keyring::{Keyring, MultiKeyring, RawAesKeyring};
use kms_envelope::{Client, CommitmentPolicy, EncryptionContext};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    common::shared_dir().join("vectors")
}

fn key_bytes(keys: &Value, name: &str) -> Option<Vec<u8>> {
    let k = &keys["keys"][name];
    if k["algorithm"] != "aes" {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(k["material"].as_str()?)
        .ok()
}

/// Build a keyring from a key description; `None` for what we do not implement (raw RSA).
fn keyring_for(desc: &Value, keys: &Value) -> Option<Arc<dyn Keyring>> {
    match desc["type"].as_str()? {
        "raw" if desc["encryption-algorithm"] == "aes" => {
            let name = desc["key"].as_str()?;
            let key_id = keys["keys"][name]["key-id"].as_str()?;
            let ring = RawAesKeyring::new(
                desc["provider-id"].as_str()?,
                key_id,
                &key_bytes(keys, name)?,
            )
            .ok()?;
            Some(Arc::new(ring))
        }
        "multi-keyring" => {
            let generator = desc.get("generator").and_then(|g| keyring_for(g, keys));
            let children: Vec<_> = desc["childKeyrings"]
                .as_array()
                .map(|a| a.iter().filter_map(|c| keyring_for(c, keys)).collect())
                .unwrap_or_default();
            Some(Arc::new(MultiKeyring::new(generator, children).ok()?))
        }
        "required-encryption-context-cmm" => keyring_for(&desc["underlying"], keys),
        _ => None,
    }
}

fn context(v: &Value) -> EncryptionContext {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn official_offline_vectors_decrypt_to_their_plaintext() {
    let dir = vectors_dir().join("esdk-offline");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("decrypt-manifest.json")).unwrap()).unwrap();
    let keys: Value =
        serde_json::from_slice(&std::fs::read(dir.join("keys.json")).unwrap()).unwrap();
    let file = |uri: &str| std::fs::read(dir.join(uri.trim_start_matches("file://"))).unwrap();

    let (mut passed, mut skipped_rsa) = (0, 0);
    let mut by_type = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for (id, test) in manifest["tests"].as_object().unwrap() {
        let s = &test["decryption-scenario"];
        let desc = &s["decryptKeyDescription"];
        let Some(keyring) = keyring_for(desc, &keys) else {
            skipped_rsa += 1; // raw RSA: not implemented (RUSTSEC-2023-0071; not a browser need)
            continue;
        };
        let client = Client::new(keyring)
            .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
        let ciphertext = file(s["ciphertext"].as_str().unwrap());
        let expected = file(s["result"].as_str().unwrap());
        let reproduced = context(&s["reproduced-encryption-context"]);
        match pollster::block_on(client.decrypt(&ciphertext, &reproduced)) {
            Ok(d) if d.plaintext == expected => {
                passed += 1;
                *by_type
                    .entry(desc["type"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                // The same message, streamed one byte at a time, gives the same bytes.
                if passed % 7 == 0 {
                    assert_eq!(
                        common::stream_decrypt(&client, &ciphertext, &reproduced, 1),
                        expected
                    );
                }
            }
            Ok(_) => failures.push(format!("{id}: wrong plaintext")),
            Err(e) => failures.push(format!(
                "{id} ({}): {} {e}",
                s["algorithmSuiteId"],
                e.code()
            )),
        }
    }
    println!(
        "official vectors: {passed} passed, {skipped_rsa} skipped (raw RSA); by type {by_type:?}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        passed, 48,
        "expected 14 raw AES + 8 multi + 26 required-context vectors"
    );
}

#[test]
fn python_non_framed_vectors_decrypt() {
    let dir = vectors_dir().join("nonframed");
    let key = base64::engine::general_purpose::STANDARD
        .decode("AAECAwQFBgcICRAREhMUFRYXGBkgISIjJCUmJygpMDE=")
        .unwrap();
    let ring = Arc::new(RawAesKeyring::new("aws-raw-vectors-persistant", "aes-256", &key).unwrap());
    let client =
        Client::new(ring).with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    for (ct, pt) in [
        (
            "v1_nonframed_aes256_0178.bin",
            "v1_nonframed_plaintext_small.bin",
        ),
        (
            "v2_nonframed_aes256_0478.bin",
            "v2_nonframed_plaintext_small.bin",
        ),
    ] {
        let ciphertext = std::fs::read(dir.join(ct)).unwrap();
        let expected = std::fs::read(dir.join(pt)).unwrap();
        let got = pollster::block_on(client.decrypt(&ciphertext, &EncryptionContext::new()))
            .unwrap_or_else(|e| panic!("{ct}: {e}"));
        assert_eq!(got.plaintext, expected, "{ct}");
        for chunk in [1, 7, 4096] {
            assert_eq!(
                common::stream_decrypt(&client, &ciphertext, &EncryptionContext::new(), chunk),
                expected
            );
        }
    }
}

#[test]
fn legacy_vectors_are_refused_under_the_default_policy() {
    let dir = vectors_dir().join("nonframed");
    let key = vec![0u8; 32];
    let ring = Arc::new(RawAesKeyring::new("aws-raw-vectors-persistant", "aes-256", &key).unwrap());
    let client = Client::new(ring);
    let ciphertext = std::fs::read(dir.join("v1_nonframed_aes256_0178.bin")).unwrap();
    let err =
        pollster::block_on(client.decrypt(&ciphertext, &EncryptionContext::new())).unwrap_err();
    assert_eq!(err.code(), "COMMITMENT_POLICY");
}
