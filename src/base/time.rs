//! Time formats of records and keys.

/// RFC 3339 (`2027-01-31T23:59:59Z`, `2027-01-31T20:59:59-03:00`) to epoch seconds. A zone
/// (`Z` or an offset) is required.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (local, offset_s) = if let Some(base) = s.strip_suffix(['Z', 'z']) {
        (base, 0)
    } else {
        let split = s.len().checked_sub(6)?;
        let (base, zone) = (s.get(..split)?, s.get(split..)?);
        let (negative, hm) = if let Some(hm) = zone.strip_prefix('+') {
            (false, hm)
        } else {
            (true, zone.strip_prefix('-')?)
        };
        let (h, m) = hm.split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
            return None;
        }
        // At most 23:59: no overflow.
        let offset = h.saturating_mul(3600).saturating_add(m.saturating_mul(60));
        (
            base,
            if negative {
                offset.saturating_neg()
            } else {
                offset
            },
        )
    };
    if local.len() < 19 {
        return None;
    }
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok()?,
        Err(e) => i64::try_from(e.duration().as_secs()).ok()?.checked_neg()?,
    };
    secs.checked_sub(offset_s)
}
