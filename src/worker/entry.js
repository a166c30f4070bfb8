// The Worker's entry module (scripts/build.sh bundles it with wasm-bindgen's output into
// build/index.js). It replaces worker-build's generated shim, which constructed a
// `WorkerEntrypoint` subclass and wrapped it and each method in Proxies on every request
// (about a tenth of the isolate's time for a cached OAuth pass, docs/performance.md).
//
// After a trap. wasm-bindgen's own glue (built with --experimental-reset-state-function and
// --force-enable-abort-handler) catches the `WebAssembly.RuntimeError` of a Rust panic, marks
// the instance terminated and schedules a new one, which the next call into wasm instantiates
// (fresh memory, wasm-bindgen's cached memory views reset). What the old instance lost —
// requests in flight, trace entries — is answered and counted in glue.js. The Durable Object
// classes below hold a Rust object each; after a new instance that object is stale, so they
// make a new one (their state lives in the object's storage, not in wasm memory).
import { fetch as wasmFetch, GrantStore as RustGrantStore, NonceStore as RustNonceStore } from "./wbg/index.js";

export default {
  fetch(request, env, ctx) {
    return wasmFetch(request, env, ctx);
  },
};

/** The wasm instance's number: the start function counts instantiations (src/worker/start.rs). */
function instanceId() {
  return globalThis.__edgeInstance | 0;
}

/** A Durable Object class around a Rust class, made again after the wasm instance was. */
function durableObject(Rust) {
  return class {
    constructor(state, env) {
      this.state = state;
      this.env = env;
      this.inner = new Rust(state, env);
      this.instance = instanceId();
    }

    fetch(request) {
      if (instanceId() !== this.instance) this.renew();
      try {
        return this.inner.fetch(request);
      } catch (e) {
        // A trap since the check: the call above made the new instance and refused the stale
        // object ("Invalid stale object from previous Wasm instance").
        if (!(e instanceof Error) || !e.message.includes("stale object")) throw e;
        this.renew();
        return this.inner.fetch(request);
      }
    }

    renew() {
      this.inner = new Rust(this.state, this.env);
      this.instance = instanceId();
    }
  };
}

export const NonceStore = durableObject(RustNonceStore);
export const GrantStore = durableObject(RustGrantStore);
