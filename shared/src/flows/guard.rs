//! Limits on guessing user codes (RFC 8628 §5.1) and passwords (RFC 6749 §10.10), shared by the
//! pages and the flow API. Every count lives in the store and every limit is a condition of the
//! write that counts, so they hold across instances and under concurrency (`GuardStore`).
//!
//! Addresses are counted by network (IPv4 /32, IPv6 /64, the block one subscriber holds) and by
//! block (IPv4 /24, IPv6 /48, the block one operator holds). An attempt is judged in one of two
//! tiers, tried in order:
//!
//! - **clean**: a source that has not failed lately (no failure of its network, few of its
//!   block) always gets its attempt, whatever others do; its failure makes it dirty. So no
//!   number of attackers can lock people out who type their code right the first time.
//! - **dirty**: everyone else, under the per-source limits and an environment-wide one.
//!
//! User codes: a flow takes 5 wrong codes; a network 10 per 15 minutes; the environment 15
//! per minute from dirty sources; a block 3 clean failures per 15 minutes. Within a code's
//! 600-second life (11 minute windows, 2 block windows) an attacker holding `b` blocks gets at
//! most `15 * 11 + 3 * 2 * b` = `165 + 6b` guesses, so with L live codes among 20^8 the chance
//! of a hit is at most `(165 + 6b) * L / 20^8`: 6.7e-7 (2^-20.5) for one block and L = 100.
//!
//! Passwords: an account takes 5 wrong passwords per 15 minutes from one network (then that
//! network is locked out of that account), 20 from dirty networks altogether; a network 20
//! wrong passwords per 15 minutes over all accounts; an account 3 clean failures per block. A
//! person on a network that has not failed for their account can always sign on, so nobody can
//! lock a known username out. Unknown usernames are counted alike: the answers do not tell them
//! apart.

use std::net::IpAddr;

use crate::app::App;
use crate::error::FlowError;
use crate::hashing::Purpose;
use crate::store::Counter;

pub const FLOW_MAX_FAILURES: u32 = 5;
pub const NETWORK_MAX_FAILURES: u32 = 10;
pub const NETWORK_WINDOW_S: i64 = 15 * 60;
pub const BLOCK_CLEAN_FAILURES: u32 = 3;
pub const ENV_MAX_FAILURES: u32 = 15;
pub const ENV_WINDOW_S: i64 = 60;

pub const ACCOUNT_NETWORK_MAX_FAILURES: u32 = 5;
pub const ACCOUNT_MAX_FAILURES: u32 = 20;
pub const SIGN_ON_NETWORK_MAX_FAILURES: u32 = 20;
pub const SIGN_ON_WINDOW_S: i64 = 15 * 60;

/// The two tiers, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Clean,
    Dirty,
}

pub const TIERS: [Tier; 2] = [Tier::Clean, Tier::Dirty];

/// What a counter counts, so a refusal can say which limit was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Network,
    Block,
    Environment,
    SignOnNetwork,
    Account,
    AccountNetwork,
    AccountBlock,
}

/// The counters of one attempt, with what each counts.
#[derive(Clone, Debug)]
pub struct Counters {
    pub counters: Vec<Counter>,
    pub scopes: Vec<Scope>,
}

impl Counters {
    fn new() -> Self {
        Self { counters: Vec::new(), scopes: Vec::new() }
    }

    fn push(&mut self, scope: Scope, counter: Counter) {
        self.counters.push(counter);
        self.scopes.push(scope);
    }

    /// The counter of `scope`, if the attempt has one.
    pub fn get(&self, scope: Scope) -> Option<&Counter> {
        self.scopes.iter().position(|s| *s == scope).map(|i| &self.counters[i])
    }
}

/// A network (`/32`, `/64`) and its block (`/24`, `/48`).
pub fn buckets(ip: Option<IpAddr>) -> (String, String) {
    match ip {
        Some(IpAddr::V4(v4)) => {
            let o = v4.octets();
            (v4.to_string(), format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            (
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]),
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]),
            )
        }
        None => ("unknown".to_owned(), "unknown".to_owned()),
    }
}

/// A counter of `scope` over `what` in the window of `window_s` holding `now_s`. Its key is a keyed
/// hash: the table holds no address or username.
fn counter(app: &App, env: &str, scope: Scope, what: &str, window_s: i64, now_s: i64, below: Option<u32>) -> Counter {
    let window = now_s.div_euclid(window_s);
    let key = app.hasher.digest(Purpose::Counter, env, &format!("{scope:?}|{window}|{what}"));
    Counter { key, expires_at: (window + 1) * window_s, below }
}

/// The flow's limit and the counters of a user-code attempt from `ip` in `tier`.
pub fn user_code_counters(app: &App, env: &str, ip: Option<IpAddr>, now_s: i64, tier: Tier) -> (u32, Counters) {
    let (network, block) = buckets(ip);
    let (flow_below, network_below, block_below, env_below) = match tier {
        Tier::Clean => (1, Some(1), Some(BLOCK_CLEAN_FAILURES), None),
        Tier::Dirty => (FLOW_MAX_FAILURES, Some(NETWORK_MAX_FAILURES), None, Some(ENV_MAX_FAILURES)),
    };
    let mut c = Counters::new();
    c.push(Scope::Network, counter(app, env, Scope::Network, &network, NETWORK_WINDOW_S, now_s, network_below));
    c.push(Scope::Block, counter(app, env, Scope::Block, &block, NETWORK_WINDOW_S, now_s, block_below));
    c.push(Scope::Environment, counter(app, env, Scope::Environment, "", ENV_WINDOW_S, now_s, env_below));
    (flow_below, c)
}

