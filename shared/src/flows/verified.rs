//! A verified user code, held by the browser until consent.
//!
//! Verifying a code finds the device grant it leads to (one guarded try, `user_code`). Instead
//! of a second store request to write that grant on the flow, the answer hands it to the browser
//! in a cookie of the flow's own, encrypted (AES-256-GCM) and authenticated to the environment
//! and flow id. The flow shows it (`overlay`) while it waits for consent, and consent writes it
//! on the flow in the same transaction as the decision. So a device flow costs one store request
//! less (issue 12).
//!
//! The cookie rides with the browser key the flow is already bound to, so it changes nothing a
//! client of PingOne's flow API does (it keeps the cookies a flow sets). It proves only what
//! this server found for this flow: it opens for no other flow or environment, dies with the
//! flow's lifetime, and means nothing once the flow holds a device or a consent. A browser that
//! drops it is back at `DAG_USER_CODE_REQUIRED` and types the code again (under the same
//! guessing limits). A grant too large for a cookie (a long device user agent, many scopes) is
//! written on the flow instead.

use serde::{Deserialize, Serialize};

use super::FLOW_LIFETIME_MS;
use crate::app::App;
use crate::browser::BrowserKey;
use crate::hashing::Purpose;
use crate::store::{FlowDevice, FlowRecord};

/// The start of every verified-code cookie's name (the rest names the flow).
pub const COOKIE_PREFIX: &str = "dag_";

/// The longest sealed value sent as a cookie: with its name and attributes it stays under the
/// 4,096 bytes every browser keeps.
const MAX_SEALED: usize = 3_800;

/// What the browser holds: the grant the flow's code led to, and when it was verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub device: FlowDevice,
    pub verified_ms: i64,
}

impl Verified {
    /// A held code lives as long as a flow does without another step.
    pub fn expires_ms(&self) -> i64 {
        self.verified_ms + FLOW_LIFETIME_MS
    }

    /// Whether its cookie is small enough to send, from the plaintext's size (base64url of the
    /// 12-byte nonce, the ciphertext and the 16-byte tag), without sealing it.
    pub fn fits_a_cookie(&self) -> bool {
        serde_json::to_vec(self).is_ok_and(|plain| (12 + plain.len() + 16).div_ceil(3) * 4 <= MAX_SEALED)
    }
}

/// The cookie holding `flow_id`'s verified code: a digest of the flow id, so that each of a
/// browser's flows has its own.
fn cookie_name(app: &App, environment_id: &str, flow_id: &str) -> String {
    let digest = app.hasher.digest(Purpose::VerifiedCode, environment_id, flow_id);
    format!("{COOKIE_PREFIX}{}", &digest[..16])
}

/// The `Set-Cookie` value handing `verified` to the browser for `flow`; `None` when it would be
/// too large for a cookie.
pub fn set_cookie(app: &App, flow: &FlowRecord, verified: &Verified) -> Option<String> {
    let plain = serde_json::to_string(verified).ok()?;
    if !verified.fits_a_cookie() {
        return None;
    }
    let sealed = app.hasher.encrypt_for(Purpose::VerifiedCode, &context(flow), &plain);
    let max_age = (verified.expires_ms() - app.clock.now_ms()).div_euclid(1000).max(0);
    Some(format!(
        "{}={sealed}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        cookie_name(app, &flow.environment_id, &flow.flow_id),
        crate::browser::secure_attribute(app)
    ))
}

/// The code `browser` holds for `flow`, if its cookie opens for this flow and is unexpired.
pub fn held(app: &App, browser: &BrowserKey, flow: &FlowRecord) -> Option<Verified> {
    let sealed = browser.held(&cookie_name(app, &flow.environment_id, &flow.flow_id))?;
    let plain = app.hasher.decrypt_for(Purpose::VerifiedCode, &context(flow), sealed)?;
    let verified: Verified = serde_json::from_str(&plain).ok()?;
    (verified.expires_ms() > app.clock.now_ms()).then_some(verified)
}

/// The flow as the person sees it: with the held code's grant while the flow holds none and
/// waits for one.
pub fn overlay(mut flow: FlowRecord, verified: Option<&Verified>) -> FlowRecord {
    if let Some(v) = verified {
        if flow.device.is_none() && flow.consent.is_none() && flow.authorize.is_none() {
            flow.device = Some(v.device.clone());
        }
    }
    flow
}

fn context(flow: &FlowRecord) -> String {
    format!("{}/{}", flow.environment_id, flow.flow_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> FlowDevice {
        FlowDevice {
            grant_id: "g".into(),
            client_id: "c".into(),
            scopes: vec!["openid".into()],
            requested_ms: 0,
            requester: Default::default(),
        }
    }

    #[test]
    fn the_size_check_bounds_the_sealed_value() {
        let hasher = crate::hashing::Hasher::new(b"0123456789abcdef0123456789abcdef");
        let mut v = Verified { device: device(), verified_ms: 0 };
        for ua_len in [0, 100, 2_700, 2_740, 2_800, 5_000] {
            v.device.requester.user_agent = Some("x".repeat(ua_len));
            let plain = serde_json::to_string(&v).unwrap();
            let sealed = hasher.encrypt_for(Purpose::VerifiedCode, "env/flow", &plain);
            assert!(!v.fits_a_cookie() || sealed.len() <= MAX_SEALED, "{ua_len}: {} bytes", sealed.len());
            assert!(v.fits_a_cookie() || sealed.len() > MAX_SEALED - 4, "{ua_len}: refused at {} bytes", sealed.len());
        }
        v.device.requester.user_agent = Some("x".repeat(5_000));
        assert!(!v.fits_a_cookie(), "a 5 KB user agent is written on the flow instead");
    }

    #[test]
    fn overlay_fills_only_a_flow_waiting_for_a_device() {
        let v = Verified { device: device(), verified_ms: 0 };
        let flow = FlowRecord::started("f", "e", None, 0, 1);
        assert_eq!(overlay(flow.clone(), Some(&v)).device, Some(device()));
        assert_eq!(overlay(flow.clone(), None).device, None);
        let decided = FlowRecord { consent: Some(false), ..flow.clone() };
        assert_eq!(overlay(decided, Some(&v)).device, None, "a decided flow keeps what it stored");
        let other = FlowDevice { grant_id: "stored".into(), ..device() };
        let stored = FlowRecord { device: Some(other.clone()), ..flow };
        assert_eq!(overlay(stored, Some(&v)).device, Some(other), "the stored grant wins");
    }
}
