//! The records of grants: device grants and their user codes, authorization code grants, the
//! token families both start, and remembered consents. Stores keep them (`store`); the grants
//! (`grants`) and the flow engine (`flows`) work on them.

use serde::{Deserialize, Serialize};

/// Where a device authorization request came from, shown to the person approving it
/// (RFC 8628 §5.4, remote phishing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The person who approved a grant, and the sign-on that proved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub user_id: String,
    pub username: String,
    pub session_id: String,
    /// Seconds since the epoch of the authentication.
    pub auth_time: i64,
    /// Profile claims copied at approval, so redemption needs no user lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The person's answer to a device authorization request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    pub subject: Subject,
    pub decided_ms: i64,
}

/// A device authorization request (RFC 8628 §3.1) from creation to redemption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceGrant {
    /// Keyed hash of the device code: the only form in which the device code is kept.
    pub grant_id: String,
    pub environment_id: String,
    pub client_id: String,
    /// The issuer of the dialect the device asked in: the device code redeems only at that
    /// dialect's token endpoint, and its tokens carry that `iss`.
    #[serde(default)]
    pub issuer: String,
    pub scopes: Vec<String>,
    pub created_ms: i64,
    /// Seconds since the epoch after which the codes are dead.
    pub expires_at: i64,
    /// Set at approval: the grant outlives its codes until then, for the refresh token family
    /// its redemption starts (rotations move it on). The store forgets the grant at
    /// `retained_until()`.
    #[serde(default)]
    pub kept_until: Option<i64>,
    /// The polling interval granted at creation, seconds.
    pub interval: u32,
    /// Time of every poll in the order the store applied them, milliseconds. The current
    /// interval and `slow_down` are derived from this log
    /// (`grants::device_code::PollLog`), so a poll is one atomic append.
    pub polls: Vec<i64>,
    pub requester: Requester,
    pub decision: Option<Decision>,
    /// The poll that redeems the grant: the first after approval, by the random id it carries.
    /// Every poll claims this in the same atomic write as its append if it is free, and
    /// approval frees it, so of any number of polls after approval exactly one finds its own id
    /// here (`grants::device_code::judge`).
    #[serde(default)]
    pub winner: Option<String>,
    /// The refresh token family the redemption starts (`grants::refresh`), if any: set with the
    /// approval.
    pub rt_generation: Option<u32>,
    /// When the tokens issued from this grant were revoked.
    pub revoked_ms: Option<i64>,
}

impl DeviceGrant {
    /// Whether a poll has redeemed the approved grant.
    pub fn redeemed(&self) -> bool {
        self.decision.as_ref().is_some_and(|d| d.approved) && self.winner.is_some()
    }

    /// When the store may forget the grant (its TTL).
    pub fn retained_until(&self) -> i64 {
        self.kept_until.unwrap_or(self.expires_at).max(self.expires_at)
    }
}

/// The user-code side of a device grant: what a person's typed code leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCodeEntry {
    pub environment_id: String,
    /// Keyed hash of the canonical user code, scoped to the environment.
    pub user_code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub created_ms: i64,
    pub expires_at: i64,
    pub requester: Requester,
}

/// A validated authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1), kept with
/// its flow until the code is issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// The issuer of the dialect the request came in (the `iss` of the response, RFC 9207).
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// `S256` or `plain`.
    #[serde(default)]
    pub code_challenge_method: Option<String>,
    /// Re-authenticate even with a session (`prompt=login`).
    #[serde(default)]
    pub force_login: bool,
    /// Ask for consent even if remembered (`prompt=consent`).
    #[serde(default)]
    pub force_consent: bool,
    /// The flow has a consent step: the application asks for one (`requireConsent`, ours) or
    /// the request says `prompt=consent`. PingOne has none: signing on completes the flow.
    #[serde(default)]
    pub ask_consent: bool,
    #[serde(default)]
    pub max_age: Option<i64>,
    #[serde(default)]
    pub login_hint: Option<String>,
}

impl AuthorizeRequest {
    /// The request's PKCE challenge as one comparable value: `S256:{challenge}`,
    /// `plain:{challenge}`, or `none` (RFC 7636 §4.3).
    pub fn pkce_key(&self) -> String {
        match (&self.code_challenge, self.code_challenge_method.as_deref()) {
            (Some(challenge), Some("S256")) => format!("S256:{challenge}"),
            (Some(challenge), _) => format!("plain:{challenge}"),
            (None, _) => "none".to_owned(),
        }
    }
}

/// An authorization code's grant: single use, short-lived, bound to client, redirect URI, PKCE
/// challenge, nonce and the sign-on; afterwards the family of the tokens issued from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// Keyed hash of the authorization code.
    pub grant_id: String,
    pub environment_id: String,
    pub request: AuthorizeRequest,
    pub subject: Subject,
    pub created_ms: i64,
    pub expires_at: i64,
    pub redeemed_ms: Option<i64>,
    pub rt_generation: Option<u32>,
    pub revoked_ms: Option<i64>,
}

/// Which kind of grant a token family hangs off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantKind {
    Device,
    Code,
}

/// The state shared by everything issued from one grant (RFC 6749 §10.4, RFC 9700 §4.14):
/// refresh tokens rotate through generations; reuse of an old one, or a replayed code,
/// revokes the family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    pub kind: GrantKind,
    pub grant_id: String,
    pub environment_id: String,
    /// The issuer whose endpoints the family's tokens are good at.
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub subject: Subject,
    pub nonce: Option<String>,
    pub rt_generation: Option<u32>,
    pub revoked: bool,
    /// Seconds since the epoch after which the family is dead.
    pub expires_at: i64,
}

impl Family {
    pub fn from_device(g: &DeviceGrant) -> Option<Self> {
        let decision = g.decision.as_ref().filter(|d| d.approved)?;
        g.winner.as_ref()?;
        Some(Self {
            kind: GrantKind::Device,
            grant_id: g.grant_id.clone(),
            environment_id: g.environment_id.clone(),
            issuer: g.issuer.clone(),
            client_id: g.client_id.clone(),
            scopes: g.scopes.clone(),
            subject: decision.subject.clone(),
            nonce: None,
            rt_generation: g.rt_generation,
            revoked: g.revoked_ms.is_some(),
            expires_at: g.retained_until(),
        })
    }

    pub fn from_code(g: &CodeGrant) -> Option<Self> {
        g.redeemed_ms?;
        Some(Self {
            kind: GrantKind::Code,
            grant_id: g.grant_id.clone(),
            environment_id: g.environment_id.clone(),
            issuer: g.request.issuer.clone(),
            client_id: g.request.client_id.clone(),
            scopes: g.request.scopes.clone(),
            subject: g.subject.clone(),
            nonce: g.request.nonce.clone(),
            rt_generation: g.rt_generation,
            revoked: g.revoked_ms.is_some(),
            expires_at: g.expires_at,
        })
    }
}

/// Scopes a user has granted an application (remembered consent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub environment_id: String,
    pub user_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}
