//! The JWT needs the core hands out, met with the runtime: a JWKS over `fetch`, a signature
//! over WebCrypto (`crypto.subtle.verify`), and the per-isolate JWT caches they fill
//! ([`JwtCaches`]: key sets by URL, verdicts by token).
//!
//! Imported `CryptoKey`s are kept per isolate under the key's id ([`crate::crypto::keys::Key::id`]), so a
//! key is imported once, not per request. Concurrent requests that need the same JWKS share one
//! fetch.

use crate::crypto::jobs::SigJob;
use crate::crypto::keys::{Key, Material, WebCrypto};
use crate::interceptors::jwt::verify::{JwtCaches, Verdict, VerifyJob};
use crate::interceptors::Need;
use crate::worker::env::js_error;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, CryptoKey, Headers, RequestInit, Response, SubtleCrypto};

/// How long a JWKS fetch may take.
const JWKS_TIMEOUT_MS: u32 = 5_000;
/// Imported keys kept per isolate (all forgotten when full: a policy has far fewer).
const MAX_CRYPTO_KEYS: usize = 1_024;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Promise;
}

#[wasm_bindgen(module = "/src/worker/glue.js")]
extern "C" {
    /// `crypto.subtle.verify(...)`'s promise as a plain true/false: a rejection of the
    /// signature bytes is a bad signature.
    fn verdict(p: &Promise) -> Promise;
    /// `crypto.subtle.verify(params, key, signature, body)` once `body` (bytes, or a promise
    /// of them) and `key` (a `CryptoKey` or a promise of one) are there: true or false; false
    /// when the body is null or could not be read; rejects when the key could not be imported.
    #[wasm_bindgen(js_name = verifyOver)]
    fn verify_over(
        body: &JsValue,
        key: &JsValue,
        params: &Object,
        signature: &Uint8Array,
    ) -> Promise;
}

thread_local! {
    static CACHES: RefCell<Option<JwtCaches>> = const { RefCell::new(None) };
    static CRYPTO_KEYS: RefCell<HashMap<u64, CryptoKey>> = RefCell::new(HashMap::new());
    static JWKS_IN_FLIGHT: RefCell<HashMap<String, Promise>> = RefCell::new(HashMap::new());
    static VERIFY_PARAMS: RefCell<HashMap<String, Object>> = RefCell::new(HashMap::new());
    static SUBTLE: SubtleCrypto = {
        let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
            .expect("globalThis.crypto");
        crypto.unchecked_into::<web_sys::Crypto>().subtle()
    };
}

/// Runs `f` with the isolate's JWT caches (made on first use, bounded by `max_entries`).
pub fn with_caches<T>(max_entries: usize, f: impl FnOnce(&mut JwtCaches) -> T) -> T {
    CACHES.with(|c| {
        let mut c = c.borrow_mut();
        f(c.get_or_insert_with(|| JwtCaches::new(max_entries)))
    })
}

/// What meeting a JWT need produced.
pub enum Got {
    Jwks(String, Result<String, String>),
    Verdict(Arc<VerifyJob>, Verdict),
}

/// The promise meeting a JWKS or verification need: it resolves to the JWKS text or to the
/// verdict (true/false), and rejects with why it could not.
pub fn promise_for(need: &Need) -> Promise {
    match need {
        Need::Jwks(url) => {
            let url = url.clone();
            wasm_bindgen_futures::future_to_promise(async move {
                fetch_jwks(&url)
                    .await
                    .map(JsValue::from)
                    .map_err(JsValue::from)
            })
        }
        Need::Verify(job) => {
            let Some(wc) = job.alg.webcrypto() else {
                return Promise::reject(&JsValue::from_str("not a WebCrypto algorithm"));
            };
            match CRYPTO_KEYS.with(|m| m.borrow().get(&job.key.id).cloned()) {
                // The key is imported: WebCrypto's own promise, nothing in between.
                Some(key) => verify(&wc, &key, &job.signature, job.signing_input.as_bytes()),
                None => {
                    let job = job.clone();
                    wasm_bindgen_futures::future_to_promise(async move {
                        let key = crypto_key(job.key.id, &job.key, &wc)
                            .await
                            .map_err(JsValue::from)?;
                        JsFuture::from(verify(
                            &wc,
                            &key,
                            &job.signature,
                            job.signing_input.as_bytes(),
                        ))
                        .await
                    })
                }
            }
        }
        _ => Promise::reject(&JsValue::from_str("read by the adapter")),
    }
}

