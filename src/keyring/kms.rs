//! The AWS KMS keyring, ESDK-compatible: provider id `aws-kms`, provider info = key ARN
//! (SPEC `framework/aws-kms/aws-kms-keyring.md`, `aws-kms-discovery-keyring.md`;
//! esdk-format.md §8.1).

use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::format::EncryptedDataKey;
use crate::keyring::{DecryptionMaterials, EncryptionMaterials, Keyring, KeyringFuture};
use crate::kms::{KmsArn, KmsClient, KmsError, KmsErrorKind};

/// The provider id of every KMS EDK.
pub const PROVIDER_ID: &str = "aws-kms";

/// Discovery mode's filter: only EDKs whose key ARN is in `partition` and one of `accounts`
/// are tried (SPEC aws-kms-discovery-keyring.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryFilter {
    /// e.g. `aws`.
    pub partition: String,
    /// Allowed account ids (non-empty).
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone)]
enum Mode {
    Strict {
        generator: Option<String>,
        key_ids: Vec<String>,
    },
    Discovery {
        filter: Option<DiscoveryFilter>,
    },
}

/// Wraps data keys with KMS keys and unwraps them through KMS.
#[derive(Debug, Clone)]
pub struct KmsKeyring {
    client: KmsClient,
    mode: Mode,
}

impl KmsKeyring {
    /// Strict mode: encrypt with `GenerateDataKey` on `generator` (when this keyring makes the
    /// data key) and `Encrypt` under each of `key_ids`; decrypt only EDKs whose provider info
    /// equals one of the configured identifiers exactly (so configure key ARNs: an alias never
    /// matches a stored key ARN).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` when no key is configured or an identifier is empty.
    pub fn strict(
        client: KmsClient,
        generator: Option<String>,
        key_ids: Vec<String>,
    ) -> Result<Self> {
        if generator.is_none() && key_ids.is_empty() {
            return Err(Error::invalid(
                "a strict KMS keyring needs at least one key",
            ));
        }
        if generator
            .iter()
            .chain(&key_ids)
            .any(|k| k.trim().is_empty())
        {
            return Err(Error::invalid("empty KMS key identifier"));
        }
        Ok(KmsKeyring {
            client,
            mode: Mode::Strict { generator, key_ids },
        })
    }

    /// Discovery mode (decrypt only): try every `aws-kms` EDK with its own key ARN, limited by
    /// `filter` when given.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for a filter with an empty partition or no accounts.
    pub fn discovery(client: KmsClient, filter: Option<DiscoveryFilter>) -> Result<Self> {
        if let Some(f) = &filter
            && (f.partition.is_empty()
                || f.accounts.is_empty()
                || f.accounts.iter().any(String::is_empty))
        {
            return Err(Error::invalid(
                "a discovery filter needs a partition and at least one account id",
            ));
        }
        Ok(KmsKeyring {
            client,
            mode: Mode::Discovery { filter },
        })
    }

    /// The client (for its metrics).
    pub fn client(&self) -> &KmsClient {
        &self.client
    }

    async fn encrypt(&self, mut materials: EncryptionMaterials) -> Result<EncryptionMaterials> {
        let Mode::Strict { generator, key_ids } = &self.mode else {
            return Err(Error::invalid("a discovery KMS keyring cannot encrypt"));
        };
        let key_len = materials.suite.key_len();
        let mut wrap_with: Vec<&String> = Vec::new();
        if materials.data_key.is_none() {
            let Some(gen_id) = generator else {
                return Err(Error::invalid(
                    "no data key yet and this KMS keyring has no generator key",
                ));
            };
            let out = self
                .client
                .generate_data_key(gen_id, key_len, &materials.context)
                .await
                .map_err(KmsError::into_error)?;
            // The client checked: KeyId is a key ARN (= gen_id when that is one) and the
            // plaintext has key_len bytes.
            materials.data_key = Some(out.plaintext);
            materials
                .encrypted_data_keys
                .push(edk(out.key_id, out.ciphertext_blob));
        } else if let Some(gen_id) = generator {
            // A data key made elsewhere (e.g. a raw keyring as the multi-keyring's generator):
            // this keyring's generator key wraps it too (aws-kms-keyring.md OnEncrypt).
            wrap_with.push(gen_id);
        }
        wrap_with.extend(key_ids);
        for key_id in wrap_with {
            let data_key = materials
                .data_key
                .as_ref()
                .ok_or_else(|| Error::invalid("no data key to wrap"))?;
            data_key.check_len(key_len)?;
            let out = self
                .client
                .encrypt(key_id, data_key.expose_secret(), &materials.context)
                .await
                .map_err(KmsError::into_error)?;
            materials
                .encrypted_data_keys
                .push(edk(out.key_id, out.ciphertext_blob));
        }
        Ok(materials)
    }

