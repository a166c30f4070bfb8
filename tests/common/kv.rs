//! The adapter's fetch-and-ask-again loop for policies whose only needs are record reads:
//! decide, read what is asked from an in-memory "KV" into the record cache, decide again.

use edge_interceptors::base::request::TestRequest;
use edge_interceptors::gateway::pipeline::{decide, Decision, Input, Step};
use edge_interceptors::gateway::policy::Policy;
use edge_interceptors::interceptors::Need;
use edge_interceptors::records::cache::{Layered, RecordCache, Slot};
use std::collections::HashMap;

/// Rounds after which a request that still needs something is a bug in the pipeline.
const MAX_ROUNDS: usize = 4;

/// Decides `req` at `now_ms` as the Worker adapter does, reading each record asked for from
/// `store` (absent keys read as absent) and keeping it in `cache`. Returns the decision and how
/// many records were read. Panics on a need other than a record read (tests/jwt.rs and
/// tests/digital_signature.rs settle JWKS, bodies, signatures and nonces) and after
/// `MAX_ROUNDS` rounds.
pub fn decide_reading(
    policy: &Policy,
    cache: &mut RecordCache,
    store: &HashMap<String, String>,
    req: &TestRequest,
    now_ms: u64,
    request_id: &str,
) -> (Decision, usize) {
    let mut fetched: HashMap<String, Slot> = HashMap::new();
    let mut reads = 0;
    for _ in 0..MAX_ROUNDS {
        let input = Input {
            req,
            now_ms,
            request_id,
        };
        let source = Layered {
            fetched: &fetched,
            cache,
            now_ms,
        };
        let needs = match decide(policy, &input, &source) {
            Step::Done(d) => return (d, reads),
            Step::Need(needs) => needs,
        };
        for need in needs {
            let Need::Kv(k) = need else {
                panic!("unexpected need {need:?}")
            };
            reads += 1;
            let slot = Slot::from_store(&k, store.get(&k).map(String::as_str));
            cache.insert(k.clone(), slot.clone(), now_ms);
            fetched.insert(k, slot);
        }
    }
    panic!("too many rounds");
}
