//! Keyring classes for JS. Each instance registers its `Arc<dyn Keyring>` under a handle so other
//! objects (a `MultiKeyring`, an `EnvelopeClient`) can share it without taking it from JS.

#![allow(clippy::arc_with_non_send_sync)] // browser keyrings hold JS values and are never sent

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::error::{invalid, to_js};
use super::options as opt;
use crate::keyring::{self, Keyring};
use crate::kms::fetch::FetchTransport;
use crate::kms::{
    Auth, Credentials, CredentialsProvider, Endpoint, FetchCredentials, KmsClient, KmsError,
    KmsErrorKind, KmsFuture, Metrics, ProxyAuth, RetryPolicy,
};

thread_local! {
    // The live keyrings, a handful: a list (this HashMap<u32, _> cost 1.1 KB gzip of wasm).
    static REGISTRY: RefCell<(u32, Vec<(u32, Entry)>)> = const { RefCell::new((0, Vec::new())) };
}

#[derive(Clone)]
pub struct Entry {
    pub keyring: Arc<dyn Keyring>,
    /// Metrics of the KMS clients inside (shared counters).
    pub metrics: Vec<Metrics>,
}

/// A registry slot, released when the JS object is freed.
pub struct Handle(u32);

impl Handle {
    fn register(entry: Entry) -> Handle {
        REGISTRY.with(|r| {
            let mut r = r.borrow_mut();
            r.0 = r.0.wrapping_add(1);
            let id = r.0;
            r.1.push((id, entry));
            Handle(id)
        })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        REGISTRY.with(|r| r.borrow_mut().1.retain(|(id, _)| *id != self.0));
    }
}

const HANDLE_PROP: &str = "__kmsEnvelopeKeyring";

/// The keyring behind a JS keyring object (`RawAesKeyring`, `KmsKeyring`, `MultiKeyring`).
pub fn lookup(value: &JsValue, field: &str) -> Result<Entry, JsValue> {
    let id = Reflect::get(value, &HANDLE_PROP.into())
        .ok()
        .and_then(|v| v.as_f64())
        .ok_or_else(|| invalid(field, "must be a RawAesKeyring, KmsKeyring or MultiKeyring"))?;
    REGISTRY
        .with(|r| {
            let r = r.borrow();
            r.1.iter()
                .find(|(i, _)| *i == id as u32)
                .map(|(_, e)| e.clone())
        })
        .ok_or_else(|| invalid(field, "keyring was freed"))
}

/// A local AES wrapping key (ESDK raw AES keyring).
#[wasm_bindgen]
pub struct RawAesKeyring {
    handle: Handle,
}

#[wasm_bindgen]
impl RawAesKeyring {
    /// `new RawAesKeyring({ keyNamespace, keyName, wrappingKey })`; `wrappingKey` is 16, 24 or
    /// 32 bytes and is copied (zeroize your copy if you like).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "RawAesKeyringOptions")] options: JsValue,
    ) -> Result<RawAesKeyring, JsValue> {
        let ns = opt::string(&options, "keyNamespace")?
            .ok_or_else(|| invalid("keyNamespace", "is required"))?;
        let name =
            opt::string(&options, "keyName")?.ok_or_else(|| invalid("keyName", "is required"))?;
        let key = zeroize::Zeroizing::new(opt::bytes_of(
            &opt::required(&options, "wrappingKey")?,
            "wrappingKey",
        )?);
        if ![16, 24, 32].contains(&key.len()) {
            return Err(invalid("wrappingKey", "must be 16, 24 or 32 bytes"));
        }
        let ring = keyring::RawAesKeyring::new(&ns, &name, &key).map_err(to_js)?;
        Ok(RawAesKeyring {
            handle: Handle::register(Entry {
                keyring: Arc::new(ring),
                metrics: Vec::new(),
            }),
        })
    }

    #[wasm_bindgen(getter = __kmsEnvelopeKeyring, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle.0
    }
}

