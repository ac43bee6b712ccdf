//! The async client: configuration with secure defaults, one-shot `encrypt`/`decrypt`, and the
//! drivers that connect the sans-IO engine to keyrings.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cache::{self, CachedMaterials, Lookup, MaterialsCache};
use crate::crypto::SigningKey;
use crate::error::{Error, Result, quoted};
use crate::format::context::PUBLIC_KEY_FIELD;
use crate::format::{
    DEFAULT_FRAME_LENGTH, EncryptionContext, Limits, MAX_FRAME_LENGTH, ParsedHeader,
};
use crate::keyring::{EncryptionMaterials, Keyring};
use crate::stream::{DecryptParams, DecryptState, Decryptor, EncryptParams, Encryptor};
use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// Encrypts and decrypts with one keyring and one set of options.
#[derive(Clone)]
pub struct Client {
    keyring: Arc<dyn Keyring>,
    /// The suite chosen with [`Client::with_suite`]; otherwise the policy's default.
    suite: Option<AlgorithmSuite>,
    frame_length: u32,
    commitment_policy: CommitmentPolicy,
    limits: Limits,
    /// Data-key cache and its partition id (see [`Client::with_cache`]).
    cache: Option<(Arc<MaterialsCache>, Arc<[u8]>)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("suite", &self.suite())
            .field("frame_length", &self.frame_length)
            .field("commitment_policy", &self.commitment_policy)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Per-call encryption options.
#[derive(Debug, Clone, Default)]
pub struct EncryptOptions {
    /// Pairs bound to the message (and sent to KMS).
    pub context: EncryptionContext,
    /// Keys of `context` that are bound but not stored: decrypt must supply them
    /// (ESDK required-encryption-context keys).
    pub required_keys: BTreeSet<String>,
}

/// The result of a one-shot decrypt.
#[derive(Debug)]
pub struct Decrypted {
    /// The verified plaintext.
    pub plaintext: Vec<u8>,
    /// The full, authenticated encryption context.
    pub context: EncryptionContext,
    /// The authenticated header.
    pub header: ParsedHeader,
}

impl Client {
    /// A client with secure defaults: suite 0x0578, 64 KiB frames,
    /// `REQUIRE_ENCRYPT_REQUIRE_DECRYPT`, at most 16 encrypted data keys.
    pub fn new(keyring: Arc<dyn Keyring>) -> Self {
        Client {
            keyring,
            suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            commitment_policy: CommitmentPolicy::default(),
            limits: Limits::default(),
            cache: None,
        }
    }

    /// Reuse data keys through `cache` (shareable between clients; entries are separated by
    /// `partition`). Encrypt reuses materials for messages with the same context, suite and
    /// policy within the cache's limits — for signing suites the cached materials include the
    /// signing key, as in the ESDK caching CMM — and needs the plaintext length
    /// ([`encrypt`](Self::encrypt) or [`start_encrypt_sized`](Self::start_encrypt_sized)).
    /// Decrypt reuses unwrapped keys for the same suite, EDKs and full context.
    pub fn with_cache(mut self, cache: Arc<MaterialsCache>, partition: impl Into<Vec<u8>>) -> Self {
        self.cache = Some((cache, partition.into().into()));
        self
    }

    /// Choose the suite to encrypt with: 0x0478 or 0x0578 — or, under
    /// `FORBID_ENCRYPT_ALLOW_DECRYPT` only, a legacy non-committing suite for readers that
    /// predate key commitment (all but 0x0214, whose P-256 signing is not implemented).
    ///
    /// # Errors
    /// `UNSUPPORTED_SUITE` for 0x0214; `COMMITMENT_POLICY` when the policy forbids the suite.
    pub fn with_suite(mut self, suite: AlgorithmSuite) -> Result<Self> {
        if suite == AlgorithmSuite::Aes128GcmHkdfSha256EcdsaP256 {
            return Err(Error::UnsupportedSuite(suite.id()));
        }
        self.commitment_policy.check_encrypt(suite)?;
        self.suite = Some(suite);
        Ok(self)
    }

    /// Choose the frame length (1 … 2^31 − 1).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` outside that range.
    pub fn with_frame_length(mut self, frame_length: u32) -> Result<Self> {
        if frame_length == 0 || frame_length > MAX_FRAME_LENGTH {
            return Err(Error::invalid(format!(
                "frame length must be between 1 and {MAX_FRAME_LENGTH}, got {frame_length}"
            )));
        }
        self.frame_length = frame_length;
        if self.limits.max_frame_length < frame_length {
            self.limits.max_frame_length = frame_length;
        }
        Ok(self)
    }

