//! The store seam: narrow traits the domain needs, with a DynamoDB and an in-memory implementation
//! of identical behaviour (checked by one contract suite, `store::contract`).
//!
//! Every method is exactly one request to DynamoDB, so the request budget of a flow can be read
//! off the calls (`counting`). Single-use transitions are conditional writes inside the store,
//! never read-then-write in the domain.

pub mod contract;
pub mod counting;
pub mod dynamodb;
pub mod memory;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{Application, User};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store could not be reached or refused the request: {0}")]
    Unavailable(String),
    #[error("the store returned an item this version cannot read: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

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
    pub scopes: Vec<String>,
    pub created_ms: i64,
    /// Seconds since the epoch after which the codes are dead (also the TTL attribute).
    pub expires_at: i64,
    /// The polling interval granted at creation, seconds.
    pub interval: u32,
    /// Time of every poll in the order the store applied them, milliseconds. The current
    /// interval, `slow_down` and the winner of a race are all derived from this log
    /// (`grants::device_code::PollLog`), so a poll is one atomic append.
    pub polls: Vec<i64>,
    pub requester: Requester,
    pub decision: Option<Decision>,
    pub redeemed_ms: Option<i64>,
    /// Keyed hash of the refresh token issued at redemption, if any.
    pub refresh_token_hash: Option<String>,
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

/// Result of creating a device grant.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    /// A live grant of the environment already holds this user code: draw another.
    UserCodeTaken,
}

/// Result of appending a poll to a grant's log.
#[derive(Debug, PartialEq, Eq)]
pub enum PollRecord {
    /// The poll was appended; the grant as it now stands.
    Recorded(DeviceGrant),
    /// The log is full (a client ignoring `slow_down`); nothing was appended.
    LogFull(DeviceGrant),
    /// No grant with this id for this client.
    Unknown,
}

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
}

/// Result of a conditional flow update.
#[derive(Debug, PartialEq, Eq)]
pub enum FlowWrite {
    Written(FlowRecord),
    /// The flow was not in the state the action needs; the flow as it stands, if it exists.
    Conflict(Option<FlowRecord>),
}

/// Result of recording consent on a flow and its device grant together.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsentWrite {
    Written,
    /// The flow moved on meanwhile (consent already given, or expired).
    FlowConflict,
    /// The grant expired, vanished or was decided through another flow.
    GrantClosed,
}

/// Applications and users of an environment.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn put_application(&self, app: &Application) -> StoreResult<()>;
    /// Every application of the environment (one query; cached by `directory`).
    async fn list_applications(&self, environment_id: &str) -> StoreResult<Vec<Application>>;
    async fn put_user(&self, user: &User) -> StoreResult<()>;
    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>>;
}

/// Device grants, addressed by device-code hash and by user-code hash.
#[async_trait]
pub trait DeviceGrantStore: Send + Sync {
    /// Stores the grant and claims its user code in one atomic write; the claim fails while
    /// another unexpired grant of the environment holds the code.
    async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCodeEntry,
        now_s: i64,
    ) -> StoreResult<Created>;

    /// Appends `now_ms` to the grant's poll log if the grant exists, belongs to `client_id`,
    /// and its log holds fewer than `max_polls` entries.
    async fn record_poll(
        &self,
        grant_id: &str,
        client_id: &str,
        now_ms: i64,
        max_polls: usize,
    ) -> StoreResult<PollRecord>;

    /// Marks an approved, unredeemed grant redeemed, keeping it until `keep_until` (seconds)
    /// with the hash of the refresh token issued from it. `false` if another poll won.
    async fn redeem_device_grant(
        &self,
        grant_id: &str,
        now_ms: i64,
        refresh_token_hash: Option<&str>,
        keep_until: i64,
    ) -> StoreResult<bool>;

    async fn find_user_code(&self, environment_id: &str, user_code_hash: &str) -> StoreResult<Option<UserCodeEntry>>;
}

/// Sign-on flows. Each write is conditional on the facts the action needs.
#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn get_flow(&self, flow_id: &str) -> StoreResult<Option<FlowRecord>>;

    /// Binds `user` to the flow, creating it from `fresh` if it is not stored yet.
    /// Condition: not stored, or stored, unexpired and without a user.
    async fn sign_on_flow(
        &self,
        fresh: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite>;

    /// Records the device grant a verified user code led to, creating the flow from `fresh` if it
    /// is not stored yet (a code may be entered before signing on).
    /// Condition: not stored, or stored, unexpired and without a device.
    async fn verify_flow_device(
        &self,
        fresh: &FlowRecord,
        device: &FlowDevice,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite>;

    /// Records consent on the flow and the decision on its grant, atomically; an approval is also
    /// remembered for the user and application (scopes added to what they granted before).
    /// Conditions: flow unexpired with a device and no consent yet; grant unexpired and undecided.
    async fn decide_flow_device(
        &self,
        flow: &FlowRecord,
        decision: &Decision,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<ConsentWrite>;
}

/// The counters of the user-code guessing limits: one per client IP and time window, one per
/// environment and time window. Keys and expiries come from `flows::guard`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimiterKeys {
    pub ip: String,
    pub ip_expires_at: i64,
    pub environment: String,
    pub environment_expires_at: i64,
}

/// Everything a user-code attempt needs, fetched in one request.
#[derive(Debug, PartialEq, Eq)]
pub struct CodeAttempt {
    pub entry: Option<UserCodeEntry>,
    pub flow: Option<FlowRecord>,
    pub ip_failures: u32,
    pub environment_failures: u32,
}

/// Scopes a user has granted an application (remembered consent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub environment_id: String,
    pub user_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// Guessing limits for user codes, and remembered consents.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// The user code entry, the flow and both failure counters, in one batched read.
    async fn code_attempt(
        &self,
        environment_id: &str,
        user_code_hash: &str,
        flow_id: &str,
        keys: &LimiterKeys,
    ) -> StoreResult<CodeAttempt>;

    /// Counts a wrong code against the flow (created from `fresh` if not stored), the client IP and
    /// the environment, in one atomic write.
    async fn record_code_failure(&self, fresh: &FlowRecord, keys: &LimiterKeys) -> StoreResult<()>;

    /// Scopes the user has granted the application (empty if none).
    async fn find_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<Vec<String>>;

    /// Every remembered consent of a user, by client id.
    async fn list_consents(&self, environment_id: &str, user_id: &str) -> StoreResult<Vec<ConsentRecord>>;

    /// Forgets a remembered consent; the application must ask again.
    async fn revoke_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<()>;
}

/// Everything the server keeps.
pub trait Store: DirectoryStore + DeviceGrantStore + FlowStore + GuardStore {}
impl<T: DirectoryStore + DeviceGrantStore + FlowStore + GuardStore> Store for T {}
