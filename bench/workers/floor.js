// The floor: what any Worker passing this gateway's request must ask of the runtime, and nothing
// else. No policy, no record, no check, no serialisation: every value it sends was worked out
// once, from the Rust Worker's own forward and trace line for the case (bench/inproc.mjs,
// FLOOR=1, puts them in the FLOOR binding). Per request it makes the runtime calls the twin's pass
// makes (twin-common.js `run`):
//   the clock; the request's URL and the headers the gateway consults (the credentials,
//   `traceparent`, `connection`); random bytes for the span id; a copy of the client's headers
//   with the hop-by-hop and hidden ones deleted and the gateway's own set (`traceparent`, the
//   identity headers); the origin's time limit (an AbortController and a timer, cleared when the
//   headers arrive); `fetch`; and, when the pass is traced, one console line of the same bytes.
// Its CPU is the least a Worker doing the same work can spend in this runtime, whatever its
// language: the Rust Worker and the twin both spend it and their own work on top.

import { DELETED_HOP_BY_HOP } from "./twin-common.js";

let f = null;

export default {
  fetch(req, env) {
    if (f === null) {
      f = typeof env.FLOOR === "string" ? JSON.parse(env.FLOOR) : env.FLOOR;
      f.remove = [...new Set([...DELETED_HOP_BY_HOP, ...f.remove])];
    }
    const start = Date.now();
    void req.url; // read (the route needs it), not parsed: the origin's URL is f.url
    for (const n of f.reads) req.headers.get(n);
    crypto.getRandomValues(new Uint8Array(8));
    const headers = new Headers(req.headers);
    for (const n of f.remove) headers.delete(n);
    for (const [n, v] of f.set) headers.set(n, v);
    const abort = new AbortController();
    const init = { method: req.method, headers, redirect: "manual", signal: abort.signal };
    if (init.method !== "GET" && init.method !== "HEAD" && req.body) init.body = req.body;
    const timer = setTimeout(() => abort.abort(new Error("the origin did not answer in time")), f.timeout_ms);
    return fetch(f.url, init).then(
      (r) => {
        clearTimeout(timer);
        if (f.line !== null && (f.sample >= 1 || (f.sample > 0 && Math.random() < f.sample))) console.log(f.line);
        return r;
      },
      (e) => {
        clearTimeout(timer);
        console.log(JSON.stringify({ floor: "origin failed", after_ms: Date.now() - start, error: String(e) }));
        return new Response("Bad Gateway", { status: 502 });
      },
    );
  },
};
