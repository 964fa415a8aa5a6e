//! The store seam: narrow traits the domain needs, with a DynamoDB and an in-memory implementation
//! of identical behaviour (checked by one contract suite, `store::contract`).
//!
//! Every method is one request to DynamoDB (`revoke_consent` adds one per token family it
//! revokes; `sign_on_flow_within` one when the flow was not as the caller expected; a transaction
//! that lost to a concurrent one on the same item is sent again), so the
//! request budget of a flow can be read off the calls (`counting`). Single-use transitions and
//! every limit are conditional writes inside the store, never read-check-write in the domain.

pub mod contract;
pub mod counting;
pub mod directory;
mod directory_contract;
pub mod dynamodb;
pub mod memory;
mod password_change_contract;
pub mod races;

use async_trait::async_trait;

pub use self::directory::{
    Applied, DirectoryStore, Expect, Kind, Name, NameKind, Record, RecordKey, Write, MAX_WRITES,
};
pub use crate::model::flow::{FlowDevice, FlowRecord, FlowUser};
pub use crate::model::grant::{
    AuthorizeRequest, CodeGrant, ConsentRecord, Decision, DeviceGrant, Family, GrantKind, Requester, Subject,
    UserCodeEntry,
};
use crate::model::User;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store could not be reached or refused the request: {0}")]
    Unavailable(String),
    #[error("the store returned an item this version cannot read: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Result of creating a device grant.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    /// A live grant of the environment already holds this user code: draw another.
    UserCodeTaken,
    /// These rate counters (indexes into the request's) are at their limit: nothing was written.
    Limited(Vec<usize>),
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

/// What the redemption of an authorization code must match (RFC 6749 §4.1.3, RFC 7636 §4.6,
/// RFC 9207): checked by the same conditional write that spends the code, so a request that
/// fails a check spends nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeProof {
    pub client_id: String,
    pub redirect_uri: String,
    /// The issuer of the token endpoint called.
    pub issuer: String,
    /// The PKCE keys (`AuthorizeRequest::pkce_key`) the presented verifier answers.
    pub pkce: Vec<String>,
}

impl CodeProof {
    /// Whether `request` is what this proof answers.
    pub fn matches(&self, request: &AuthorizeRequest) -> bool {
        request.client_id == self.client_id
            && request.redirect_uri == self.redirect_uri
            && request.issuer == self.issuer
            && self.pkce.contains(&request.pkce_key())
    }
}

/// Result of redeeming an authorization code.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeRedemption {
    Redeemed(Box<CodeGrant>),
    /// Redeemed before, with a proof that matches: a replay (the caller revokes the family).
    Replayed,
    /// The code is this client's but the proof does not match: nothing was spent.
    Mismatch(Box<CodeGrant>),
    /// Unknown, another client's, or expired.
    Invalid,
}

impl CodeRedemption {
    /// Why a stored code was not redeemed with `proof` (both stores judge alike).
    pub fn refused(code: CodeGrant, proof: &CodeProof) -> Self {
        if code.request.client_id != proof.client_id {
            CodeRedemption::Invalid
        } else if !proof.matches(&code.request) {
            CodeRedemption::Mismatch(Box::new(code))
        } else if code.redeemed_ms.is_some() {
            CodeRedemption::Replayed
        } else {
            CodeRedemption::Invalid
        }
    }
}

/// Result of rotating a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Generation `n` was current; the family now stands at `n + 1`.
    Rotated(Box<Family>),
    /// `n` was not current: an old token was used again (the caller revokes the family).
    Stale,
    /// Unknown, another client's, revoked or expired.
    Invalid,
}

/// What approving a device grant prepares for its redemption by the first poll after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redemption {
    /// The grant outlives its codes until then (seconds): the life of the tokens it issues.
    pub keep_until: i64,
    /// The redemption starts a refresh token family at generation 0.
    pub with_refresh_token: bool,
}

/// Result of a conditional flow update.
#[derive(Debug, PartialEq, Eq)]
pub enum FlowWrite {
    Written(FlowRecord),
    /// The flow was not in the state the action needs; the flow as it stands, if it exists.
    Conflict(Option<FlowRecord>),
}

