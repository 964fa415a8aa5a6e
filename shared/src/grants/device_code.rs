//! The Device Authorization Grant (RFC 8628): issuing codes (§3.1-3.2) and polling (§3.4-3.5).

use crate::app::{App, Dialect};
use crate::audit::{Action, Status};
use crate::codes::{DeviceCode, UserCode};
use crate::error::OAuthError;
use crate::grants::{issue_tokens, refresh, Issue, TokenResponse};
use crate::hashing::Purpose;
use crate::model::{Application, GrantType};
use crate::store::{Counter, Created, DeviceGrant, GrantKind, PollRecord, Redemption, Requester, UserCodeEntry};

/// RFC 8628 §3.5: each `slow_down` adds five seconds to the interval, for good.
pub const SLOW_DOWN_STEP_S: u32 = 5;

/// Polls recorded beyond one per interval over the grant's lifetime, before further polls are
/// refused without being recorded (bounds the item a misbehaving client can grow).
const EXTRA_POLLS: usize = 64;

/// Draws of a fresh user code before giving up (a collision among live codes is rare: 20^8).
const USER_CODE_ATTEMPTS: usize = 5;

/// What the device is told at the device authorization endpoint.
#[derive(Debug)]
pub struct DeviceAuthorization {
    pub device_code: DeviceCode,
    pub user_code: UserCode,
    pub expires_in: u32,
    pub interval: u32,
}

/// Creates a grant for `application` with `scopes` (already checked), claiming a user code that
/// no live grant of the environment holds. One store write in the normal case.
pub async fn authorize(
    app: &App,
    dialect: Dialect,
    application: &Application,
    scopes: Vec<String>,
    requester: Requester,
    ip: Option<std::net::IpAddr>,
) -> Result<DeviceAuthorization, OAuthError> {
    let env = &application.environment_id;
    let device_code = DeviceCode::generate(&*app.random);
    let now_ms = app.clock.now_ms();
    let expires_at = now_ms.div_euclid(1000) + i64::from(application.device_timeout);
    let grant = DeviceGrant {
        grant_id: app.hasher.digest(Purpose::DeviceCode, "", device_code.secret()),
        environment_id: env.clone(),
        client_id: application.client_id.clone(),
        issuer: app.issuer(dialect, env),
        scopes,
        created_ms: now_ms,
        expires_at,
        kept_until: None,
        interval: application.device_polling_interval,
        polls: Vec::new(),
        requester,
        decision: None,
        winner: None,
        rt_generation: None,
        revoked_ms: None,
    };
    let counters = rate_counters(app, env, &application.client_id, ip, now_ms.div_euclid(1000));
    for _ in 0..USER_CODE_ATTEMPTS {
        let user_code = UserCode::generate(&*app.random, usize::from(application.user_code_length));
        let entry = UserCodeEntry {
            environment_id: env.clone(),
            user_code_hash: app.hasher.digest(Purpose::UserCode, env, user_code.canonical()),
            grant_id: grant.grant_id.clone(),
            client_id: grant.client_id.clone(),
            scopes: grant.scopes.clone(),
            created_ms: now_ms,
            expires_at,
            requester: grant.requester.clone(),
        };
        match app.store.create_device_grant(&grant, &entry, now_ms.div_euclid(1000), &counters).await? {
            Created::Created => {
                app.audit(env, Action::DeviceAuthorizationCreated, Status::Success, "Device authorization created.")
                    .client(&application.client_id)
                    .resource("GRANT", &grant.grant_id)
                    .emit();
                return Ok(DeviceAuthorization {
                    device_code,
                    user_code,
                    expires_in: application.device_timeout,
                    interval: application.device_polling_interval,
                });
            }
            Created::UserCodeTaken => {}
            Created::Limited(limit) => {
                app.audit(env, Action::DeviceAuthorizationCreated, Status::Failed, "Refused by the rate limits.")
                    .client(&application.client_id)
                    .emit();
                let window_end = limit.first().and_then(|i| counters.get(*i)).map_or(0, |c| c.expires_at);
                let wait = (window_end - now_ms.div_euclid(1000)).max(1);
                return Err(OAuthError::rate_limited(
                    format!("Too many device authorization requests; retry in {wait} seconds."),
                    wait,
                ));
            }
        }
    }
    tracing::error!(environment = %env, "no free user code after {USER_CODE_ATTEMPTS} draws");
    Err(OAuthError::temporarily_unavailable())
}