/// The promise verifying a signature over request data (Digital Signature) with an app's key:
/// resolves to true or false (whatever the signature bytes), rejects only when the key cannot
/// be imported. A job over the request body is verified over `body`: this round's read of it
/// (a promise of the bytes, or of null when it was too large) or the bytes read before.
pub fn verify_signature(job: &Arc<SigJob>, body: Option<&JsValue>) -> Promise {
    let id = job.crypto_key_id();
    let cached = CRYPTO_KEYS.with(|m| m.borrow().get(&id).cloned());
    if job.over_body {
        let key: JsValue = match cached {
            Some(key) => key.into(),
            None => {
                let job = job.clone();
                wasm_bindgen_futures::future_to_promise(async move {
                    crypto_key(id, &job.key, &job.wc)
                        .await
                        .map(JsValue::from)
                        .map_err(JsValue::from)
                })
                .into()
            }
        };
        return verify_over(
            body.unwrap_or(&JsValue::NULL),
            &key,
            &verify_params(&job.wc),
            &Uint8Array::from(job.signature.as_slice()),
        );
    }
    match cached {
        Some(key) => verify(&job.wc, &key, &job.signature, &job.data),
        None => {
            let job = job.clone();
            wasm_bindgen_futures::future_to_promise(async move {
                let key = crypto_key(id, &job.key, &job.wc)
                    .await
                    .map_err(JsValue::from)?;
                JsFuture::from(verify(&job.wc, &key, &job.signature, &job.data)).await
            })
        }
    }
}

/// What a settled JWKS or verification promise means for the core (`None` for the needs the
/// adapter reads itself).
pub fn got(need: Need, outcome: Result<JsValue, JsValue>) -> Option<Got> {
    Some(match need {
        Need::Jwks(url) => Got::Jwks(
            url,
            outcome
                .map(|v| v.as_string().unwrap_or_default())
                .map_err(js_error),
        ),
        Need::Verify(job) => {
            let verdict = match outcome {
                Ok(v) if v.as_bool() == Some(true) => Verdict::Valid,
                Ok(_) => Verdict::Invalid,
                Err(e) => Verdict::Failed(js_error(e).into()),
            };
            Got::Verdict(job, verdict)
        }
        Need::Kv(_) | Need::Body(_) | Need::Signature(_) | Need::Nonce(_) => return None,
    })
}

/// Records what a round got. A JWKS whose keys changed flushes every cached verdict.
pub fn record(caches: &mut JwtCaches, got: Vec<Got>, now_ms: u64) {
    for g in got {
        match g {
            Got::Jwks(url, body) => {
                if caches
                    .jwks
                    .record(&url, body.as_deref().map_err(Clone::clone), now_ms)
                {
                    caches.verified.borrow_mut().flush();
                }
            }
            Got::Verdict(job, verdict) => {
                caches.verified.borrow_mut().record(&job, verdict, now_ms)
            }
        }
    }
}

/// The body of a JWKS URL, one fetch per URL at a time in this isolate.
async fn fetch_jwks(url: &str) -> Result<String, String> {
    let shared = JWKS_IN_FLIGHT.with(|m| m.borrow().get(url).cloned());
    let promise = match shared {
        Some(p) => p,
        None => {
            let owned = url.to_string();
            let p = wasm_bindgen_futures::future_to_promise(async move {
                get_text(&owned)
                    .await
                    .map(JsValue::from)
                    .map_err(JsValue::from)
            });
            JWKS_IN_FLIGHT.with(|m| m.borrow_mut().insert(url.to_string(), p.clone()));
            p
        }
    };
    let res = JsFuture::from(promise).await;
    JWKS_IN_FLIGHT.with(|m| m.borrow_mut().remove(url));
    res.map(|v| v.as_string().unwrap_or_default())
        .map_err(|e| e.as_string().unwrap_or_else(|| js_error(e)))
}