    /// Raise or lower the largest frame length accepted on decrypt (default 64 MiB; memory use
    /// of a streaming decrypt grows with it).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for 0 or more than 2^31 − 1.
    pub fn with_max_frame_length(mut self, max: u32) -> Result<Self> {
        if max == 0 || max > MAX_FRAME_LENGTH {
            return Err(Error::invalid(format!(
                "max frame length must be between 1 and {MAX_FRAME_LENGTH}, got {max}"
            )));
        }
        self.limits.max_frame_length = max;
        Ok(self)
    }

    /// Choose the commitment policy.
    pub fn with_commitment_policy(mut self, policy: CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }

    /// Set the maximum number of encrypted data keys (both directions).
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` for 0.
    pub fn with_max_encrypted_data_keys(mut self, max: usize) -> Result<Self> {
        if max == 0 {
            return Err(Error::invalid("maxEncryptedDataKeys must be at least 1"));
        }
        self.limits.max_encrypted_data_keys = max;
        Ok(self)
    }

    /// Replace all limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The suite encryption uses: the chosen one, else 0x0578 — or 0x0378 under
    /// `FORBID_ENCRYPT_ALLOW_DECRYPT`, as the Python and JS SDKs do.
    pub fn suite(&self) -> AlgorithmSuite {
        match (self.suite, self.commitment_policy) {
            (Some(s), _) => s,
            (None, CommitmentPolicy::ForbidEncryptAllowDecrypt) => {
                AlgorithmSuite::Aes256GcmHkdfSha384EcdsaP384
            }
            (None, _) => AlgorithmSuite::DEFAULT,
        }
    }

    /// The configured frame length.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }

    /// The configured commitment policy.
    pub fn commitment_policy(&self) -> CommitmentPolicy {
        self.commitment_policy
    }

    /// The configured limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Run the keyrings and return an [`Encryptor`] whose first output is the header.
    ///
    /// # Errors
    /// `INVALID_ARGUMENT` (reserved or oversized context, required key not in the context),
    /// `COMMITMENT_POLICY`, `TOO_MANY_ENCRYPTED_DATA_KEYS`, or the keyring's error.
    pub async fn start_encrypt(&self, options: &EncryptOptions) -> Result<Encryptor> {
        self.start_encrypt_sized(options, None).await
    }

    /// [`start_encrypt`](Self::start_encrypt) for a plaintext of `plaintext_len` bytes, which
    /// lets the data-key cache count bytes (an unknown length bypasses the cache).
    ///
    /// # Errors
    /// As [`start_encrypt`](Self::start_encrypt).
    pub async fn start_encrypt_sized(
        &self,
        options: &EncryptOptions,
        plaintext_len: Option<u64>,
    ) -> Result<Encryptor> {
        let suite = self.suite();
        self.commitment_policy.check_encrypt(suite)?;
        options.context.validate_caller()?;
        if let Some(k) = options
            .required_keys
            .iter()
            .find(|k| !options.context.contains_key(k))
        {
            return Err(Error::invalid(format!(
                "required context key {} is not in the encryption context",
                quoted(k)
            )));
        }
        let cache_key = match &self.cache {
            Some((c, partition)) => {
                let key = cache::encryption_key(
                    partition,
                    Some(suite),
                    self.commitment_policy,
                    &options.context,
                    &options.required_keys,
                )?;
                if let Lookup::Hit(CachedMaterials::Encrypt {
                    data_key,
                    encrypted_data_keys,
                    context,
                    signing_key,
                }) = c.get_encrypt(&key, suite, plaintext_len)
                {
                    return Encryptor::new(EncryptParams {
                        suite,
                        context,
                        required_keys: options.required_keys.clone(),
                        data_key,
                        encrypted_data_keys,
                        signing_key: signing_key.map(|k| *k),
                        frame_length: self.frame_length,
                        message_id: None,
                    });
                }
                Some((c, key))
            }
            None => None,
        };
        let mut context = options.context.clone();
        let signing_key = match suite.signature() {
            Some(_) => {
                let sk = SigningKey::generate()?;
                context.insert(PUBLIC_KEY_FIELD, sk.public_key_base64());
                Some(sk)
            }
            None => None,
        };
        context.serialized_len()?;
        let materials = EncryptionMaterials {
            suite,
            context,
            required_keys: options.required_keys.clone(),
            data_key: None,
            encrypted_data_keys: Vec::new(),
        };
        let materials = self.keyring.on_encrypt(materials).await?;
        let data_key = materials
            .data_key
            .ok_or_else(|| Error::invalid("the keyring produced no data key"))?;
        data_key.check_len(suite.key_len())?;
        let count = materials.encrypted_data_keys.len();
        if count == 0 {
            return Err(Error::invalid("the keyring produced no encrypted data key"));
        }
        if count > self.limits.max_encrypted_data_keys {
            return Err(Error::TooManyEncryptedDataKeys {
                count,
                max: self.limits.max_encrypted_data_keys,
            });
        }
        if let Some((c, key)) = cache_key {
            let entry = CachedMaterials::Encrypt {
                data_key: data_key.clone(),
                encrypted_data_keys: materials.encrypted_data_keys.clone(),
                context: materials.context.clone(),
                signing_key: signing_key.clone().map(Box::new),
            };
            c.put_encrypt(key, suite, plaintext_len, entry);
        }
        Encryptor::new(EncryptParams {
            suite,
            context: materials.context,
            required_keys: materials.required_keys,
            data_key,
            encrypted_data_keys: materials.encrypted_data_keys,
            signing_key,
            frame_length: self.frame_length,
            message_id: None,
        })
    }

    /// Encrypt a whole plaintext.
    ///
    /// # Errors
    /// As [`start_encrypt`](Self::start_encrypt).
    pub async fn encrypt(&self, plaintext: &[u8], options: &EncryptOptions) -> Result<Vec<u8>> {
        let len = u64::try_from(plaintext.len()).ok();
        let mut enc = self.start_encrypt_sized(options, len).await?;
        let mut out = enc.take_output();
        out.reserve(plaintext.len() + plaintext.len() / 64 + 256);
        enc.push(plaintext)?;
        enc.finish()?;
        out.extend_from_slice(&enc.take_output());
        Ok(out)
    }

    /// A decryptor with this client's policy and limits and the caller's reproduced context.
    pub fn start_decrypt(&self, reproduced_context: &EncryptionContext) -> Decryptor {
        Decryptor::new(DecryptParams {
            commitment_policy: self.commitment_policy,
            limits: self.limits.clone(),
            reproduced_context: reproduced_context.clone(),
            forbid_signed: false,
        })
    }

    /// If `decryptor` waits for its data key, ask the keyring and provide it. Call after every
    /// `push`.
    ///
    /// # Errors
    /// `NO_DECRYPTABLE_KEY` (or the single keyring error behind it), then whatever
    /// [`Decryptor::provide_data_key`] reports.
    pub async fn unlock(&self, decryptor: &mut Decryptor) -> Result<()> {
        if decryptor.state() != DecryptState::NeedDataKey {
            return Ok(());
        }
        let key = {
            let Some((materials, header)) = decryptor.key_request() else {
                return Ok(());
            };
            let edks = &header.body.encrypted_data_keys;
            let cached = match &self.cache {
                Some((c, partition)) => {
                    let key = cache::decryption_key(
                        partition,
                        materials.suite,
                        self.commitment_policy,
                        edks,
                        &materials.context,
                    )?;
                    if let Some(CachedMaterials::Decrypt(data_key)) = c.get_decrypt(&key) {
                        return decryptor.provide_data_key(&data_key);
                    }
                    Some((c, key))
                }
                None => None,
            };
            match self.keyring.on_decrypt(&materials, edks).await {
                Some(Ok(key)) => {
                    if let Some((c, k)) = cached {
                        c.put_decrypt(k, CachedMaterials::Decrypt(key.clone()));
                    }
                    key
                }
                Some(Err(e)) => return Err(e),
                None => {
                    // Sorted, distinct (a BTreeSet's collect would add a std sort to the wasm).
                    let mut providers: Vec<&str> =
                        edks.iter().map(|e| e.provider_id.as_str()).collect();
                    crate::sort::heapsort(&mut providers);
                    providers.dedup();
                    return Err(Error::NoDecryptableKey {
                        reason: format!(
                            "no configured keyring matches the message's keys (providers: {})",
                            providers.join(", ")
                        ),
                        attempts: Vec::new(),
                    });
                }
            }
        };
        decryptor.provide_data_key(&key)
    }

    /// Decrypt a whole message; returns nothing unless everything, including the signature,
    /// verified.
    ///
    /// # Errors
    /// Any decryption error.
    pub async fn decrypt(
        &self,
        ciphertext: &[u8],
        reproduced_context: &EncryptionContext,
    ) -> Result<Decrypted> {
        let mut dec = self.start_decrypt(reproduced_context);
        dec.push(ciphertext)?;
        self.unlock(&mut dec).await?;
        dec.finish()?;
        let header = dec.header().cloned().ok_or(Error::Truncated)?;
        let context = dec.context().cloned().ok_or(Error::Truncated)?;
        Ok(Decrypted {
            plaintext: dec.take_output(),
            context,
            header,
        })
    }
}
