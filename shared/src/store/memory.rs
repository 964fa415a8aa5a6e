//! The embedded store: the same semantics as DynamoDB under one lock, for the local server and
//! tests. Expired items stay readable for a while, as DynamoDB's lazy TTL leaves them, then leave
//! memory through an expiry queue: each write retires what expired before it, so no request
//! pays for a sweep of every table.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;
use crate::model::username_key;

/// Items expired longer than this are dropped (DynamoDB TTL's lag, in small).
const SWEEP_GRACE_S: i64 = 3600;

/// An item that expires, by table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expiring {
    Grant(String),
    UserCode(String, String),
    Flow(String),
    Counter(String),
    Code(String),
    RevokedToken(String),
    EndedSession(String, String),
}

/// A remembered consent: the scopes granted, and the token families issued under it.
type Remembered = (Vec<String>, HashSet<(GrantKind, String)>);

#[derive(Default)]
struct Tables {
    applications: HashMap<(String, String), Application>,
    users: HashMap<(String, String), User>,
    grants: HashMap<String, DeviceGrant>,
    user_codes: HashMap<(String, String), UserCodeEntry>,
    flows: HashMap<String, FlowRecord>,
    /// Counters: key -> (count, expires_at).
    counters: HashMap<String, (i64, i64)>,
    /// Remembered consents: scopes, and the token families issued under them.
    consents: HashMap<(String, String, String), Remembered>,
    codes: HashMap<String, CodeGrant>,
    /// Revoked access tokens without a family: jti -> expires_at.
    revoked_tokens: HashMap<String, i64>,
    /// Ended sessions: (environment, session id) -> expires_at.
    ended_sessions: HashMap<(String, String), i64>,
    /// When each item expires, soonest first (an item may appear once per expiry it had).
    expiry: BinaryHeap<Reverse<(i64, Expiring)>>,
}

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tables, after dropping what expired more than the grace period before `now_s`.
    fn at(&self, now_s: i64) -> MutexGuard<'_, Tables> {
        let mut tables = self.lock();
        tables.retire(now_s);
        tables
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Items held (for tests of memory bounds).
    pub fn item_count(&self) -> usize {
        let t = self.lock();
        t.grants.len() + t.user_codes.len() + t.flows.len() + t.counters.len() + t.codes.len()
    }
}

impl Tables {
    fn expires(&mut self, expires_at: i64, item: Expiring) {
        self.expiry.push(Reverse((expires_at, item)));
    }

    /// Drops items whose expiry (as they now stand) lies more than the grace before `now_s`.
    /// Each queue entry is popped once, so the work is amortised over the writes that made them.
    fn retire(&mut self, now_s: i64) {
        let dead = now_s - SWEEP_GRACE_S;
        while let Some(Reverse((at, _))) = self.expiry.peek() {
            if *at >= dead {
                break;
            }
            let Some(Reverse((_, item))) = self.expiry.pop() else { break };
            match item {
                Expiring::Grant(k) => remove_if(&mut self.grants, &k, |g| g.expires_at < dead),
                Expiring::UserCode(e, h) => remove_if(&mut self.user_codes, &(e, h), |u| u.expires_at < dead),
                Expiring::Flow(k) => remove_if(&mut self.flows, &k, |f| f.expires_ms.div_euclid(1000) < dead),
                Expiring::Counter(k) => remove_if(&mut self.counters, &k, |(_, exp)| *exp < dead),
                Expiring::Code(k) => remove_if(&mut self.codes, &k, |c| c.expires_at < dead),
                Expiring::RevokedToken(k) => remove_if(&mut self.revoked_tokens, &k, |exp| *exp < dead),
                Expiring::EndedSession(e, s) => remove_if(&mut self.ended_sessions, &(e, s), |exp| *exp < dead),
            }
        }
    }

    fn put_flow(&mut self, flow: FlowRecord) {
        self.expires(flow.expires_ms.div_euclid(1000) + 1, Expiring::Flow(flow.flow_id.clone()));
        self.flows.insert(flow.flow_id.clone(), flow);
    }