    /// Whether this keyring should try an EDK whose provider info is `arn`.
    fn matches(&self, info: &str, arn: &KmsArn) -> bool {
        match &self.mode {
            Mode::Strict { generator, key_ids } => {
                generator.iter().chain(key_ids).any(|k| k == info)
            }
            Mode::Discovery { filter: None } => true,
            Mode::Discovery { filter: Some(f) } => {
                arn.partition == f.partition && f.accounts.contains(&arn.account)
            }
        }
    }

    async fn decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Option<Result<DataKey>> {
        // Filter first (aws-kms-keyring.md OnDecrypt): an `aws-kms` EDK whose provider info is
        // not a key ARN MUST fail decryption, before any KMS call.
        let mut candidates: Vec<(&str, &EncryptedDataKey)> = Vec::new();
        for e in edks.iter().filter(|e| e.provider_id == PROVIDER_ID) {
            let info = match std::str::from_utf8(&e.provider_info) {
                Ok(s) => s,
                Err(_) => {
                    return Some(Err(Error::malformed(
                        "aws-kms encrypted data key: provider info is not UTF-8",
                    )));
                }
            };
            let arn = match KmsArn::parse_key(info) {
                Ok(a) => a,
                Err(err) => {
                    return Some(Err(Error::malformed(format!(
                        "aws-kms encrypted data key: {err}"
                    ))));
                }
            };
            if self.matches(info, &arn) {
                candidates.push((info, e));
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let key_len = materials.suite.key_len();
        let mut attempts = Vec::new();
        for (key_arn, e) in candidates {
            match self
                .client
                .decrypt(Some(key_arn), &e.ciphertext, &materials.context)
                .await
            {
                Ok(out) => {
                    // The client already refused another key's answer; keep the MUSTs local.
                    if out.key_id != key_arn {
                        attempts.push(Error::Kms(KmsError::new(
                            KmsErrorKind::KeyIdMismatch,
                            format!("Decrypt answered for {} instead of {key_arn}", out.key_id),
                        )));
                    } else if out.plaintext.len() != key_len {
                        attempts.push(Error::Kms(KmsError::new(
                            KmsErrorKind::MalformedResponse,
                            format!(
                                "Decrypt returned a {}-byte key; the suite needs {key_len}",
                                out.plaintext.len()
                            ),
                        )));
                    } else {
                        return Some(Ok(out.plaintext));
                    }
                }
                Err(err) if err.kind == KmsErrorKind::Aborted => return Some(Err(Error::Aborted)),
                Err(err) => attempts.push(Error::Kms(err)),
            }
        }
        Some(Err(Error::from_attempts(attempts)))
    }
}

fn edk(key_arn: String, ciphertext: Vec<u8>) -> EncryptedDataKey {
    EncryptedDataKey {
        provider_id: PROVIDER_ID.to_string(),
        provider_info: key_arn.into_bytes(),
        ciphertext,
    }
}

impl Keyring for KmsKeyring {
    fn on_encrypt<'a>(
        &'a self,
        materials: EncryptionMaterials,
    ) -> KeyringFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(self.encrypt(materials))
    }

    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> KeyringFuture<'a, Option<Result<DataKey>>> {
        Box::pin(self.decrypt(materials, edks))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::rc::Rc;
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use zeroize::Zeroizing;

