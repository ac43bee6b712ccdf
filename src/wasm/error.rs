//! Errors at the JS boundary: a real `Error` with `name = "EnvelopeError"` and a stable `code`.

use wasm_bindgen::{JsCast, JsValue};

use crate::error::Error;

/// Convert a crate error into a thrown JS `Error` with `name`, `code` and `message`.
pub fn to_js(e: Error) -> JsValue {
    js_error(e.code(), &e.to_string())
}

/// A JS `EnvelopeError` with `code`.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("EnvelopeError");
    let _ = js_sys::Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

/// `INVALID_ARGUMENT` naming the option at fault.
pub fn invalid(field: &str, why: &str) -> JsValue {
    js_error(
        "INVALID_ARGUMENT",
        &format!("invalid argument: {field}: {why}"),
    )
}

/// Map a JS exception from WebCrypto or a stream into our codes: an `OperationError` from
/// AES-GCM decrypt is an authentication failure; an `AbortError` is `ABORTED`.
pub fn from_js(e: &JsValue, auth_on_operation_error: bool) -> JsValue {
    let name = js_sys::Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    if is_envelope_error(e) {
        return e.clone();
    }
    match name.as_str() {
        "OperationError" if auth_on_operation_error => to_js(Error::AuthenticationFailed),
        "AbortError" => to_js(Error::Aborted),
        _ => js_error("IO_ERROR", &format!("i/o error: {name}: {}", message_of(e))),
    }
}

/// What a thrown JS value says: its `message`, else the value itself if a string. Not `{:?}`:
/// `JsValue`'s Debug brings wasm-bindgen's `debugString` into the glue (−0.4 KB gzip).
pub fn message_of(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "(a thrown value that is neither an Error nor a string)".into())
}

/// Whether `e` is an `EnvelopeError` we threw.
pub fn is_envelope_error(e: &JsValue) -> bool {
    e.is_instance_of::<js_sys::Error>()
        && js_sys::Reflect::get(e, &"name".into())
            .ok()
            .and_then(|n| n.as_string())
            .as_deref()
            == Some("EnvelopeError")
        && js_sys::Reflect::get(e, &"code".into())
            .ok()
            .is_some_and(|c| c.is_string())
}