    fn remember(&mut self, env: &str, user_id: &str, client_id: &str, scopes: &[String], family: (GrantKind, &str)) {
        let key = (env.to_owned(), user_id.to_owned(), client_id.to_owned());
        let (granted, families) = self.consents.entry(key).or_default();
        for scope in scopes {
            if !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
        granted.sort();
        if !family.1.is_empty() {
            families.insert((family.0, family.1.to_owned()));
        }
    }

    fn family(&self, kind: GrantKind, grant_id: &str) -> Option<Family> {
        match kind {
            GrantKind::Device => self.grants.get(grant_id).and_then(Family::from_device),
            GrantKind::Code => self.codes.get(grant_id).and_then(Family::from_code),
        }
    }

    fn revoke(&mut self, kind: GrantKind, grant_id: &str, now_ms: i64) {
        let revoked = match kind {
            GrantKind::Device => self.grants.get_mut(grant_id).map(|g| &mut g.revoked_ms),
            GrantKind::Code => self.codes.get_mut(grant_id).map(|c| &mut c.revoked_ms),
        };
        if let Some(revoked) = revoked {
            revoked.get_or_insert(now_ms);
        }
    }

    fn count(&self, counter: &Counter) -> i64 {
        self.counters.get(&counter.key).map_or(0, |(n, _)| *n)
    }

    /// The indexes of the counters at their limit.
    fn at_limit(&self, counters: &[Counter]) -> Vec<usize> {
        counters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.below.is_some_and(|below| self.count(c) >= i64::from(below)))
            .map(|(i, _)| i)
            .collect()
    }

    fn add(&mut self, counters: &[Counter], delta: i64) {
        for counter in counters {
            let entry = self.counters.entry(counter.key.clone()).or_insert((0, counter.expires_at));
            entry.0 += delta;
            let expires_at = entry.1;
            self.expires(expires_at, Expiring::Counter(counter.key.clone()));
        }
    }
}

fn remove_if<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: &K, dead: impl Fn(&V) -> bool) {
    if map.get(key).is_some_and(dead) {
        map.remove(key);
    }
}

#[async_trait]
impl DirectoryStore for MemoryStore {
    async fn put_application(&self, app: &Application) -> StoreResult<()> {
        let key = (app.environment_id.clone(), app.client_id.clone());
        self.lock().applications.insert(key, app.clone());
        Ok(())
    }

    async fn list_applications(&self, environment_id: &str) -> StoreResult<Vec<Application>> {
        let tables = self.lock();
        let mut apps: Vec<Application> =
            tables.applications.values().filter(|a| a.environment_id == environment_id).cloned().collect();
        apps.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(apps)
    }

    async fn put_user(&self, user: &User) -> StoreResult<()> {
        let key = (user.environment_id.clone(), username_key(&user.username));
        self.lock().users.insert(key, user.clone());
        Ok(())
    }

    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>> {
        let key = (environment_id.to_owned(), username_key(username));
        Ok(self.lock().users.get(&key).cloned())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn session_user(&self, environment_id: &str, username: &str, session_id: &str) -> StoreResult<Option<User>> {
        let tables = self.lock();
        if tables.ended_sessions.contains_key(&(environment_id.to_owned(), session_id.to_owned())) {
            return Ok(None);
        }
        Ok(tables.users.get(&(environment_id.to_owned(), username_key(username))).cloned())
    }

    async fn end_session(&self, environment_id: &str, session_id: &str, expires_at: i64) -> StoreResult<()> {
        let mut tables = self.lock();
        let key = (environment_id.to_owned(), session_id.to_owned());
        tables.ended_sessions.insert(key.clone(), expires_at);
        tables.expires(expires_at, Expiring::EndedSession(key.0, key.1));
        Ok(())
    }
}

#[async_trait]
impl DeviceGrantStore for MemoryStore {
    async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCodeEntry,
        now_s: i64,
        counters: &[Counter],
    ) -> StoreResult<Created> {
        let mut tables = self.at(now_s);
        let limited = tables.at_limit(counters);
        if !limited.is_empty() {
            return Ok(Created::Limited(limited));
        }
        let code_key = (user_code.environment_id.clone(), user_code.user_code_hash.clone());
        let code_live = tables.user_codes.get(&code_key).is_some_and(|u| u.expires_at >= now_s);
        if code_live || tables.grants.contains_key(&grant.grant_id) {
            return Ok(Created::UserCodeTaken);
        }
        tables.add(counters, 1);
        tables.expires(user_code.expires_at, Expiring::UserCode(code_key.0.clone(), code_key.1.clone()));
        tables.user_codes.insert(code_key, user_code.clone());
        tables.expires(grant.expires_at, Expiring::Grant(grant.grant_id.clone()));
        tables.grants.insert(grant.grant_id.clone(), grant.clone());
        Ok(Created::Created)
    }