/// Result of signing a person on to a flow under the sign-on limits (`sign_on_flow_within`).
#[derive(Debug, PartialEq, Eq)]
pub enum SignOnWrite {
    Written(FlowRecord),
    /// The flow was not in a state to take a sign-on; the flow as it stands, if it exists.
    Conflict(Option<FlowRecord>),
    /// These counters (indexes) were at their limit: nothing was written.
    Limited(Vec<usize>),
}

/// What a sign-on reads before it checks a password: the user, and how far each counter of
/// the attempt stands (only a hint: the write that follows holds every limit by its condition).
#[derive(Debug)]
pub struct SignOnLookup {
    pub user: Option<User>,
    /// The count of each counter asked for, in order (0 for one never counted).
    pub counts: Vec<u32>,
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

/// A count of failures (or requests) in a time window, kept in the store so it holds across
/// instances. `flows::guard` and `grants::device_code` name and size them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// A keyed hash naming what is counted (no raw address or username is stored).
    pub key: String,
    /// When the window ends, seconds since the epoch (the item's TTL).
    pub expires_at: i64,
    /// An attempt counted here may go ahead only while the count is below this; `None`: the
    /// counter only counts.
    pub below: Option<u32>,
}

/// Result of counting an attempt on a set of counters.
#[derive(Debug, PartialEq, Eq)]
pub enum Counted {
    /// Every limit held; every counter went up by one.
    Counted,
    /// These counters (indexes) were at their limit: nothing changed.
    Refused(Vec<usize>),
}

/// One try of a user code, judged and counted in one atomic step (RFC 8628 §5.1).
#[derive(Debug)]
pub struct UserCodeAttempt<'a> {
    /// The flow as the caller last saw it: stored, or as started (created from its starting
    /// facts if it is not stored yet). The flow a found code returns is exactly the stored one;
    /// a stale expectation may cost the store another request, never a wrong answer.
    pub fresh: &'a FlowRecord,
    pub user_code_hash: &'a str,
    /// A code of another application does not count as live (a flow started for one app).
    pub application_id: Option<&'a str>,
    /// The flow may try only while it has fewer wrong codes than this.
    pub flow_below: u32,
    pub counters: &'a [Counter],
    pub now_ms: i64,
}

/// What a user-code try came to.
#[derive(Debug, PartialEq, Eq)]
pub enum UserCodeOutcome {
    /// No code (of the flow's application) has this hash: one failure was counted on the flow
    /// and on every counter.
    Wrong,
    /// A code of the environment has this hash (its entry, which may have expired; an expired
    /// one tells nothing about live codes), tried on `flow` (as stored, or as started when it
    /// is not stored). Nothing was counted or written.
    Found { entry: UserCodeEntry, flow: Box<FlowRecord> },
    /// Refused before the code was judged; nothing changed. `flow` is the stored flow when it
    /// could not take a code (moved on, expired, or at its limit); `counters` the indexes of the
    /// counters at their limit.
    Refused { flow: Option<Box<FlowRecord>>, counters: Vec<usize> },
}

/// Sign-on sessions (the `ST` cookie carries them; the store only remembers the ended ones).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The user `user_id` of a session, in one batched read: `None` when the user is unknown or
    /// the session `session_id` was ended. By id, so a renamed user stays signed on.
    async fn session_user(&self, environment_id: &str, user_id: &str, session_id: &str) -> StoreResult<Option<User>>;

    /// Ends a session for good (remembered until `expires_at`, when its cookie dies anyway).
    async fn end_session(&self, environment_id: &str, session_id: &str, expires_at: i64) -> StoreResult<()>;
}

