//! Lease/token TTL arithmetic shared by every backend, after Vault's
//! `framework.CalculateTTL`: the mount's max caps whatever a role asks for,
//! and an over-long request is capped with a warning rather than refused.

use crate::logical::{GoDuration, MountTtls};

/// What a TTL request resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlDecision {
    pub ttl: i64,
    pub warnings: Vec<String>,
}

/// Inputs, all in seconds (0 = unset).
#[derive(Debug, Clone, Copy, Default)]
pub struct TtlRequest {
    /// Renewal increment (0 for a new lease).
    pub increment: i64,
    /// The TTL the backend or role asks for.
    pub ttl: i64,
    pub period: i64,
    /// The backend's own max (a role's `token_max_ttl`).
    pub max_ttl: i64,
    pub explicit_max_ttl: i64,
    /// Seconds since the lease started (0 for a new lease).
    pub elapsed: i64,
}

/// Vault's `CalculateTTL`. Fails only when the lease is already past its max.
pub fn calculate_ttl(mount: MountTtls, req: TtlRequest) -> Result<TtlDecision, String> {
    let mut max_ttl = mount.max_ttl;
    if req.max_ttl > 0 && req.max_ttl < max_ttl {
        max_ttl = req.max_ttl;
    }
    if req.explicit_max_ttl > 0 && req.explicit_max_ttl < max_ttl {
        max_ttl = req.explicit_max_ttl;
    }
    let mut warnings = Vec::new();
    let (mut ttl, max_valid) = if req.period > 0 {
        let mut period = req.period;
        if period > max_ttl {
            warnings.push(format!(
                "period of {:?} exceeded the effective max_ttl of {:?}; period value is capped accordingly",
                GoDuration(period).to_string(),
                GoDuration(max_ttl).to_string()
            ));
            period = max_ttl;
        }
        let max_valid = (req.explicit_max_ttl > 0).then_some(req.explicit_max_ttl);
        (period, max_valid)
    } else {
        let ttl = if req.increment > 0 {
            req.increment
        } else if req.ttl > 0 {
            req.ttl
        } else {
            mount.default_ttl
        };
        (ttl, Some(max_ttl))
    };
    if let Some(max_valid) = max_valid {
        let remaining = max_valid - req.elapsed;
        if remaining <= 0 {
            return Err("past the max TTL, cannot renew".into());
        }
        if ttl > remaining {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                GoDuration(ttl).to_string(),
                GoDuration(remaining).to_string()
            ));
            ttl = remaining;
        }
    }
    Ok(TtlDecision { ttl, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNT: MountTtls = MountTtls {
        default_ttl: 2_764_800,
        max_ttl: 2_764_800,
    };

    #[test]
    fn role_ttl_is_used_and_capped_by_role_max() {
        let d = calculate_ttl(
            MOUNT,
            TtlRequest {
                ttl: 3600,
                max_ttl: 7200,
                ..Default::default()
            },
        );
        assert_eq!(d.map(|d| d.ttl), Ok(3600));
        let d = calculate_ttl(
            MOUNT,
            TtlRequest {
                ttl: 9000,
                max_ttl: 7200,
                ..Default::default()
            },
        );
        assert_eq!(d.as_ref().map(|d| d.ttl), Ok(7200));
        assert_eq!(d.map(|d| d.warnings.len()), Ok(1));
    }

    #[test]
    fn no_ttl_means_the_mount_default() {
        let d = calculate_ttl(MOUNT, TtlRequest::default());
        assert_eq!(d.map(|d| d.ttl), Ok(2_764_800));
    }

    #[test]
    fn renewal_is_capped_at_max_from_start() {
        let req = TtlRequest {
            increment: 3600,
            max_ttl: 7200,
            elapsed: 5400,
            ..Default::default()
        };
        assert_eq!(calculate_ttl(MOUNT, req).map(|d| d.ttl), Ok(1800));
        let req = TtlRequest {
            increment: 3600,
            max_ttl: 7200,
            elapsed: 7200,
            ..Default::default()
        };
        assert!(calculate_ttl(MOUNT, req).is_err());
    }
}