/// A generator keyring plus children.
#[wasm_bindgen]
pub struct MultiKeyring {
    handle: Handle,
}

#[wasm_bindgen]
impl MultiKeyring {
    /// `new MultiKeyring({ generator?, children? })`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "MultiKeyringOptions")] options: JsValue,
    ) -> Result<MultiKeyring, JsValue> {
        let generator = opt::get(&options, "generator")?
            .map(|g| lookup(&g, "generator"))
            .transpose()?;
        let mut children = Vec::new();
        if let Some(list) = opt::get(&options, "children")? {
            if !js_sys::Array::is_array(&list) {
                return Err(invalid("children", "must be an array of keyrings"));
            }
            for (i, c) in js_sys::Array::from(&list).iter().enumerate() {
                children.push(lookup(&c, &format!("children[{i}]"))?);
            }
        }
        let mut metrics: Vec<Metrics> = generator.iter().flat_map(|g| g.metrics.clone()).collect();
        metrics.extend(children.iter().flat_map(|c| c.metrics.clone()));
        let ring = keyring::MultiKeyring::new(
            generator.map(|g| g.keyring),
            children.into_iter().map(|c| c.keyring).collect(),
        )
        .map_err(|e| invalid("children", &e.to_string()))?;
        Ok(MultiKeyring {
            handle: Handle::register(Entry {
                keyring: Arc::new(ring),
                metrics,
            }),
        })
    }

    #[wasm_bindgen(getter = __kmsEnvelopeKeyring, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle.0
    }
}

/// Credentials from a JS callback (e.g. refreshed from Cognito).
struct JsCredentials(Function);

impl CredentialsProvider for JsCredentials {
    fn credentials(&self) -> KmsFuture<'_, Result<Credentials, KmsError>> {
        let f = self.0.clone();
        Box::pin(async move {
            let bad = |m: &str| {
                KmsError::new(
                    KmsErrorKind::AccessDenied,
                    format!("credentials provider: {m}"),
                )
            };
            let v = f.call0(&JsValue::NULL).map_err(|_| bad("threw"))?;
            let v = if v.is_instance_of::<Promise>() {
                JsFuture::from(Promise::from(v))
                    .await
                    .map_err(|_| bad("rejected"))?
            } else {
                v
            };
            credentials_from(&v).map_err(|_| bad("returned no {accessKeyId, secretAccessKey}"))
        })
    }
}

fn credentials_from(v: &JsValue) -> Result<Credentials, JsValue> {
    let id = opt::string(v, "accessKeyId")?
        .ok_or_else(|| invalid("credentials.accessKeyId", "is required"))?;
    let secret = opt::string(v, "secretAccessKey")?
        .ok_or_else(|| invalid("credentials.secretAccessKey", "is required"))?;
    Ok(Credentials::new(
        id,
        secret,
        opt::string(v, "sessionToken")?,
    ))
}

fn string_list(options: &JsValue, field: &str) -> Result<Vec<String>, JsValue> {
    match opt::get(options, field)? {
        None => Ok(Vec::new()),
        Some(v) if js_sys::Array::is_array(&v) => js_sys::Array::from(&v)
            .iter()
            .map(|s| {
                s.as_string()
                    .ok_or_else(|| invalid(field, "must be an array of strings"))
            })
            .collect(),
        Some(_) => Err(invalid(field, "must be an array of strings")),
    }
}

/// Wraps data keys with a KMS key over the AWS KMS JSON API (AWS KMS, moto, the dev KMS).
#[wasm_bindgen]
pub struct KmsKeyring {
    handle: Handle,
}

