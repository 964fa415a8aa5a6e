//! Limits on guessing user codes (RFC 8628 §5.1), shared by the pages and the flow API.
//!
//! Three counters of wrong codes, all kept in the store so they hold across instances:
//! - per flow (the browser session): after `FLOW_MAX_FAILURES` the flow accepts no more codes;
//! - per client IP (IPv6 by /64) and 15-minute window: after `IP_MAX_FAILURES` the IP waits for
//!   the window to end;
//! - per environment and minute: past `ENV_SOFT_FAILURES` only IPs with no wrong code in their
//!   window may try (people typing their first code still get through, repeat guessers wait);
//!   past `ENV_HARD_FAILURES` everyone waits for the next minute.
//!
//! With 8-letter codes (20^8 ≈ 2.56e10) at most `ENV_HARD_FAILURES` wrong guesses a minute reach
//! the store, so within a code's 600-second life at most 165 guesses (10 minutes plus a window
//! boundary) are tried. With L live codes in the environment the chance that any guess hits is
//! at most 165 * L / 20^8: 6.4e-7 (2^-20.6) for L = 100.

use std::net::IpAddr;

use crate::error::FlowError;
use crate::store::LimiterKeys;

pub const FLOW_MAX_FAILURES: u32 = 5;
pub const IP_MAX_FAILURES: u32 = 10;
pub const IP_WINDOW_S: i64 = 15 * 60;
pub const ENV_SOFT_FAILURES: u32 = 5;
pub const ENV_HARD_FAILURES: u32 = 15;
pub const ENV_WINDOW_S: i64 = 60;

/// The counters that apply to an attempt at `now_s` from `ip`.
pub fn limiter_keys(environment_id: &str, ip: Option<IpAddr>, now_s: i64) -> LimiterKeys {
    let ip_window = now_s.div_euclid(IP_WINDOW_S);
    let env_window = now_s.div_euclid(ENV_WINDOW_S);
    LimiterKeys {
        ip: format!("{environment_id}#IP#{}#{ip_window}", ip_bucket(ip)),
        ip_expires_at: (ip_window + 1) * IP_WINDOW_S,
        environment: format!("{environment_id}#ENV#{env_window}"),
        environment_expires_at: (env_window + 1) * ENV_WINDOW_S,
    }
}

/// IPv4 addresses count alone; IPv6 by /64, the block one subscriber usually holds.
fn ip_bucket(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".to_owned(),
    }
}

/// Refuses the attempt when a limit is reached, saying how long to wait.
pub fn check(
    flow_failures: u32,
    ip_failures: u32,
    env_failures: u32,
    keys: &LimiterKeys,
    now_s: i64,
) -> Result<(), FlowError> {
    if flow_failures >= FLOW_MAX_FAILURES {
        return Err(FlowError::too_many_attempts(
            "Too many incorrect codes were entered in this sign-in. Start again from your device.",
            None,
        ));
    }
    if ip_failures >= IP_MAX_FAILURES {
        let wait = keys.ip_expires_at - now_s;
        return Err(FlowError::too_many_attempts(
            format!("Too many incorrect codes from your network. Try again in {} minutes.", (wait + 59) / 60),
            Some(wait),
        ));
    }
    if env_failures >= ENV_HARD_FAILURES || (env_failures >= ENV_SOFT_FAILURES && ip_failures > 0) {
        let wait = keys.environment_expires_at - now_s;
        return Err(FlowError::too_many_attempts(
            format!("Many incorrect codes are being entered right now. Try again in {wait} seconds."),
            Some(wait),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_bucket_windows_and_ipv6_prefixes() {
        let a = limiter_keys("e", "2001:db8:1:2:aaaa::1".parse().ok(), 1000);
        let b = limiter_keys("e", "2001:db8:1:2:bbbb::9".parse().ok(), 1000);
        assert_eq!(a.ip, b.ip, "one /64 is one client");
        assert_eq!(a.ip_expires_at, 1800);
        assert_eq!(a.environment_expires_at, 1020);
        assert_ne!(
            limiter_keys("e", "192.0.2.1".parse().ok(), 1000).ip,
            limiter_keys("e", "192.0.2.2".parse().ok(), 1000).ip
        );
        assert_ne!(limiter_keys("e", None, 1000).ip, limiter_keys("e", None, 1800).ip, "a new window counts anew");
    }

    #[test]
    fn limits_apply_in_order() {
        let keys = limiter_keys("e", None, 1000);
        assert!(check(4, 9, 4, &keys, 1000).is_ok());
        assert_eq!(check(5, 0, 0, &keys, 1000).unwrap_err().status, 429);
        let ip = check(0, 10, 0, &keys, 1000).unwrap_err();
        assert!(ip.message.contains("14 minutes"), "{}", ip.message);
        assert!(check(0, 0, 5, &keys, 1000).is_ok(), "first-time guessers pass the soft limit");
        assert!(check(0, 1, 5, &keys, 1000).is_err(), "repeat guessers wait at the soft limit");
        assert!(check(0, 0, 15, &keys, 1000).is_err(), "everyone waits at the hard limit");
    }

    #[test]
    fn the_guessing_probability_meets_the_goal() {
        let guesses = f64::from(ENV_HARD_FAILURES) * (600.0 / ENV_WINDOW_S as f64 + 1.0);
        let p = guesses * 100.0 / 20f64.powi(8);
        assert!(p < 2f64.powi(-20), "{p}");
    }
}
