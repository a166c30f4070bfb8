//! Time formats of records and keys.

/// RFC 3339 (`2027-01-31T23:59:59Z`, `2027-01-31T20:59:59-03:00`) to epoch seconds. A zone
/// (`Z` or an offset) is required.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (local, offset_s) = if let Some(base) = s.strip_suffix(['Z', 'z']) {
        (base, 0)
    } else {
        let split = s.len().checked_sub(6)?;
        let (base, zone) = (s.get(..split)?, s.get(split..)?);
        let sign = match zone.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = zone[1..].split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        (base, sign * (h * 3600 + m * 60))
    };
    if local.len() < 19 {
        return None;
    }
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    Some(secs - offset_s)
}