async fn get_text(url: &str) -> Result<String, String> {
    let headers = Headers::new().map_err(js_error)?;
    headers
        .set("accept", "application/json")
        .map_err(js_error)?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers);
    init.set_signal(Some(&AbortSignal::timeout_with_u32(JWKS_TIMEOUT_MS)));
    let resp: Response = JsFuture::from(global_fetch(url, &init))
        .await
        .map_err(js_error)?
        .unchecked_into();
    if !resp.ok() {
        let _ = resp.body().map(|b| b.cancel());
        return Err(format!("HTTP {}", resp.status()));
    }
    let text = JsFuture::from(resp.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    Ok(text.as_string().unwrap_or_default())
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

/// WebCrypto's `importKey` algorithm parameters.
fn import_params(wc: &WebCrypto) -> Object {
    let o = Object::new();
    set(&o, "name", &JsValue::from_str(wc.name));
    if let Some(c) = wc.named_curve {
        set(&o, "namedCurve", &JsValue::from_str(c));
    } else if let Some(h) = wc.hash {
        // RSA keys carry their hash; ECDSA gives it at verify time.
        set(&o, "hash", &JsValue::from_str(h));
    }
    o
}

/// WebCrypto's `verify` algorithm parameters, made once per algorithm.
fn verify_params(wc: &WebCrypto) -> Object {
    VERIFY_PARAMS.with(|m| {
        m.borrow_mut()
            .entry(wc.name.to_string() + wc.hash.unwrap_or(""))
            .or_insert_with(|| new_verify_params(wc))
            .clone()
    })
}

fn new_verify_params(wc: &WebCrypto) -> Object {
    let o = Object::new();
    set(&o, "name", &JsValue::from_str(wc.name));
    if let Some(s) = wc.salt_length {
        set(&o, "saltLength", &JsValue::from(s));
    }
    if wc.named_curve.is_some() {
        if let Some(h) = wc.hash {
            set(&o, "hash", &JsValue::from_str(h));
        }
    }
    o
}

/// The imported `CryptoKey` kept under `id` (the key and its import parameters), imported now
/// if needed.
async fn crypto_key(id: u64, key: &Key, wc: &WebCrypto) -> Result<CryptoKey, String> {
    if let Some(k) = CRYPTO_KEYS.with(|m| m.borrow().get(&id).cloned()) {
        return Ok(k);
    }
    let usages = Array::of1(&JsValue::from_str("verify"));
    let params = import_params(wc);
    let promise = SUBTLE.with(|s| match &key.material {
        Material::Jwk(members) => {
            let jwk = Object::new();
            for (k, v) in members {
                set(&jwk, k, &JsValue::from_str(v));
            }
            s.import_key_with_object("jwk", &jwk, &params, false, &usages)
        }
        Material::Spki(der) => {
            let bytes = Uint8Array::from(der.as_slice());
            s.import_key_with_object("spki", &bytes, &params, false, &usages)
        }
        Material::Secret(_) => Err(JsValue::from_str("HMAC keys are verified in the core")),
    });
    let k: CryptoKey = JsFuture::from(promise.map_err(js_error)?)
        .await
        .map_err(|e| format!("importKey: {}", js_error(e)))?
        .unchecked_into();
    CRYPTO_KEYS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CRYPTO_KEYS {
            m.clear();
        }
        m.insert(id, k.clone());
    });
    Ok(k)
}

/// `crypto.subtle.verify(...)` with an imported key: resolves to true or false, never rejects.
/// The key is usable (it was imported for this algorithm), so WebCrypto refusing the signature
/// bytes (an Ed25519 signature of the wrong length) is a bad signature (401), not a fault.
fn verify(wc: &WebCrypto, key: &CryptoKey, signature: &[u8], data: &[u8]) -> Promise {
    let params = verify_params(wc);
    let p = SUBTLE
        .with(|s| s.verify_with_object_and_u8_array_and_u8_array(&params, key, signature, data))
        .unwrap_or_else(|e| Promise::reject(&e));
    verdict(&p)
}
