//! Slowing repeated failures of one client id (docs/authorization-server.md, "Attack surface").
//!
//! Each isolate counts failures per client id in one-minute windows. Up to `allowed` failures
//! a minute are answered at once; from then on every request naming that client id (successes
//! too: a client that gave up early would otherwise learn the answer from the delay) waits
//! before it is checked: 250 ms, doubling with each further failure, at most 4 s.

use crate::records::seeded::SeededMap;

pub const WINDOW_MS: u64 = 60_000;
pub const FIRST_DELAY_MS: u64 = 250;
pub const MAX_DELAY_MS: u64 = 4_000;
/// Client ids tracked per isolate; past this, the oldest windows are dropped first.
pub const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    /// client id → (window start, failures in the window).
    map: SeededMap<String, (u64, u32)>,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle::default()
    }

    fn failures(&self, client_id: &str, now_ms: u64) -> u32 {
        match self.map.get(client_id) {
            Some((start, n)) if now_ms < start.saturating_add(WINDOW_MS) => *n,
            _ => 0,
        }
    }

    /// How long a request naming `client_id` waits before it is checked.
    pub fn delay_ms(&self, client_id: &str, now_ms: u64, allowed: u32) -> u64 {
        let n = self.failures(client_id, now_ms);
        if n <= allowed {
            return 0;
        }
        let doublings = (n - allowed - 1).min(16);
        FIRST_DELAY_MS
            .saturating_mul(1u64 << doublings)
            .min(MAX_DELAY_MS)
    }

    /// Counts a failure of `client_id`.
    pub fn failed(&mut self, client_id: &str, now_ms: u64) {
        let n = self.failures(client_id, now_ms);
        if n == 0 {
            if self.map.len() >= MAX_TRACKED && !self.map.contains_key(client_id) {
                self.map
                    .retain(|_, (start, _)| now_ms < start.saturating_add(WINDOW_MS));
                if self.map.len() >= MAX_TRACKED {
                    let victims: Vec<String> =
                        self.map.keys().take(MAX_TRACKED / 10).cloned().collect();
                    for k in victims {
                        self.map.remove(&k);
                    }
                }
            }
            self.map.insert(client_id.to_string(), (now_ms, 1));
        } else if let Some(e) = self.map.get_mut(client_id) {
            e.1 = e.1.saturating_add(1);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handful_pass_then_the_delay_doubles_within_the_minute() {
        let mut t = Throttle::new();
        let mut delays = Vec::new();
        for i in 0..10 {
            delays.push(t.delay_ms("app", 1000 + i, 5));
            t.failed("app", 1000 + i);
        }
        // Not at the first or the third failure; from the sixth on.
        assert_eq!(delays, vec![0, 0, 0, 0, 0, 0, 250, 500, 1000, 2000]);
        assert_eq!(t.delay_ms("app", 2000, 5), 4000);
        for _ in 0..40 {
            t.failed("app", 3000);
        }
        assert_eq!(t.delay_ms("app", 3000, 5), MAX_DELAY_MS);
        // Other clients are not slowed; the minute ends.
        assert_eq!(t.delay_ms("other", 3000, 5), 0);
        assert_eq!(t.delay_ms("app", 1000 + WINDOW_MS, 5), 0);
        t.failed("app", 1000 + WINDOW_MS);
        assert_eq!(t.delay_ms("app", 1000 + WINDOW_MS, 5), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = Throttle::new();
        for i in 0..(MAX_TRACKED + 500) {
            t.failed(&format!("c{i}"), 0);
            assert!(t.len() <= MAX_TRACKED);
        }
    }
}