    use super::*;
    use crate::format::EncryptionContext;
    use crate::kms::{
        Auth, CancelToken, Credentials, Endpoint, HttpRequest, HttpResponse, KmsFuture, Transport,
    };
    use crate::suite::AlgorithmSuite;

    const A: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaaaaaa-0000-0000-0000-000000000000";
    const B: &str = "arn:aws:kms:eu-west-1:111122223333:key/bbbbbbbb-0000-0000-0000-000000000000";
    const C: &str = "arn:aws:kms:us-east-1:444455556666:key/cccccccc-0000-0000-0000-000000000000";

    /// A fake KMS: wraps by prefixing the key ARN, checks the context like KMS does.
    struct FakeKms {
        calls: RefCell<Vec<(String, serde_json::Value)>>,
        /// Key ARNs whose Decrypt answers `InvalidCiphertextException`.
        broken: Vec<&'static str>,
    }

    impl FakeKms {
        fn new(broken: Vec<&'static str>) -> Rc<Self> {
            Rc::new(FakeKms {
                calls: RefCell::new(vec![]),
                broken,
            })
        }
        fn ops(&self) -> Vec<String> {
            self.calls
                .borrow()
                .iter()
                .map(|(op, _)| op.clone())
                .collect()
        }
        fn answer(&self, op: &str, req: &serde_json::Value) -> (u16, String) {
            let key = req["KeyId"].as_str().unwrap_or("").to_string();
            let ctx = serde_json::to_string(&req["EncryptionContext"]).unwrap();
            let wrap = |pt: &[u8]| {
                let mut blob = format!("{key}|{ctx}|").into_bytes();
                blob.extend_from_slice(pt);
                B64.encode(blob)
            };
            match op {
                "GenerateDataKey" => {
                    let n = req["NumberOfBytes"].as_u64().unwrap() as usize;
                    let pt = vec![9u8; n];
                    let body = serde_json::json!({"KeyId": key, "Plaintext": B64.encode(&pt), "CiphertextBlob": wrap(&pt)});
                    (200, body.to_string())
                }
                "Encrypt" => {
                    let pt = B64.decode(req["Plaintext"].as_str().unwrap()).unwrap();
                    (
                        200,
                        serde_json::json!({"KeyId": key, "CiphertextBlob": wrap(&pt)}).to_string(),
                    )
                }
                _ => {
                    let blob = B64.decode(req["CiphertextBlob"].as_str().unwrap()).unwrap();
                    let prefix = format!("{key}|{ctx}|").into_bytes();
                    if self.broken.contains(&key.as_str()) || !blob.starts_with(&prefix) {
                        return (400, r#"{"__type":"InvalidCiphertextException"}"#.into());
                    }
                    let pt = &blob[prefix.len()..];
                    (
                        200,
                        serde_json::json!({"KeyId": key, "Plaintext": B64.encode(pt)}).to_string(),
                    )
                }
            }
        }
    }