    async fn record_poll(
        &self,
        grant_id: &str,
        client_id: &str,
        issuer: &str,
        now_ms: i64,
        max_polls: usize,
    ) -> StoreResult<PollRecord> {
        let mut tables = self.lock();
        let Some(grant) = tables.grants.get_mut(grant_id) else {
            return Ok(PollRecord::Unknown);
        };
        if grant.client_id != client_id || !(grant.issuer.is_empty() || grant.issuer == issuer) {
            return Ok(PollRecord::Unknown);
        }
        if grant.polls.len() >= max_polls {
            return Ok(PollRecord::LogFull(grant.clone()));
        }
        grant.polls.push(now_ms);
        Ok(PollRecord::Recorded(grant.clone()))
    }

    async fn redeem_device_grant(
        &self,
        grant_id: &str,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<bool> {
        let mut tables = self.lock();
        let Some(grant) = tables.grants.get_mut(grant_id) else {
            return Ok(false);
        };
        let approved = grant.decision.as_ref().is_some_and(|d| d.approved);
        if !approved || grant.redeemed_ms.is_some() {
            return Ok(false);
        }
        grant.redeemed_ms = Some(now_ms);
        grant.rt_generation = with_refresh_token.then_some(0);
        grant.expires_at = keep_until;
        tables.expires(keep_until, Expiring::Grant(grant_id.to_owned()));
        Ok(true)
    }
}

#[async_trait]
impl FlowStore for MemoryStore {
    async fn get_flow(&self, flow_id: &str) -> StoreResult<Option<FlowRecord>> {
        Ok(self.lock().flows.get(flow_id).cloned())
    }

    async fn sign_on_flow(
        &self,
        fresh: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let mut tables = self.at(now_ms.div_euclid(1000));
        let flow = match tables.flows.get(&fresh.flow_id) {
            None => fresh.clone(),
            Some(f) if f.expires_ms > now_ms && f.user.is_none() => f.clone(),
            Some(f) => return Ok(FlowWrite::Conflict(Some(f.clone()))),
        };
        let flow = FlowRecord { user: Some(user.clone()), expires_ms, ..flow };
        tables.put_flow(flow.clone());
        Ok(FlowWrite::Written(flow))
    }

    async fn verify_flow_device(
        &self,
        fresh: &FlowRecord,
        device: &FlowDevice,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let mut tables = self.at(now_ms.div_euclid(1000));
        let flow = match tables.flows.get(&fresh.flow_id) {
            None => fresh.clone(),
            Some(f) if f.expires_ms > now_ms && f.device.is_none() => f.clone(),
            Some(f) => return Ok(FlowWrite::Conflict(Some(f.clone()))),
        };
        let flow = FlowRecord { device: Some(device.clone()), expires_ms, ..flow };
        tables.put_flow(flow.clone());
        Ok(FlowWrite::Written(flow))
    }

    async fn decide_flow_device(
        &self,
        flow: &FlowRecord,
        decision: &Decision,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<ConsentWrite> {
        let mut tables = self.lock();
        let Some(device) = &flow.device else {
            return Ok(ConsentWrite::FlowConflict);
        };
        let flow_ok = tables
            .flows
            .get(&flow.flow_id)
            .is_some_and(|f| f.expires_ms > now_ms && f.consent.is_none() && f.device.as_ref() == Some(device));
        if !flow_ok {
            return Ok(ConsentWrite::FlowConflict);
        }
        let grant_ok = tables
            .grants
            .get(&device.grant_id)
            .is_some_and(|g| g.expires_at > now_ms.div_euclid(1000) && g.decision.is_none());
        if !grant_ok {
            return Ok(ConsentWrite::GrantClosed);
        }
        if let Some(stored) = tables.flows.get(&flow.flow_id).cloned() {
            tables.put_flow(FlowRecord { consent: Some(decision.approved), expires_ms, ..stored });
        }
        if let Some(grant) = tables.grants.get_mut(&device.grant_id) {
            grant.decision = Some(decision.clone());
        }
        if decision.approved {
            let family = (GrantKind::Device, device.grant_id.as_str());
            tables.remember(&flow.environment_id, &decision.subject.user_id, &device.client_id, &device.scopes, family);
        }
        Ok(ConsentWrite::Written)
    }
}

#[async_trait]
impl GuardStore for MemoryStore {
    async fn attempt_user_code(&self, attempt: &UserCodeAttempt<'_>) -> StoreResult<UserCodeOutcome> {
        let now_s = attempt.now_ms.div_euclid(1000);
        let mut tables = self.at(now_s);
        let fresh = attempt.fresh;
        let stored = tables.flows.get(&fresh.flow_id).cloned();
        let flow_refused = stored.as_ref().filter(|f| {
            f.device.is_some()
                || f.consent.is_some()
                || f.authorize.is_some()
                || f.expires_ms <= attempt.now_ms
                || f.code_failures >= attempt.flow_below
        });
        let counters = tables.at_limit(attempt.counters);
        if flow_refused.is_some() || !counters.is_empty() {
            return Ok(UserCodeOutcome::Refused { flow: flow_refused.cloned().map(Box::new), counters });
        }
        let code_key = (fresh.environment_id.clone(), attempt.user_code_hash.to_owned());
        let found =
            tables.user_codes.get(&code_key).filter(|u| attempt.application_id.is_none_or(|app| app == u.client_id));
        if let Some(entry) = found {
            return Ok(UserCodeOutcome::Found(entry.clone()));
        }
        let mut flow = stored.unwrap_or_else(|| fresh.clone());
        flow.code_failures += 1;
        tables.put_flow(flow);
        tables.add(attempt.counters, 1);
        Ok(UserCodeOutcome::Wrong)
    }

