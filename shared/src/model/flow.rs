//! The records of sign-on flows: the facts a flow has gathered (`flows` derives its status).

use serde::{Deserialize, Serialize};

use super::grant::{AuthorizeRequest, Requester, Subject};

/// The person signed in on a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowUser {
    pub id: String,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub session_id: String,
    pub auth_time: i64,
    /// The password was right but the user must change it first (PingOne's
    /// `MUST_CHANGE_PASSWORD`, PING-COMPAT §1.6): nothing else proceeds, and no session exists
    /// yet (`session_id` is a placeholder until `password.reset` draws the session).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
}

impl FlowUser {
    /// The person as grants remember them (with the profile claims tokens may carry).
    pub fn subject(&self) -> Subject {
        Subject {
            user_id: self.id.clone(),
            username: self.username.clone(),
            session_id: self.session_id.clone(),
            auth_time: self.auth_time,
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            email: self.email.clone(),
        }
    }
}

/// The device grant a flow's user code led to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDevice {
    pub grant_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub requested_ms: i64,
    pub requester: Requester,
}

/// The stored facts of a sign-on flow; its status is derived from them (`flows`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    pub flow_id: String,
    pub environment_id: String,
    /// The application the flow was started for (`/device/{appIdentifier}`), if any.
    pub application_id: Option<String>,
    pub created_ms: i64,
    /// Flows die after 15 minutes without interaction; every action moves this on.
    pub expires_ms: i64,
    pub user: Option<FlowUser>,
    pub device: Option<FlowDevice>,
    /// `Some(true)` consent given, `Some(false)` refused.
    pub consent: Option<bool>,
    /// Wrong user codes entered in this flow (the per-browser-session guessing limit).
    #[serde(default)]
    pub code_failures: u32,
    /// The authorization request this flow signs on for (authorization code flows).
    #[serde(default)]
    pub authorize: Option<AuthorizeRequest>,
    /// When `/as/resume` turned the completed flow into an authorization code (once only).
    #[serde(default)]
    pub resumed_ms: Option<i64>,
}

impl FlowRecord {
    /// Whether the flow may become its authorization code: consent given, or, for an
    /// authorization request that asks none (PingOne has no consent step), the person signed on.
    pub fn consented(&self) -> bool {
        match (self.consent, &self.authorize) {
            (Some(given), _) => given,
            (None, Some(request)) => !request.ask_consent && self.signed_on(),
            (None, None) => false,
        }
    }

    /// Whether a person is signed on and has no password change pending.
    pub fn signed_on(&self) -> bool {
        self.user.as_ref().is_some_and(|u| !u.must_change_password)
    }

    /// Whether the flow waits for its user to change their password (`MUST_CHANGE_PASSWORD`).
    pub fn password_change_pending(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.must_change_password)
    }

    /// A flow as it starts: no facts yet, alive for `lifetime_ms`.
    pub fn started(
        flow_id: &str,
        environment_id: &str,
        application_id: Option<String>,
        created_ms: i64,
        lifetime_ms: i64,
    ) -> Self {
        Self {
            flow_id: flow_id.to_owned(),
            environment_id: environment_id.to_owned(),
            application_id,
            created_ms,
            expires_ms: created_ms + lifetime_ms,
            user: None,
            device: None,
            consent: None,
            code_failures: 0,
            authorize: None,
            resumed_ms: None,
        }
    }
}
