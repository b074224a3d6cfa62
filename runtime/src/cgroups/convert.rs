//! Value conversions between cgroup v1 and v2, for fields that runtime-spec
//! states in v1 terms. The formulas are the ones runc uses (libcontainer's
//! cgroups utilities), so a config gives the same limits under either.

/// CPU shares (v1, 2…262144, default 1024) → cpu.weight (v2, 1…10000,
/// default 100): a linear map of one range onto the other.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (v1, 10…1000) → io.weight (v2, 1…10000).
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// runtime-spec's `memory.swap` is memory+swap (v1's memsw); v2's
/// memory.swap.max is swap alone. `None` means "leave unset". A negative
/// value is "unlimited", as [`limit_value`] reads it (runtime-spec says -1).
pub fn swap_to_v2(swap: i64, limit: Option<i64>) -> Result<Option<String>, String> {
    let limit = limit.unwrap_or(0);
    match (swap, limit) {
        // Unlimited memory and no swap setting: unlimited swap too, as v1 would.
        (0, l) if l < 0 => Ok(Some("max".into())),
        (s, _) if s < 0 => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (s, l) if l < 0 => Ok(Some(s.to_string())),
        (_, 0) => Err("memory.swap needs memory.limit on cgroup v2 (swap.max is computed as swap - limit)".into()),
        (s, l) if s < l => Err(format!("memory.swap ({s}) is memory+swap and must be >= memory.limit ({l})")),
        (s, l) => Ok(Some((s - l).to_string())),
    }
}

/// cpu.max is "QUOTA PERIOD" on v2, with "max" for no quota.
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    if quota.is_none() && period.is_none() {
        return None;
    }
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".into(),
    };
    Some(format!("{quota} {}", period.filter(|p| *p > 0).unwrap_or(100_000)))
}

/// A byte limit where -1 means unlimited: "-1" on v1, "max" on v2.
pub fn limit_value(limit: i64, v2: bool) -> String {
    match (limit, v2) {
        (l, true) if l < 0 => "max".into(),
        (l, false) if l < 0 => "-1".into(),
        (l, _) => l.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_onto_weight() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
        assert_eq!(cpu_shares_to_weight(1_000_000), 10_000);
    }

    #[test]
    fn blkio_weight_maps_onto_io_weight() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_memory_plus_swap_on_v1_and_swap_alone_on_v2() {
        assert_eq!(swap_to_v2(200, Some(100)).unwrap().as_deref(), Some("100"));
        assert_eq!(swap_to_v2(-1, Some(100)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(0, Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(0, Some(100)).unwrap(), None);
        assert_eq!(swap_to_v2(300, Some(-1)).unwrap().as_deref(), Some("300"));
        assert!(swap_to_v2(50, Some(100)).is_err());
        assert!(swap_to_v2(50, None).is_err());
        // Any negative value is "unlimited", as limit_value reads it; here
        // i64::MAX - (-2) overflowed (seen while writing fuzz/'s config target).
        assert_eq!(swap_to_v2(i64::MAX, Some(-2)).unwrap().as_deref(), Some("9223372036854775807"));
        assert_eq!(swap_to_v2(-2, Some(100)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(0, Some(-5)).unwrap().as_deref(), Some("max"));
    }

    #[test]
    fn cpu_max_line() {
        assert_eq!(cpu_max(Some(50_000), Some(100_000)).as_deref(), Some("50000 100000"));
        assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(None, Some(20_000)).as_deref(), Some("max 20000"));
        assert_eq!(cpu_max(None, None), None);
    }

    #[test]
    fn unlimited() {
        assert_eq!(limit_value(-1, true), "max");
        assert_eq!(limit_value(-1, false), "-1");
        assert_eq!(limit_value(4096, true), "4096");
    }
}
