//! A store wrapper that counts requests, for the request budget (each store call is one
//! DynamoDB request). Tests assert on it; `request-budget` prints it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::*;

#[derive(Default)]
pub struct RequestCounter {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl RequestCounter {
    fn add(&self, operation: &'static str) {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner()).entry(operation).or_default() += 1;
    }

    /// Requests per operation since the last `take`, and resets the counts.
    pub fn take(&self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Total of a `take` result.
pub fn total(counts: &BTreeMap<&'static str, u64>) -> u64 {
    counts.values().sum()
}

pub struct CountingStore {
    inner: Arc<dyn Store>,
    counter: Arc<RequestCounter>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> (Self, Arc<RequestCounter>) {
        let counter = Arc::new(RequestCounter::default());
        (Self { inner, counter: counter.clone() }, counter)
    }
}

#[async_trait]
impl DirectoryStore for CountingStore {
    async fn get_record(&self, key: &RecordKey) -> StoreResult<Option<Record>> {
        self.counter.add("get_record");
        self.inner.get_record(key).await
    }
    async fn list_records(&self, environment_id: &str, kind: Kind) -> StoreResult<Vec<Record>> {
        self.counter.add("list_records");
        self.inner.list_records(environment_id, kind).await
    }
    async fn apply(&self, writes: &[Write]) -> StoreResult<Applied> {
        self.counter.add("apply");
        self.inner.apply(writes).await
    }
    async fn list_applications(&self, environment_id: &str) -> StoreResult<Vec<crate::model::Application>> {
        self.counter.add("list_applications");
        self.inner.list_applications(environment_id).await
    }
    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>> {
        self.counter.add("find_user");
        self.inner.find_user(environment_id, username).await
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn session_user(&self, env: &str, user_id: &str, sid: &str) -> StoreResult<Option<User>> {
        self.counter.add("session_user");
        self.inner.session_user(env, user_id, sid).await
    }
    async fn end_session(&self, env: &str, sid: &str, expires_at: i64) -> StoreResult<()> {
        self.counter.add("end_session");
        self.inner.end_session(env, sid, expires_at).await
    }
}

#[async_trait]
impl DeviceGrantStore for CountingStore {
    async fn create_device_grant(
        &self,
        g: &DeviceGrant,
        u: &UserCodeEntry,
        now_s: i64,
        counters: &[Counter],
    ) -> StoreResult<Created> {
        self.counter.add("create_device_grant");
        self.inner.create_device_grant(g, u, now_s, counters).await
    }
    async fn record_poll(
        &self,
        id: &str,
        client: &str,
        iss: &str,
        now_ms: i64,
        max: usize,
        poll_id: &str,
    ) -> StoreResult<PollRecord> {
        self.counter.add("record_poll");
        self.inner.record_poll(id, client, iss, now_ms, max, poll_id).await
    }
}

#[async_trait]
impl FlowStore for CountingStore {
    async fn get_flow(&self, flow_id: &str) -> StoreResult<Option<FlowRecord>> {
        self.counter.add("get_flow");
        self.inner.get_flow(flow_id).await
    }
    async fn sign_on_flow(&self, fresh: &FlowRecord, user: &FlowUser, now: i64, exp: i64) -> StoreResult<FlowWrite> {
        self.counter.add("sign_on_flow");
        self.inner.sign_on_flow(fresh, user, now, exp).await
    }
    async fn sign_on_flow_within(
        &self,
        expected: &FlowRecord,
        user: &FlowUser,
        now: i64,
        exp: i64,
        limits: &[Counter],
    ) -> StoreResult<SignOnWrite> {
        self.counter.add("sign_on_flow_within");
        self.inner.sign_on_flow_within(expected, user, now, exp, limits).await
    }
    async fn verify_flow_device(&self, f: &FlowRecord, d: &FlowDevice, now: i64, exp: i64) -> StoreResult<FlowWrite> {
        self.counter.add("verify_flow_device");
        self.inner.verify_flow_device(f, d, now, exp).await
    }
    async fn decide_flow_device(
        &self,
        f: &FlowRecord,
        d: &Decision,
        now: i64,
        exp: i64,
        redemption: &Redemption,
    ) -> StoreResult<ConsentWrite> {
        self.counter.add("decide_flow_device");
        self.inner.decide_flow_device(f, d, now, exp, redemption).await
    }
    async fn change_password_flow(&self, id: &str, user: &FlowUser, now: i64, exp: i64) -> StoreResult<FlowWrite> {
        self.counter.add("change_password_flow");
        self.inner.change_password_flow(id, user, now, exp).await
    }
}

#[async_trait]
impl GuardStore for CountingStore {
    async fn attempt_user_code(&self, attempt: &UserCodeAttempt<'_>) -> StoreResult<UserCodeOutcome> {
        self.counter.add("attempt_user_code");
        self.inner.attempt_user_code(attempt).await
    }
    async fn sign_on_lookup(&self, env: &str, username: &str, counters: &[Counter]) -> StoreResult<SignOnLookup> {
        self.counter.add("sign_on_lookup");
        self.inner.sign_on_lookup(env, username, counters).await
    }
    async fn reserve(&self, counters: &[Counter]) -> StoreResult<Counted> {
        self.counter.add("reserve");
        self.inner.reserve(counters).await
    }
    async fn release(&self, counters: &[Counter]) -> StoreResult<()> {
        self.counter.add("release");
        self.inner.release(counters).await
    }
    async fn find_consent(&self, env: &str, user: &str, client: &str) -> StoreResult<Vec<String>> {
        self.counter.add("find_consent");
        self.inner.find_consent(env, user, client).await
    }
    async fn claim_assertion(&self, key: &str, expires_at: i64, now_s: i64) -> StoreResult<bool> {
        self.counter.add("claim_assertion");
        self.inner.claim_assertion(key, expires_at, now_s).await
    }
    async fn list_consents(&self, env: &str, user: &str) -> StoreResult<Vec<ConsentRecord>> {
        self.counter.add("list_consents");
        self.inner.list_consents(env, user).await
    }
    async fn revoke_consent(&self, env: &str, user: &str, client: &str, now: i64) -> StoreResult<()> {
        self.counter.add("revoke_consent");
        self.inner.revoke_consent(env, user, client, now).await
    }
}

#[async_trait]
impl CodeStore for CountingStore {
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        self.counter.add("create_flow");
        self.inner.create_flow(flow).await
    }
    async fn consent_flow(&self, f: &FlowRecord, approved: bool, now: i64, exp: i64) -> StoreResult<FlowWrite> {
        self.counter.add("consent_flow");
        self.inner.consent_flow(f, approved, now, exp).await
    }
    async fn resume_flow(&self, flow_id: &str, code: &CodeGrant, now: i64) -> StoreResult<bool> {
        self.counter.add("resume_flow");
        self.inner.resume_flow(flow_id, code, now).await
    }
    async fn redeem_code(&self, id: &str, p: &CodeProof, now: i64, rt: bool, keep: i64) -> StoreResult<CodeRedemption> {
        self.counter.add("redeem_code");
        self.inner.redeem_code(id, p, now, rt, keep).await
    }
    async fn family(&self, kind: GrantKind, id: &str) -> StoreResult<Option<Family>> {
        self.counter.add("family");
        self.inner.family(kind, id).await
    }
    async fn rotate_refresh(
        &self,
        kind: GrantKind,
        id: &str,
        c: &str,
        iss: &str,
        g: u32,
        now: i64,
        keep: i64,
    ) -> StoreResult<Rotation> {
        self.counter.add("rotate_refresh");
        self.inner.rotate_refresh(kind, id, c, iss, g, now, keep).await
    }
    async fn revoke_family(&self, kind: GrantKind, id: &str, now: i64) -> StoreResult<()> {
        self.counter.add("revoke_family");
        self.inner.revoke_family(kind, id, now).await
    }
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        self.counter.add("revoke_token");
        self.inner.revoke_token(jti, expires_at).await
    }
    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.counter.add("token_revoked");
        self.inner.token_revoked(jti).await
    }
}