    impl Transport for FakeKms {
        fn send<'a>(
            &'a self,
            request: &'a HttpRequest,
            _timeout: Duration,
            _cancel: &'a CancelToken,
        ) -> KmsFuture<'a, Result<HttpResponse, KmsError>> {
            let op = request
                .header("x-amz-target")
                .unwrap()
                .trim_start_matches("TrentService.")
                .to_string();
            let req: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let (status, body) = self.answer(&op, &req);
            self.calls.borrow_mut().push((op, req));
            Box::pin(async move {
                Ok(HttpResponse {
                    status,
                    headers: vec![],
                    body: Zeroizing::new(body.into_bytes()),
                })
            })
        }
        fn sleep(&self, _d: Duration) -> KmsFuture<'_, ()> {
            Box::pin(async {})
        }
        fn now(&self) -> Duration {
            Duration::from_secs(1_700_000_000)
        }
    }

    fn client(kms: &Rc<FakeKms>) -> KmsClient {
        let auth = Auth::static_credentials(Credentials::new("AK", "SK", None));
        KmsClient::new(
            Endpoint::parse("http://127.0.0.1:1").unwrap(),
            "us-east-1",
            auth,
            kms.clone(),
        )
        .unwrap()
    }

    fn ctx() -> EncryptionContext {
        [("purpose", "test"), ("aws-crypto-public-key", "AgXY")]
            .into_iter()
            .collect()
    }

    fn enc_materials() -> EncryptionMaterials {
        EncryptionMaterials {
            suite: AlgorithmSuite::DEFAULT,
            context: ctx(),
            required_keys: BTreeSet::new(),
            data_key: None,
            encrypted_data_keys: vec![],
        }
    }

    fn dec_materials(context: EncryptionContext) -> DecryptionMaterials {
        DecryptionMaterials {
            suite: AlgorithmSuite::DEFAULT,
            context,
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        pollster::block_on(f)
    }

    #[test]
    fn encrypt_generates_with_the_generator_and_wraps_for_each_extra_key() {
        let kms = FakeKms::new(vec![]);
        let kr = KmsKeyring::strict(client(&kms), Some(A.into()), vec![B.into()]).unwrap();
        let m = run(kr.on_encrypt(enc_materials())).unwrap();
        assert_eq!(kms.ops(), ["GenerateDataKey", "Encrypt"]);
        assert_eq!(m.data_key.as_ref().map(DataKey::len), Some(32));
        let infos: Vec<_> = m
            .encrypted_data_keys
            .iter()
            .map(|e| e.provider_info.clone())
            .collect();
        assert_eq!(infos, [A.as_bytes().to_vec(), B.as_bytes().to_vec()]);
        assert!(
            m.encrypted_data_keys
                .iter()
                .all(|e| e.provider_id == "aws-kms")
        );
        // The full context, reserved key included, went to KMS; NumberOfBytes = suite key length.
        let calls = kms.calls.borrow();
        assert_eq!(calls[0].1["NumberOfBytes"], 32);
        assert_eq!(
            calls[0].1["EncryptionContext"]["aws-crypto-public-key"],
            "AgXY"
        );
        assert_eq!(calls[1].1["EncryptionContext"]["purpose"], "test");
    }

    #[test]
    fn decrypt_round_trips_and_sends_the_key_arn() {
        let kms = FakeKms::new(vec![]);
        let kr = KmsKeyring::strict(client(&kms), Some(A.into()), vec![]).unwrap();
        let m = run(kr.on_encrypt(enc_materials())).unwrap();
        let got = run(kr.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys));
        assert_eq!(got.unwrap().unwrap().expose_secret(), &[9u8; 32]);
        assert_eq!(kms.calls.borrow()[1].1["KeyId"], A);
    }

    #[test]
    fn strict_decrypt_ignores_other_keys_and_answers_none() {
        let kms = FakeKms::new(vec![]);
        let enc = KmsKeyring::strict(client(&kms), Some(A.into()), vec![]).unwrap();
        let m = run(enc.on_encrypt(enc_materials())).unwrap();
        let other = KmsKeyring::strict(client(&kms), Some(B.into()), vec![]).unwrap();
        assert!(run(other.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys)).is_none());
        // An alias never matches a stored key ARN (esdk-format.md §8.1 gotcha).
        let alias = KmsKeyring::strict(client(&kms), Some("alias/app".into()), vec![]).unwrap();
        assert!(run(alias.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys)).is_none());
        assert_eq!(
            kms.ops(),
            ["GenerateDataKey"],
            "no Decrypt call for a non-matching EDK"
        );
    }

    #[test]
    fn failures_are_collected_and_the_next_edk_is_tried() {
        let kms = FakeKms::new(vec![A]);
        let kr = KmsKeyring::strict(client(&kms), Some(A.into()), vec![B.into()]).unwrap();
        let m = run(kr.on_encrypt(enc_materials())).unwrap();
        let got = run(kr.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys));
        assert!(got.unwrap().is_ok(), "B's EDK decrypts after A's fails");
        assert_eq!(
            kms.ops(),
            ["GenerateDataKey", "Encrypt", "Decrypt", "Decrypt"]
        );
    }

    #[test]
    fn wrong_context_surfaces_kms_invalid_ciphertext() {
        let kms = FakeKms::new(vec![]);
        let kr = KmsKeyring::strict(client(&kms), Some(A.into()), vec![B.into()]).unwrap();
        let m = run(kr.on_encrypt(enc_materials())).unwrap();
        let wrong: EncryptionContext = [("purpose", "other")].into_iter().collect();
        let err = run(kr.on_decrypt(&dec_materials(wrong), &m.encrypted_data_keys))
            .unwrap()
            .unwrap_err();
        // Both attempts failed the same way, so the combined error is that error itself.
        assert_eq!(err.code(), "KMS_INVALID_CIPHERTEXT");
    }

    #[test]
    fn edk_with_a_non_arn_provider_info_fails_before_any_call() {
        let kms = FakeKms::new(vec![]);
        let kr = KmsKeyring::discovery(client(&kms), None).unwrap();
        let bad = EncryptedDataKey {
            provider_id: "aws-kms".into(),
            provider_info: b"alias/app".to_vec(),
            ciphertext: vec![1],
        };
        let err = run(kr.on_decrypt(&dec_materials(ctx()), &[bad]))
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code(), "MALFORMED_MESSAGE");
        assert!(kms.ops().is_empty());
        let foreign = EncryptedDataKey {
            provider_id: "raw-ns".into(),
            provider_info: b"x".to_vec(),
            ciphertext: vec![1],
        };
        assert!(run(kr.on_decrypt(&dec_materials(ctx()), &[foreign])).is_none());
    }

    #[test]
    fn discovery_filter_limits_partition_and_accounts() {
        let kms = FakeKms::new(vec![]);
        let enc = KmsKeyring::strict(client(&kms), Some(C.into()), vec![]).unwrap();
        let m = run(enc.on_encrypt(enc_materials())).unwrap();
        let only_111 = DiscoveryFilter {
            partition: "aws".into(),
            accounts: vec!["111122223333".into()],
        };
        let kr = KmsKeyring::discovery(client(&kms), Some(only_111)).unwrap();
        assert!(run(kr.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys)).is_none());
        let cn = DiscoveryFilter {
            partition: "aws-cn".into(),
            accounts: vec!["444455556666".into()],
        };
        let kr = KmsKeyring::discovery(client(&kms), Some(cn)).unwrap();
        assert!(run(kr.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys)).is_none());
        let kr = KmsKeyring::discovery(client(&kms), None).unwrap();
        assert!(
            run(kr.on_decrypt(&dec_materials(ctx()), &m.encrypted_data_keys))
                .unwrap()
                .is_ok()
        );
        assert!(
            run(kr.on_encrypt(enc_materials())).is_err(),
            "discovery cannot encrypt"
        );
    }

    #[test]
    fn existing_data_key_is_wrapped_by_the_generator_key_too() {
        let kms = FakeKms::new(vec![]);
        let kr = KmsKeyring::strict(client(&kms), Some(A.into()), vec![]).unwrap();
        let mut mat = enc_materials();
        mat.data_key = Some(DataKey::from_bytes(vec![3u8; 32]));
        let m = run(kr.on_encrypt(mat)).unwrap();
        assert_eq!(kms.ops(), ["Encrypt"]);
        assert_eq!(m.encrypted_data_keys.len(), 1);
        let no_gen = KmsKeyring::strict(client(&kms), None, vec![B.into()]).unwrap();
        assert_eq!(
            run(no_gen.on_encrypt(enc_materials())).unwrap_err().code(),
            "INVALID_ARGUMENT"
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let kms = FakeKms::new(vec![]);
        assert!(KmsKeyring::strict(client(&kms), None, vec![]).is_err());
        assert!(KmsKeyring::strict(client(&kms), Some(String::new()), vec![]).is_err());
        let empty = DiscoveryFilter {
            partition: "aws".into(),
            accounts: vec![],
        };
        assert!(KmsKeyring::discovery(client(&kms), Some(empty)).is_err());
    }
}