    async fn reserve(&self, counters: &[Counter]) -> StoreResult<Counted> {
        let mut tables = self.lock();
        let limited = tables.at_limit(counters);
        if !limited.is_empty() {
            return Ok(Counted::Refused(limited));
        }
        tables.add(counters, 1);
        Ok(Counted::Counted)
    }

    async fn release(&self, counters: &[Counter]) -> StoreResult<()> {
        self.lock().add(counters, -1);
        Ok(())
    }

    async fn find_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        let key = (environment_id.to_owned(), user_id.to_owned(), client_id.to_owned());
        Ok(self.lock().consents.get(&key).map(|(scopes, _)| scopes.clone()).unwrap_or_default())
    }

    async fn list_consents(&self, environment_id: &str, user_id: &str) -> StoreResult<Vec<ConsentRecord>> {
        let tables = self.lock();
        let mut records: Vec<ConsentRecord> = tables
            .consents
            .iter()
            .filter(|((env, user, _), (scopes, _))| env == environment_id && user == user_id && !scopes.is_empty())
            .map(|((env, user, client), (scopes, _))| ConsentRecord {
                environment_id: env.clone(),
                user_id: user.clone(),
                client_id: client.clone(),
                scopes: scopes.clone(),
            })
            .collect();
        records.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(records)
    }

