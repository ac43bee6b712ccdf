//! The JS bindings: the only module with `#[wasm_bindgen]`. Compiled on wasm32 with the `wasm`
//! feature (on by default), so `wasm-pack build` needs no extra flags.
//!
//! Every error thrown is a real `Error` with `name = "EnvelopeError"` and a stable `code`.
//! Typed-array inputs are read through their own `byteOffset`/`byteLength`, never their whole
//! buffer.

mod client;
mod error;
mod hash;
mod keyrings;
mod options;
mod session;

pub(crate) use error::message_of;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::format::{ContentType, Limits, ParsedHeader, Progress, parse_header};
// SigV4's lowercase hex, not `format!("{b:02x}")` per byte (a second copy for 0.1 KB gzip).
use crate::kms::sigv4::hex;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// A panic's message goes to `console.error` (the trap that follows carries the stack). Not
/// console_error_panic_hook: it appends a second stack for 0.5 KB gzip more.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| console_error(&info.to_string())));
}

pub(crate) fn header_to_js(h: &ParsedHeader, authenticated: bool) -> JsValue {
    let b = &h.body;
    let obj = Object::new();
    let set = |o: &Object, k: &str, v: JsValue| {
        let _ = Reflect::set(o, &k.into(), &v);
    };
    set(&obj, "version", b.version().into());
    set(&obj, "suiteId", b.suite.id().into());
    set(&obj, "suiteName", b.suite.name().into());
    set(&obj, "messageId", hex(&b.message_id).into());
    set(
        &obj,
        "encryptionContext",
        options::context_to_js(&b.context),
    );
    let edks = Array::new();
    for e in &b.encrypted_data_keys {
        let o = Object::new();
        set(&o, "providerId", e.provider_id.as_str().into());
        set(
            &o,
            "providerInfo",
            std::str::from_utf8(&e.provider_info)
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL),
        );
        set(&o, "providerInfoHex", hex(&e.provider_info).into());
        set(&o, "ciphertextLength", (e.ciphertext.len() as u32).into());
        edks.push(&o);
    }
    set(&obj, "encryptedDataKeys", edks.into());
    set(
        &obj,
        "contentType",
        match b.content_type {
            ContentType::Framed => "framed",
            ContentType::NonFramed => "non-framed",
        }
        .into(),
    );
    set(&obj, "frameLength", b.frame_length.into());
    set(&obj, "headerLength", (h.raw.len() as u32).into());
    set(&obj, "authenticated", authenticated.into());
    obj.into()
}

fn parse_header_js(bytes: &Uint8Array) -> Result<JsValue, JsValue> {
    let limits = Limits {
        max_encrypted_data_keys: usize::from(u16::MAX),
        ..Limits::default()
    };
    // Read only as much as the header needs.
    let mut want = 4096u32.min(bytes.length());
    loop {
        let data = bytes.subarray(0, want).to_vec();
        match parse_header(&data, &limits).map_err(error::to_js)? {
            Progress::Done { value, .. } => return Ok(header_to_js(&value, false)),
            Progress::NeedMore(n) => {
                if want == bytes.length() {
                    return Err(error::to_js(crate::Error::Truncated));
                }
                want = (want as usize + n.max(want as usize)).min(bytes.length() as usize) as u32;
            }
        }
    }
}

/// Parse a message header without decrypting: suite, message id, context, encrypted data keys,
/// frame length. Nothing here is authenticated yet.
#[wasm_bindgen(js_name = parseHeader, unchecked_return_type = "MessageHeader")]
pub fn parse_header_export(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> Result<JsValue, JsValue> {
    parse_header_js(&options::as_uint8array(&bytes, "bytes")?)
}

/// Whether `e` is an `EnvelopeError` thrown by this library.
#[wasm_bindgen(js_name = isEnvelopeError, skip_typescript)]
pub fn is_envelope_error(e: JsValue) -> bool {
    error::is_envelope_error(&e)
}

/// Every error code this library throws.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "EnvelopeErrorCode[]")]
pub fn error_codes() -> Array {
    crate::Error::ALL_CODES
        .iter()
        .map(|c| JsValue::from_str(c))
        .collect()
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");