#[wasm_bindgen]
impl KmsKeyring {
    /// See `KmsKeyringOptions` in the type definitions.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "KmsKeyringOptions")] options: JsValue,
    ) -> Result<KmsKeyring, JsValue> {
        let region =
            opt::string(&options, "region")?.ok_or_else(|| invalid("region", "is required"))?;
        let endpoint = match opt::string(&options, "endpoint")? {
            Some(url) => Endpoint::parse(&url).map_err(|e| invalid("endpoint", &e.message))?,
            None => Endpoint::for_region(&region).map_err(|e| invalid("region", &e.message))?,
        };
        let auth = match opt::get(&options, "credentials")? {
            Some(c) if c.is_function() => Auth::SigV4(Rc::new(JsCredentials(c.into()))),
            Some(c) => Auth::static_credentials(credentials_from(&c)?),
            None => {
                let mut headers = Vec::new();
                if let Some(h) = opt::get(&options, "headers")? {
                    for (k, v) in opt::context(Some(h), "headers")?.iter() {
                        headers.push((k.to_owned(), v.to_owned()));
                    }
                }
                let fetch_credentials = match opt::string(&options, "fetchCredentials")?.as_deref()
                {
                    None | Some("omit") => FetchCredentials::Omit,
                    Some("same-origin") => FetchCredentials::SameOrigin,
                    Some("include") => FetchCredentials::Include,
                    Some(_) => {
                        return Err(invalid(
                            "fetchCredentials",
                            "must be omit, same-origin or include",
                        ));
                    }
                };
                Auth::Proxy(ProxyAuth {
                    headers,
                    fetch_credentials,
                    sigv4_shaped_authorization: opt::boolean(&options, "sigv4ShapedAuthorization")?
                        .unwrap_or(false),
                })
            }
        };
        let mut client = KmsClient::new(endpoint, region, auth, Rc::new(FetchTransport))
            .map_err(|e| invalid("credentials", &e.message))?;
        if let Some(ms) = opt::integer(&options, "timeoutMs", 600_000.0)? {
            client = client.with_timeout(Duration::from_millis(ms as u64));
        }
        if let Some(r) = opt::get(&options, "retry")? {
            let d = RetryPolicy::default();
            let ms = |f: &str, def: Duration| -> Result<Duration, JsValue> {
                Ok(opt::integer(&r, f, 600_000.0)?
                    .map(|v| Duration::from_millis(v as u64))
                    .unwrap_or(def))
            };
            client = client.with_retry_policy(RetryPolicy {
                max_attempts: opt::integer(&r, "maxAttempts", 20.0)?
                    .map(|v| v.max(1.0) as u32)
                    .unwrap_or(d.max_attempts),
                base_delay: ms("baseDelayMs", d.base_delay)?,
                max_delay: ms("maxDelayMs", d.max_delay)?,
                max_total: ms("maxTotalMs", d.max_total)?,
            });
        }
        let grant_tokens = string_list(&options, "grantTokens")?;
        if !grant_tokens.is_empty() {
            client = client.with_grant_tokens(grant_tokens);
        }
        let metrics = client.metrics().clone();
        let ring = if opt::boolean(&options, "discovery")?.unwrap_or(false) {
            let filter = match opt::get(&options, "discoveryFilter")? {
                Some(f) => Some(keyring::DiscoveryFilter {
                    partition: opt::string(&f, "partition")?.unwrap_or_else(|| "aws".into()),
                    accounts: string_list(&f, "accountIds")?,
                }),
                None => None,
            };
            keyring::KmsKeyring::discovery(client, filter)
                .map_err(|e| invalid("discoveryFilter", &e.to_string()))?
        } else {
            let generator = opt::string(&options, "generatorKeyId")?;
            let key_ids = string_list(&options, "keyIds")?;
            keyring::KmsKeyring::strict(client, generator, key_ids)
                .map_err(|e| invalid("generatorKeyId", &e.to_string()))?
        };
        Ok(KmsKeyring {
            handle: Handle::register(Entry {
                keyring: Arc::new(ring),
                metrics: vec![metrics],
            }),
        })
    }

    #[wasm_bindgen(getter = __kmsEnvelopeKeyring, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle.0
    }
}
