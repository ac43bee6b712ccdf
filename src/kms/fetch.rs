//! The browser/worker/Node transport: the global `fetch` (never `window`, so Web Workers and
//! Node 20 work), an `AbortController` for the per-request timeout, `setTimeout` for backoff.

use std::time::Duration;

use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use zeroize::Zeroizing;

use super::error::{KmsError, KmsErrorKind};
use super::transport::{
    CancelToken, FetchCredentials, HttpRequest, HttpResponse, KmsFuture, Transport,
};

/// `fetch` through `globalThis`.
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchTransport;

fn global_fn(name: &str) -> Result<Function, KmsError> {
    Reflect::get(&js_sys::global(), &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| KmsError::new(KmsErrorKind::Network, format!("no global {name}()")))
}

fn set_timeout(callback: &JsValue, ms: f64) -> Option<JsValue> {
    let f = global_fn("setTimeout").ok()?;
    f.call2(&JsValue::NULL, callback, &JsValue::from_f64(ms))
        .ok()
}

fn clear_timeout(id: &JsValue) {
    if let Ok(f) = global_fn("clearTimeout") {
        let _ = f.call1(&JsValue::NULL, id);
    }
}

fn js_message(e: &JsValue) -> String {
    crate::wasm::message_of(e)
}

async fn send(
    request: &HttpRequest,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<HttpResponse, KmsError> {
    if cancel.is_cancelled() {
        return Err(KmsError::new(
            KmsErrorKind::Aborted,
            "aborted by the caller",
        ));
    }
    let net = |m: String| KmsError::new(KmsErrorKind::Network, m);
    let fetch = global_fn("fetch")?;
    let headers = web_sys::Headers::new().map_err(|e| net(js_message(&e)))?;
    for (k, v) in &request.headers {
        headers
            .append(k, v)
            .map_err(|e| net(format!("header {k}: {}", js_message(&e))))?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(request.method);
    init.set_headers(&headers);
    // The body of an Encrypt request holds the data key: overwrite this JS copy once sent.
    let body = Uint8Array::from(request.body.as_slice());
    init.set_body(&body);
    init.set_credentials(match request.fetch_credentials {
        FetchCredentials::Omit => web_sys::RequestCredentials::Omit,
        FetchCredentials::SameOrigin => web_sys::RequestCredentials::SameOrigin,
        FetchCredentials::Include => web_sys::RequestCredentials::Include,
    });
    let controller = web_sys::AbortController::new().map_err(|e| net(js_message(&e)))?;
    init.set_signal(Some(&controller.signal()));
    let abort = {
        let c = controller.clone();
        Closure::once_into_js(move || c.abort())
    };
    let timer = set_timeout(&abort, timeout.as_millis() as f64);
    let result = async {
        let promise: Promise = fetch
            .call2(&JsValue::NULL, &JsValue::from_str(&request.url), &init)
            .map_err(|e| net(js_message(&e)))?
            .unchecked_into();
        let resp: web_sys::Response = JsFuture::from(promise)
            .await
            .map_err(|e| classify(&e, &controller))?
            .unchecked_into();
        let mut headers = Vec::new();
        for name in ["content-type", "x-amzn-requestid", "x-amzn-errortype"] {
            if let Ok(Some(v)) = resp.headers().get(name) {
                headers.push((name.to_owned(), v));
            }
        }
        let buf = JsFuture::from(resp.array_buffer().map_err(|e| net(js_message(&e)))?)
            .await
            .map_err(|e| classify(&e, &controller))?;
        let bytes = Uint8Array::new(&buf);
        let mut body = Zeroizing::new(vec![0u8; bytes.length() as usize]);
        bytes.copy_to(&mut body);
        bytes.fill(0, 0, bytes.length());
        Ok(HttpResponse {
            status: resp.status(),
            headers,
            body,
        })
    }
    .await;
    if let Some(id) = timer {
        clear_timeout(&id);
    }
    body.fill(0, 0, body.length());
    result
}

fn classify(e: &JsValue, controller: &web_sys::AbortController) -> KmsError {
    if controller.signal().aborted() {
        KmsError::new(
            KmsErrorKind::Timeout,
            "no answer from KMS within the timeout",
        )
    } else {
        // fetch rejects with a TypeError for refused connections, DNS and CORS failures.
        KmsError::new(KmsErrorKind::Network, js_message(e))
    }
}

impl Transport for FetchTransport {
    fn send<'a>(
        &'a self,
        request: &'a HttpRequest,
        timeout: Duration,
        cancel: &'a CancelToken,
    ) -> KmsFuture<'a, Result<HttpResponse, KmsError>> {
        Box::pin(send(request, timeout, cancel))
    }

    fn sleep(&self, duration: Duration) -> KmsFuture<'_, ()> {
        Box::pin(async move {
            let promise = Promise::new(&mut |resolve, _reject| {
                let _ = set_timeout(&resolve, duration.as_millis() as f64);
            });
            let _ = JsFuture::from(promise).await;
        })
    }

    fn now(&self) -> Duration {
        Duration::from_millis(js_sys::Date::now() as u64)
    }
}