/// Device grants, addressed by device-code hash and by user-code hash.
#[async_trait]
pub trait DeviceGrantStore: Send + Sync {
    /// Stores the grant and claims its user code in one atomic write, counting the request on
    /// `counters` (the device authorization rate limits). Fails while another unexpired grant of
    /// the environment holds the code, or a counter is at its limit; then nothing is written.
    async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCodeEntry,
        now_s: i64,
        counters: &[Counter],
    ) -> StoreResult<Created>;

    /// Appends `now_ms` to the grant's poll log if the grant exists, belongs to `client_id` and
    /// `issuer`, and its log holds fewer than `max_polls` entries; in the same atomic write, the
    /// poll claims the grant's `winner` with `poll_id` if it is free. A poll whose outcome is
    /// unknown (its answer lost) counts as recorded if the grant shows its claim.
    async fn record_poll(
        &self,
        grant_id: &str,
        client_id: &str,
        issuer: &str,
        now_ms: i64,
        max_polls: usize,
        poll_id: &str,
    ) -> StoreResult<PollRecord>;
}

/// Sign-on flows. Each write is conditional on the facts the action needs.
#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn get_flow(&self, flow_id: &str) -> StoreResult<Option<FlowRecord>>;

    /// Binds `user` to the flow, creating it from `fresh` if it is not stored yet; a user with
    /// `must_change_password` leaves the flow pending the change (`change_password_flow`), which
    /// every other write of the flow waits for.
    /// Condition: not stored, or stored, unexpired and without a user.
    async fn sign_on_flow(
        &self,
        fresh: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite>;

    /// Binds `user` (signed on with a right password) to the flow as `sign_on_flow` does, in the
    /// same atomic step as a check that every one of `limits` is below its limit (nothing is
    /// counted: a right password is no failure). `expected` is the flow as the caller last saw
    /// it (stored, or as started); a stale one costs another request, never a wrong answer. A
    /// flow already bound to `user`'s session is this write sent again: `Written`.
    /// Conditions: those of `sign_on_flow`, and every limit holds; the flow's state is judged
    /// first (`Conflict` before `Limited`).
    async fn sign_on_flow_within(
        &self,
        expected: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
        limits: &[Counter],
    ) -> StoreResult<SignOnWrite>;

    /// Records the device grant a verified user code led to, creating the flow from `fresh` if it
    /// is not stored yet (a code may be entered before signing on).
    /// Condition: not stored, or stored, unexpired, without a device and no password change pending.
    async fn verify_flow_device(
        &self,
        fresh: &FlowRecord,
        device: &FlowDevice,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite>;

    /// Records consent on the flow (with `flow.device`, the grant its code led to, when the flow
    /// does not hold it yet: a code the browser kept, `flows::verified`) and the decision on its
    /// grant, atomically; an approval is also
    /// remembered for the user and application (scopes added to what they granted before, the
    /// grant added to the families the consent covers), frees the grant's `winner` for the next
    /// poll, and prepares its `redemption`.
    /// Conditions: flow stored, unexpired, signed on, with that device or none, no consent yet
    /// and no password change pending; grant unexpired and undecided.
    async fn decide_flow_device(
        &self,
        flow: &FlowRecord,
        decision: &Decision,
        now_ms: i64,
        expires_ms: i64,
        redemption: &Redemption,
    ) -> StoreResult<ConsentWrite>;

    /// Ends the flow's pending password change (PingOne's `MUST_CHANGE_PASSWORD`, once the new
    /// password is stored): `user` (the person with the session that now begins) replaces the
    /// pending one, the change no longer pending whatever `user` says, and the flow lives on to
    /// `expires_ms`.
    /// Condition: stored, unexpired, and its user pending the change.
    async fn change_password_flow(
        &self,
        flow_id: &str,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite>;
}

/// Guessing and sign-on limits, and remembered consents.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// Judges a user code and counts a wrong one, atomically (see `UserCodeAttempt`): unless the
    /// hash names a code of the environment (and of `application_id`, when given), one failure
    /// is added to the flow and to every counter; but only if the flow can take a code (not
    /// stored, or stored without a device, consent or authorization request, unexpired, with fewer
    /// than `flow_below` failures) and every counter is below its limit. Otherwise nothing
    /// changes. A found code is never counted, so a correct code has nothing to refund.
    async fn attempt_user_code(&self, attempt: &UserCodeAttempt<'_>) -> StoreResult<UserCodeOutcome>;

    /// The user `username` names in the environment (any case), and the count of each of
    /// `counters`, in one batched read: what a sign-on needs before it checks a password.
    async fn sign_on_lookup(
        &self,
        environment_id: &str,
        username: &str,
        counters: &[Counter],
    ) -> StoreResult<SignOnLookup>;

    /// Adds one to every counter if each is below its limit, atomically; otherwise changes nothing.
    async fn reserve(&self, counters: &[Counter]) -> StoreResult<Counted>;

    /// Takes one back from every counter: a reservation that turned out not to be a failure.
    async fn release(&self, counters: &[Counter]) -> StoreResult<()>;

    /// Scopes the user has granted the application (empty if none).
    async fn find_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<Vec<String>>;

    /// Records a client assertion as used (RFC 7523 §3 item 7, its `jti`) until `expires_at`
    /// (seconds): `true` the first time, `false` while an earlier use is unexpired. One
    /// conditional write, so of any number of concurrent uses across instances exactly one wins.
    /// `key` is the keyed hash of the environment, client and `jti` (never the raw `jti`).
    async fn claim_assertion(&self, key: &str, expires_at: i64, now_s: i64) -> StoreResult<bool>;

    /// Every remembered consent of a user, by client id; also those with no scopes, which only
    /// list the token families of flows without a consent step (so revoking all a user's
    /// consents revokes every token issued to it).
    async fn list_consents(&self, environment_id: &str, user_id: &str) -> StoreResult<Vec<ConsentRecord>>;

    /// Forgets a remembered consent, and revokes every token family issued under it; the
    /// application must ask again.
    async fn revoke_consent(
        &self,
        environment_id: &str,
        user_id: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<()>;
}

/// Authorization code flows and the token families of both grant kinds.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new flow for an authorization request.
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()>;

    /// Records the consent of an authorization flow (remembering an approval).
    /// Condition: flow unexpired, signed on (no password change pending), no consent yet.
    async fn consent_flow(
        &self,
        flow: &FlowRecord,
        approved: bool,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite>;

    /// Turns a completed flow (`FlowRecord::consented`) into its authorization code, once: marks the flow resumed and
    /// stores the code grant (listing it on the user's consent), atomically. `false` if the flow
    /// was resumed already.
    async fn resume_flow(&self, flow_id: &str, code: &CodeGrant, now_ms: i64) -> StoreResult<bool>;

    /// Redeems a code: unredeemed, unexpired and matching `proof`, once. A redeemed grant is kept
    /// until `keep_until`, with a refresh token family at generation 0 if asked.
    async fn redeem_code(
        &self,
        grant_id: &str,
        proof: &CodeProof,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<CodeRedemption>;

    /// The token family of a grant.
    async fn family(&self, kind: GrantKind, grant_id: &str) -> StoreResult<Option<Family>>;

    /// Moves the family from `generation` to the next if that is current, the family is
    /// `client_id`'s at `issuer`, unrevoked and alive at `now_s`; extends it to `keep_until`.
    #[allow(clippy::too_many_arguments)]
    async fn rotate_refresh(
        &self,
        kind: GrantKind,
        grant_id: &str,
        client_id: &str,
        issuer: &str,
        generation: u32,
        now_s: i64,
        keep_until: i64,
    ) -> StoreResult<Rotation>;

    /// Revokes everything issued from the grant.
    async fn revoke_family(&self, kind: GrantKind, grant_id: &str, now_ms: i64) -> StoreResult<()>;

    /// Revokes one access token that hangs off no family (client credentials), by `jti`, until
    /// it expires at `expires_at`.
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> StoreResult<()>;

    /// Whether the access token `jti` was revoked.
    async fn token_revoked(&self, jti: &str) -> StoreResult<bool>;
}

/// Everything the server keeps.
pub trait Store: DirectoryStore + SessionStore + DeviceGrantStore + FlowStore + GuardStore + CodeStore {}
impl<T: DirectoryStore + SessionStore + DeviceGrantStore + FlowStore + GuardStore + CodeStore> Store for T {}
