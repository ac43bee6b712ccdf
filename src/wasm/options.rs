//! Reading option objects. Every bad field throws `INVALID_ARGUMENT` naming it.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::error::invalid;
use crate::format::EncryptionContext;
use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// `options[field]`, or `None` when absent/undefined/null.
pub fn get(options: &JsValue, field: &str) -> Result<Option<JsValue>, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    if !options.is_object() {
        return Err(invalid("options", "must be an object"));
    }
    let v = Reflect::get(options, &field.into()).map_err(|_| invalid(field, "unreadable"))?;
    Ok(if v.is_undefined() || v.is_null() {
        None
    } else {
        Some(v)
    })
}

pub fn required(options: &JsValue, field: &str) -> Result<JsValue, JsValue> {
    get(options, field)?.ok_or_else(|| invalid(field, "is required"))
}

pub fn string(options: &JsValue, field: &str) -> Result<Option<String>, JsValue> {
    match get(options, field)? {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| invalid(field, "must be a string")),
    }
}

pub fn boolean(options: &JsValue, field: &str) -> Result<Option<bool>, JsValue> {
    match get(options, field)? {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid(field, "must be a boolean")),
    }
}

/// A non-negative integer no larger than `max`.
pub fn integer(options: &JsValue, field: &str, max: f64) -> Result<Option<f64>, JsValue> {
    match get(options, field)? {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && (0.0..=max).contains(&n) => Ok(Some(n)),
            // `max` is a whole number: print it as one (f64 Display pulls in ~14 KB of float
            // formatting).
            _ => Err(invalid(
                field,
                &format!("must be an integer between 0 and {}", max as u64),
            )),
        },
    }
}

/// Bytes of a `Uint8Array` (honouring its `byteOffset`/`byteLength`), `ArrayBuffer` or other
/// `ArrayBufferView`.
pub fn bytes_of(v: &JsValue, field: &str) -> Result<Vec<u8>, JsValue> {
    as_uint8array(v, field).map(|a| a.to_vec())
}

/// A `Uint8Array` view of exactly the bytes the caller passed.
pub fn as_uint8array(v: &JsValue, field: &str) -> Result<Uint8Array, JsValue> {
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.clone());
    }
    if v.is_instance_of::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(v));
    }
    if js_sys::ArrayBuffer::is_view(v) {
        // Any other view (DataView, Int16Array…): its own window on its buffer.
        let buffer = Reflect::get(v, &"buffer".into())?;
        let offset = Reflect::get(v, &"byteOffset".into())?
            .as_f64()
            .unwrap_or(0.0);
        let length = Reflect::get(v, &"byteLength".into())?
            .as_f64()
            .unwrap_or(0.0);
        return Ok(Uint8Array::new_with_byte_offset_and_length(
            &buffer,
            offset as u32,
            length as u32,
        ));
    }
    Err(invalid(
        field,
        "must be a Uint8Array, ArrayBuffer or ArrayBufferView",
    ))
}

/// An encryption context: a plain object of string values (or a `Map`).
pub fn context(v: Option<JsValue>, field: &str) -> Result<EncryptionContext, JsValue> {
    let Some(v) = v else {
        return Ok(EncryptionContext::new());
    };
    let entries: js_sys::Array = if let Some(m) = v.dyn_ref::<js_sys::Map>() {
        js_sys::Array::from(&m.entries())
    } else if v.is_object() && !js_sys::Array::is_array(&v) {
        Object::entries(v.unchecked_ref())
    } else {
        return Err(invalid(field, "must be an object of string values"));
    };
    let mut ctx = EncryptionContext::new();
    for entry in entries.iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        let (k, val) = (pair.get(0), pair.get(1));
        let (Some(k), Some(val)) = (k.as_string(), val.as_string()) else {
            return Err(invalid(field, "keys and values must be strings"));
        };
        ctx.insert(k, val);
    }
    Ok(ctx)
}

/// The context as a plain JS object.
pub fn context_to_js(ctx: &EncryptionContext) -> JsValue {
    let obj = Object::new();
    for (k, v) in ctx.iter() {
        let _ = Reflect::set(&obj, &k.into(), &v.into());
    }
    obj.into()
}

/// `suite`: a spec name, a hex string or the numeric id.
pub fn suite(options: &JsValue, field: &str) -> Result<Option<AlgorithmSuite>, JsValue> {
    match get(options, field)? {
        None => Ok(None),
        Some(v) => {
            let parsed = if let Some(n) = v.as_f64() {
                if n.fract() != 0.0 || !(0.0..=65535.0).contains(&n) {
                    return Err(invalid(field, "unknown algorithm suite"));
                }
                AlgorithmSuite::from_id(n as u16)
            } else if let Some(s) = v.as_string() {
                AlgorithmSuite::parse(&s)
            } else {
                return Err(invalid(field, "must be a suite name or id"));
            };
            parsed.map(Some).map_err(|e| invalid(field, &e.to_string()))
        }
    }
}

pub fn commitment_policy(
    options: &JsValue,
    field: &str,
) -> Result<Option<CommitmentPolicy>, JsValue> {
    match string(options, field)? {
        None => Ok(None),
        Some(s) => CommitmentPolicy::parse(&s)
            .map(Some)
            .map_err(|e| invalid(field, &e.to_string())),
    }
}