/// The rate counters of a device authorization: per network and per client, per minute, each
/// unless switched off (`Settings::device_authorization_limits`). Both count in the same write
/// that creates the grant, so they hold across instances at no extra store request.
fn rate_counters(app: &App, env: &str, client_id: &str, ip: Option<std::net::IpAddr>, now_s: i64) -> Vec<Counter> {
    let window = now_s.div_euclid(60);
    let expires_at = (window + 1) * 60;
    let (network, _) = crate::flows::guard::buckets(ip);
    let limits = app.settings.device_authorization_limits;
    let counter = |what: String, below: Option<u32>| {
        below.map(|below| Counter {
            key: app.hasher.digest(Purpose::Counter, env, &format!("DeviceAuthorization|{window}|{what}")),
            expires_at,
            below: Some(below),
        })
    };
    [
        counter(format!("network|{network}"), limits.per_network),
        counter(format!("client|{client_id}"), limits.per_client),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The polling history of a grant, replayed: RFC 8628 §3.5 asks that a client polling faster
/// than the interval gets `slow_down` and that the interval then grows by 5 s for all later
/// polls. Because every instance appends to the same log in the store, the rule holds across
/// all instances at one store request per poll.
#[derive(Debug, PartialEq, Eq)]
pub struct PollLog {
    /// The interval in force after the last poll, seconds.
    pub interval: u32,
    /// Whether the last poll came sooner than the interval allowed.
    pub last_too_early: bool,
}

impl PollLog {
    pub fn replay(base_interval: u32, polls: &[i64]) -> Self {
        let mut interval = base_interval;
        let mut last_too_early = false;
        let mut previous: Option<i64> = None;
        for &at in polls {
            // The same instant twice is one poll written twice: the SDK resent a request whose
            // answer was lost (the timestamp is the request's).
            if previous == Some(at) {
                continue;
            }
            last_too_early = previous.is_some_and(|p| at - p < i64::from(interval) * 1000);
            if last_too_early {
                interval += SLOW_DOWN_STEP_S;
            }
            previous = Some(at);
        }
        Self { interval, last_too_early }
    }
}

/// The answer to one poll, before any tokens are minted.
#[derive(Debug, PartialEq, Eq)]
pub enum PollVerdict {
    Invalid,
    /// The code was redeemed already: a second redemption (RFC 9700 §4.14's reasoning, as for
    /// authorization codes) revokes what the first one issued.
    Replayed,
    Expired,
    Denied,
    SlowDown(u32),
    Pending,
    /// Approved and not yet redeemed: this poll may try to redeem it.
    Redeemable,
}

/// Judges a poll from the grant as the store returned it after appending this poll, which
/// carried `poll_id`. Order: unknown, redeemed (by another poll), expired, denied, this poll's
/// redemption, too fast, pending. The first poll after approval redeems even if it came early:
/// the request is no longer pending, and `slow_down` is a kind of pending (RFC 8628 §3.5).
pub fn judge(record: &PollRecord, now_ms: i64, poll_id: &str) -> PollVerdict {
    let (grant, appended) = match record {
        PollRecord::Unknown => return PollVerdict::Invalid,
        PollRecord::Recorded(g) => (g, true),
        PollRecord::LogFull(g) => (g, false),
    };
    let won = appended && grant.winner.as_deref() == Some(poll_id);
    if grant.redeemed() && !won {
        return PollVerdict::Replayed;
    }
    if now_ms.div_euclid(1000) >= grant.expires_at {
        return PollVerdict::Expired;
    }
    if grant.decision.as_ref().is_some_and(|d| !d.approved) {
        return PollVerdict::Denied;
    }
    if grant.decision.is_some() && won {
        return PollVerdict::Redeemable;
    }
    let log = PollLog::replay(grant.interval, &grant.polls);
    if !appended || log.last_too_early {
        return PollVerdict::SlowDown(log.interval);
    }
    PollVerdict::Pending
}

/// What approving a grant of `application` at `now_s` prepares for its redemption: the grant
/// is kept for the life of the tokens it issues (a redemption comes before the codes die, at
/// most the device timeout after approval; a refresh token's first rotation then keeps the
/// family exactly its lifetime), with a refresh token family if the application may refresh.
pub fn redemption(application: &Application, now_s: i64) -> Redemption {
    let with_refresh_token = application.allows(GrantType::RefreshToken);
    let lifetime =
        if with_refresh_token { application.refresh_token_lifetime } else { application.access_token_lifetime };
    let keep_until = now_s + i64::from(application.device_timeout) + i64::from(lifetime);
    Redemption { keep_until, with_refresh_token }
}

/// Most polls a grant records.
fn max_polls(grant_interval: u32, timeout_s: u32) -> usize {
    usize::try_from(timeout_s / grant_interval.max(1)).unwrap_or(0) + EXTRA_POLLS
}

/// The token endpoint's `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
/// Every poll costs one store request, the one that redeems included: its append claims the
/// redemption (`DeviceGrant::winner`).
pub async fn poll(
    app: &App,
    dialect: Dialect,
    application: &Application,
    device_code: &DeviceCode,
) -> Result<TokenResponse, OAuthError> {
    let grant_id = app.hasher.digest(Purpose::DeviceCode, "", device_code.secret());
    let now_ms = app.clock.now_ms();
    let limit = max_polls(application.device_polling_interval, application.device_timeout);
    let issuer = app.issuer(dialect, &application.environment_id);
    let poll_id = uuid::Builder::from_random_bytes(crate::clock::random_bytes::<16>(&*app.random))
        .into_uuid()
        .simple()
        .to_string();
    let record = app.store.record_poll(&grant_id, &application.client_id, &issuer, now_ms, limit, &poll_id).await?;
    match judge(&record, now_ms, &poll_id) {
        PollVerdict::Invalid => Err(OAuthError::invalid_device_code()),
        PollVerdict::Replayed => replayed(app, application, &grant_id).await,
        PollVerdict::Expired => Err(OAuthError::expired_token()),
        PollVerdict::Denied => Err(OAuthError::access_denied()),
        PollVerdict::SlowDown(interval) => Err(OAuthError::slow_down(interval)),
        PollVerdict::Pending => Err(OAuthError::authorization_pending()),
        PollVerdict::Redeemable => {
            let (PollRecord::Recorded(grant) | PollRecord::LogFull(grant)) = record else {
                return Err(OAuthError::invalid_device_code());
            };
            redeem(app, dialect, application, &grant)
        }
    }
}

/// The tokens of the grant this poll redeemed.
fn redeem(
    app: &App,
    dialect: Dialect,
    application: &Application,
    grant: &DeviceGrant,
) -> Result<TokenResponse, OAuthError> {
    let Some(decision) = &grant.decision else {
        return Err(OAuthError::authorization_pending());
    };
    // As the approval prepared it (an application changed since issues no refresh token the
    // family cannot rotate).
    let with_refresh = application.allows(GrantType::RefreshToken) && grant.rt_generation == Some(0);
    let kind = GrantKind::Device;
    Ok(issue_tokens(
        app,
        Issue {
            issuer: if grant.issuer.is_empty() {
                app.issuer(dialect, &grant.environment_id)
            } else {
                grant.issuer.clone()
            },
            application,
            subject: Some(&decision.subject),
            scopes: &grant.scopes,
            nonce: None,
            family: Some((kind, &grant.grant_id)),
            refresh_token: with_refresh.then(|| refresh::issue(app, kind, &grant.grant_id, 0)),
        },
    ))
}

/// A second redemption of a device code: the tokens of the first are revoked, and the answer is
/// the one for any spent code (Ping's `invalid_grant`), so it tells nothing new.
async fn replayed(app: &App, application: &Application, grant_id: &str) -> Result<TokenResponse, OAuthError> {
    app.store.revoke_family(GrantKind::Device, grant_id, app.clock.now_ms()).await?;
    let description = "The device code was redeemed twice; the tokens issued from it are revoked.";
    app.audit(&application.environment_id, Action::ReuseDetected, Status::Failed, description)
        .client(&application.client_id)
        .resource("GRANT", grant_id)
        .emit();
    Err(OAuthError::invalid_device_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Decision, Subject};

    fn grant(polls: Vec<i64>) -> DeviceGrant {
        DeviceGrant {
            grant_id: "g".into(),
            environment_id: "e".into(),
            client_id: "c".into(),
            issuer: String::new(),
            scopes: vec![],
            created_ms: 0,
            expires_at: 600,
            kept_until: None,
            interval: 5,
            polls,
            requester: Requester::default(),
            decision: None,
            winner: None,
            rt_generation: None,
            revoked_ms: None,
        }
    }

    fn decided(approved: bool, polls: Vec<i64>) -> DeviceGrant {
        let subject = Subject {
            user_id: "u".into(),
            username: "demo".into(),
            session_id: "s".into(),
            auth_time: 0,
            given_name: None,
            family_name: None,
            email: None,
        };
        DeviceGrant { decision: Some(Decision { approved, subject, decided_ms: 1 }), ..grant(polls) }
    }

    #[test]
    fn the_first_poll_is_never_too_early() {
        assert_eq!(PollLog::replay(5, &[100]), PollLog { interval: 5, last_too_early: false });
    }

    #[test]
    fn early_polls_grow_the_interval_for_good() {
        // On time, early (interval 10), on time by the new interval, early again (15).
        let polls = [0, 5_000, 6_000, 16_000, 20_000];
        assert_eq!(PollLog::replay(5, &polls[..2]), PollLog { interval: 5, last_too_early: false });
        assert_eq!(PollLog::replay(5, &polls[..3]), PollLog { interval: 10, last_too_early: true });
        assert_eq!(PollLog::replay(5, &polls[..4]), PollLog { interval: 10, last_too_early: false });
        assert_eq!(PollLog::replay(5, &polls), PollLog { interval: 15, last_too_early: true });
        // A poll the SDK wrote twice (its answer was lost) is one poll.
        assert_eq!(PollLog::replay(5, &[0, 5_000, 5_000]), PollLog { interval: 5, last_too_early: false });
    }

    #[test]
    fn verdicts_follow_the_order_of_checks() {
        let rec = |g: DeviceGrant| PollRecord::Recorded(g);
        let won = |g: DeviceGrant| DeviceGrant { winner: Some("p".into()), ..g };
        assert_eq!(judge(&PollRecord::Unknown, 0, "p"), PollVerdict::Invalid);
        assert_eq!(judge(&rec(won(grant(vec![0]))), 1_000, "p"), PollVerdict::Pending, "a claim before approval");
        assert_eq!(judge(&rec(grant(vec![0, 1_000])), 1_000, "p"), PollVerdict::SlowDown(10));
        assert_eq!(judge(&PollRecord::LogFull(grant(vec![0])), 9_000, "p"), PollVerdict::SlowDown(5));
        assert_eq!(judge(&rec(grant(vec![0])), 600_000, "p"), PollVerdict::Expired);
        let denied = won(decided(false, vec![0, 1]));
        assert_eq!(judge(&rec(denied), 1_000, "p"), PollVerdict::Denied, "denial beats slow_down");
        assert_eq!(judge(&rec(won(decided(true, vec![0, 5_000]))), 5_000, "p"), PollVerdict::Redeemable);
        let early = won(decided(true, vec![0, 1]));
        assert_eq!(judge(&rec(early), 1_000, "p"), PollVerdict::Redeemable, "the redeeming poll may come early");
        let log_full = won(decided(true, vec![0]));
        assert_eq!(
            judge(&PollRecord::LogFull(log_full), 9_000, "p"),
            PollVerdict::Replayed,
            "not appended: not its claim"
        );
        let other = won(decided(true, vec![0]));
        assert_eq!(judge(&rec(other), 700_000, "q"), PollVerdict::Replayed, "a spent code is replayed, not expired");
        let unclaimed = decided(true, vec![0]);
        assert_eq!(judge(&PollRecord::LogFull(unclaimed), 9_000, "p"), PollVerdict::SlowDown(5));
    }

    #[test]
    fn the_poll_log_is_bounded_by_the_lifetime() {
        assert_eq!(max_polls(5, 600), 120 + EXTRA_POLLS);
        assert_eq!(max_polls(1, 3600), 3600 + EXTRA_POLLS);
    }
}