/// The counters of a sign-on attempt for `username` (its key: any case, known or not) from `ip`.
pub fn sign_on_counters(app: &App, env: &str, username: &str, ip: Option<IpAddr>, now_s: i64, tier: Tier) -> Counters {
    let (network, block) = buckets(ip);
    let account = crate::model::username_key(username);
    let w = SIGN_ON_WINDOW_S;
    let (account_network_below, account_block_below, account_below) = match tier {
        Tier::Clean => (Some(1), Some(BLOCK_CLEAN_FAILURES), None),
        Tier::Dirty => (Some(ACCOUNT_NETWORK_MAX_FAILURES), None, Some(ACCOUNT_MAX_FAILURES)),
    };
    let mut c = Counters::new();
    let on = |scope, what: &str, below| counter(app, env, scope, what, w, now_s, below);
    c.push(Scope::SignOnNetwork, on(Scope::SignOnNetwork, &network, Some(SIGN_ON_NETWORK_MAX_FAILURES)));
    c.push(Scope::AccountNetwork, on(Scope::AccountNetwork, &format!("{account}|{network}"), account_network_below));
    c.push(Scope::AccountBlock, on(Scope::AccountBlock, &format!("{account}|{block}"), account_block_below));
    c.push(Scope::Account, on(Scope::Account, &account, account_below));
    c
}

/// The indexes of the counters of an attempt that `counts` (as read, in order) put at their limit.
pub fn at_limit(counters: &Counters, counts: &[u32]) -> Vec<usize> {
    let full =
        |(i, c): (usize, &Counter)| c.below.is_some_and(|b| counts.get(i).copied().unwrap_or(0) >= b).then_some(i);
    counters.counters.iter().enumerate().filter_map(full).collect()
}

/// Whether every limit of an attempt holds at `counts` (as read, in order).
pub fn holds(counters: &Counters, counts: &[u32]) -> bool {
    at_limit(counters, counts).is_empty()
}

fn seconds_left(counter: Option<&Counter>, now_s: i64) -> i64 {
    counter.map_or(60, |c| (c.expires_at - now_s).max(1))
}

fn minutes(seconds: i64) -> i64 {
    (seconds + 59) / 60
}

/// The answer when the flow itself has taken its share of wrong codes.
pub fn flow_locked() -> FlowError {
    FlowError::too_many_attempts(
        "userCode",
        "Too many incorrect codes were entered in this sign-in. Start again from your device.",
        None,
    )
}

/// The answer to a user-code attempt refused in the dirty tier, naming the first limit reached.
pub fn user_code_refusal(counters: &Counters, refused: &[usize], now_s: i64) -> FlowError {
    let scope = refused.iter().map(|i| counters.scopes[*i]).next().unwrap_or(Scope::Environment);
    let wait = seconds_left(counters.get(scope), now_s);
    match scope {
        Scope::Environment => FlowError::too_many_attempts(
            "userCode",
            format!("Many incorrect codes are being entered right now. Try again in {wait} seconds."),
            Some(wait),
        ),
        _ => FlowError::too_many_attempts(
            "userCode",
            format!("Too many incorrect codes from your network. Try again in {} minutes.", minutes(wait)),
            Some(wait),
        ),
    }
}

/// The answer to a sign-on refused in the dirty tier: PingOne's locked-account answer for the
/// account limits, `REQUEST_LIMITED` for the network's.
pub fn sign_on_refusal(counters: &Counters, refused: &[usize], now_s: i64) -> FlowError {
    let scopes: Vec<Scope> = refused.iter().map(|i| counters.scopes[*i]).collect();
    if scopes.contains(&Scope::SignOnNetwork) {
        let wait = seconds_left(counters.get(Scope::SignOnNetwork), now_s);
        return FlowError::too_many_attempts(
            "username",
            format!("Too many failed sign-ons from your network. Try again in {} minutes.", minutes(wait)),
            Some(wait),
        );
    }
    let wait = seconds_left(counters.get(Scope::AccountNetwork), now_s);
    FlowError::password_locked_out(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_blocks_bucket_addresses() {
        assert_eq!(buckets("192.0.2.7".parse().ok()), ("192.0.2.7".into(), "192.0.2.0/24".into()));
        let (net, block) = buckets("2001:db8:1:2:aaaa::1".parse().ok());
        assert_eq!((net.as_str(), block.as_str()), ("2001:db8:1:2::/64", "2001:db8:1::/48"));
        assert_eq!(buckets("2001:db8:1:2:bbbb::9".parse().ok()).0, net, "one /64 is one network");
        assert_eq!(buckets("2001:db8:1:ff::9".parse().ok()).1, block, "one /48 is one block");
    }

    #[test]
    fn the_guessing_probability_meets_the_goal() {
        // Environment-limited guesses over a code's life (10 minutes and a window boundary),
        // plus the clean ones of one block (two 15-minute windows).
        let guesses =
            f64::from(ENV_MAX_FAILURES) * (600.0 / ENV_WINDOW_S as f64 + 1.0) + f64::from(BLOCK_CLEAN_FAILURES) * 2.0;
        let p = guesses * 100.0 / 20f64.powi(8);
        assert!(p < 2f64.powi(-20), "{p}");
    }
}