    async fn revoke_consent(
        &self,
        environment_id: &str,
        user_id: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let key = (environment_id.to_owned(), user_id.to_owned(), client_id.to_owned());
        let mut tables = self.lock();
        if let Some((_, families)) = tables.consents.remove(&key) {
            for (kind, grant_id) in families {
                tables.revoke(kind, &grant_id, now_ms);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        self.at(flow.created_ms.div_euclid(1000)).put_flow(flow.clone());
        Ok(())
    }

    async fn consent_flow(
        &self,
        flow: &FlowRecord,
        approved: bool,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let mut tables = self.lock();
        let current = tables.flows.get(&flow.flow_id).cloned();
        let stored = match current {
            Some(f) if f.expires_ms > now_ms && f.user.is_some() && f.consent.is_none() => f,
            other => return Ok(FlowWrite::Conflict(other)),
        };
        let updated = FlowRecord { consent: Some(approved), expires_ms, ..stored };
        if let (true, Some(user), Some(request)) = (approved, &updated.user, &updated.authorize) {
            let (env, user_id, client, scopes) =
                (updated.environment_id.clone(), user.id.clone(), request.client_id.clone(), request.scopes.clone());
            tables.remember(&env, &user_id, &client, &scopes, (GrantKind::Code, ""));
        }
        tables.put_flow(updated.clone());
        Ok(FlowWrite::Written(updated))
    }

    async fn resume_flow(&self, flow_id: &str, code: &CodeGrant, now_ms: i64) -> StoreResult<bool> {
        let mut tables = self.lock();
        let code_taken = tables.codes.contains_key(&code.grant_id);
        let Some(flow) = tables.flows.get_mut(flow_id) else {
            return Ok(false);
        };
        if flow.consent != Some(true) || flow.resumed_ms.is_some() || code_taken {
            return Ok(false);
        }
        flow.resumed_ms = Some(now_ms);
        if !code.request.scopes.is_empty() {
            let family = (GrantKind::Code, code.grant_id.as_str());
            tables.remember(&code.environment_id, &code.subject.user_id, &code.request.client_id, &[], family);
        }
        tables.expires(code.expires_at, Expiring::Code(code.grant_id.clone()));
        tables.codes.insert(code.grant_id.clone(), code.clone());
        Ok(true)
    }

    async fn redeem_code(
        &self,
        grant_id: &str,
        proof: &CodeProof,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<CodeRedemption> {
        let mut tables = self.lock();
        let Some(code) = tables.codes.get_mut(grant_id) else {
            return Ok(CodeRedemption::Invalid);
        };
        if code.request.client_id != proof.client_id {
            return Ok(CodeRedemption::Invalid);
        }
        if !proof.matches(&code.request) {
            return Ok(CodeRedemption::Mismatch(Box::new(code.clone())));
        }
        if code.redeemed_ms.is_some() {
            return Ok(CodeRedemption::Replayed);
        }
        if code.expires_at <= now_ms.div_euclid(1000) {
            return Ok(CodeRedemption::Invalid);
        }
        code.redeemed_ms = Some(now_ms);
        code.rt_generation = with_refresh_token.then_some(0);
        code.expires_at = keep_until;
        let redeemed = code.clone();
        tables.expires(keep_until, Expiring::Code(grant_id.to_owned()));
        Ok(CodeRedemption::Redeemed(Box::new(redeemed)))
    }

    async fn family(&self, kind: GrantKind, grant_id: &str) -> StoreResult<Option<Family>> {
        Ok(self.lock().family(kind, grant_id))
    }

    async fn rotate_refresh(
        &self,
        kind: GrantKind,
        grant_id: &str,
        client_id: &str,
        issuer: &str,
        generation: u32,
        now_s: i64,
        keep_until: i64,
    ) -> StoreResult<Rotation> {
        let mut tables = self.lock();
        let Some(family) = tables.family(kind, grant_id) else {
            return Ok(Rotation::Invalid);
        };
        let issuer_ok = family.issuer.is_empty() || family.issuer == issuer;
        if family.client_id != client_id || !issuer_ok || family.revoked || family.expires_at <= now_s {
            return Ok(Rotation::Invalid);
        }
        match family.rt_generation {
            Some(current) if current == generation => {}
            Some(current) if current > generation => return Ok(Rotation::Stale),
            _ => return Ok(Rotation::Invalid),
        }
        let next = Some(generation + 1);
        match kind {
            GrantKind::Device => {
                if let Some(g) = tables.grants.get_mut(grant_id) {
                    g.rt_generation = next;
                    g.expires_at = keep_until;
                }
                tables.expires(keep_until, Expiring::Grant(grant_id.to_owned()));
            }
            GrantKind::Code => {
                if let Some(c) = tables.codes.get_mut(grant_id) {
                    c.rt_generation = next;
                    c.expires_at = keep_until;
                }
                tables.expires(keep_until, Expiring::Code(grant_id.to_owned()));
            }
        }
        Ok(Rotation::Rotated(Box::new(Family { rt_generation: next, expires_at: keep_until, ..family })))
    }

    async fn revoke_family(&self, kind: GrantKind, grant_id: &str, now_ms: i64) -> StoreResult<()> {
        self.lock().revoke(kind, grant_id, now_ms);
        Ok(())
    }

    async fn revoke_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let mut tables = self.lock();
        tables.revoked_tokens.insert(jti.to_owned(), expires_at);
        tables.expires(expires_at, Expiring::RevokedToken(jti.to_owned()));
        Ok(())
    }

    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(self.lock().revoked_tokens.contains_key(jti))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn memory_store_meets_the_contract() {
        super::super::contract::run_all(Arc::new(MemoryStore::new())).await;
    }

    /// Probe finding F11: expired items leave memory as later writes come, each write retiring
    /// what expired before it (no sweep over every table).
    #[tokio::test]
    async fn expired_items_leave_memory() {
        let store = MemoryStore::new();
        let now_s = 1_800_000_000;
        for i in 0..1000 {
            let counter = Counter { key: format!("k{i}"), expires_at: now_s + 60, below: None };
            store.reserve(&[counter]).await.unwrap();
        }
        assert_eq!(store.item_count(), 1000);
        let flow = FlowRecord::started("f", "e", None, (now_s + 60 + SWEEP_GRACE_S + 1) * 1000, 600_000);
        store.create_flow(&flow).await.unwrap();
        assert_eq!(store.item_count(), 1, "the counters expired past the grace period are gone");
        assert_eq!(store.lock().expiry.len(), 1, "and so are their queue entries");
    }
}
