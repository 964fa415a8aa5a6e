//! The embedded store: the same semantics as DynamoDB under one lock, for the local server and
//! tests. Expired items stay readable until swept, as DynamoDB's lazy TTL leaves them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;
use crate::model::username_key;

/// Items expired longer than this are dropped on the next write (DynamoDB TTL's lag, in small).
const SWEEP_GRACE_S: i64 = 3600;

#[derive(Default)]
struct Tables {
    applications: HashMap<(String, String), Application>,
    users: HashMap<(String, String), User>,
    grants: HashMap<String, DeviceGrant>,
    user_codes: HashMap<(String, String), UserCodeEntry>,
    flows: HashMap<String, FlowRecord>,
    /// Limiter counters: key -> (failures, expires_at).
    limits: HashMap<String, (u32, i64)>,
    consents: HashMap<(String, String, String), Vec<String>>,
    codes: HashMap<String, CodeGrant>,
}

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Tables {
    fn remember(&mut self, env: &str, user_id: &str, client_id: &str, scopes: &[String]) {
        let key = (env.to_owned(), user_id.to_owned(), client_id.to_owned());
        let granted = self.consents.entry(key).or_default();
        for scope in scopes {
            if !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
        granted.sort();
    }

    fn family(&self, kind: GrantKind, grant_id: &str) -> Option<Family> {
        match kind {
            GrantKind::Device => self.grants.get(grant_id).and_then(Family::from_device),
            GrantKind::Code => self.codes.get(grant_id).and_then(Family::from_code),
        }
    }

    fn sweep(&mut self, now_s: i64) {
        let dead = now_s - SWEEP_GRACE_S;
        self.grants.retain(|_, g| g.expires_at > dead);
        self.user_codes.retain(|_, u| u.expires_at > dead);
        self.flows.retain(|_, f| f.expires_ms / 1000 > dead);
        self.limits.retain(|_, (_, expires_at)| *expires_at > dead);
        self.codes.retain(|_, c| c.expires_at > dead);
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
impl DeviceGrantStore for MemoryStore {
    async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCodeEntry,
        now_s: i64,
    ) -> StoreResult<Created> {
        let mut tables = self.lock();
        tables.sweep(now_s);
        let code_key = (user_code.environment_id.clone(), user_code.user_code_hash.clone());
        let code_live = tables.user_codes.get(&code_key).is_some_and(|u| u.expires_at >= now_s);
        if code_live || tables.grants.contains_key(&grant.grant_id) {
            return Ok(Created::UserCodeTaken);
        }
        tables.user_codes.insert(code_key, user_code.clone());
        tables.grants.insert(grant.grant_id.clone(), grant.clone());
        Ok(Created::Created)
    }

    async fn record_poll(
        &self,
        grant_id: &str,
        client_id: &str,
        now_ms: i64,
        max_polls: usize,
    ) -> StoreResult<PollRecord> {
        let mut tables = self.lock();
        let Some(grant) = tables.grants.get_mut(grant_id) else {
            return Ok(PollRecord::Unknown);
        };
        if grant.client_id != client_id {
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
        Ok(true)
    }

    async fn find_user_code(&self, environment_id: &str, user_code_hash: &str) -> StoreResult<Option<UserCodeEntry>> {
        let key = (environment_id.to_owned(), user_code_hash.to_owned());
        Ok(self.lock().user_codes.get(&key).cloned())
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
        let mut tables = self.lock();
        tables.sweep(now_ms / 1000);
        let flow = match tables.flows.get(&fresh.flow_id) {
            None => fresh.clone(),
            Some(f) if f.expires_ms > now_ms && f.user.is_none() => f.clone(),
            Some(f) => return Ok(FlowWrite::Conflict(Some(f.clone()))),
        };
        let flow = FlowRecord { user: Some(user.clone()), expires_ms, ..flow };
        tables.flows.insert(flow.flow_id.clone(), flow.clone());
        Ok(FlowWrite::Written(flow))
    }

    async fn verify_flow_device(
        &self,
        fresh: &FlowRecord,
        device: &FlowDevice,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let mut tables = self.lock();
        let flow = match tables.flows.get(&fresh.flow_id) {
            None => fresh.clone(),
            Some(f) if f.expires_ms > now_ms && f.device.is_none() => f.clone(),
            Some(f) => return Ok(FlowWrite::Conflict(Some(f.clone()))),
        };
        let flow = FlowRecord { device: Some(device.clone()), expires_ms, ..flow };
        tables.flows.insert(flow.flow_id.clone(), flow.clone());
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
        if let Some(stored) = tables.flows.get_mut(&flow.flow_id) {
            stored.consent = Some(decision.approved);
            stored.expires_ms = expires_ms;
        }
        if let Some(grant) = tables.grants.get_mut(&device.grant_id) {
            grant.decision = Some(decision.clone());
        }
        if decision.approved {
            tables.remember(&flow.environment_id, &decision.subject.user_id, &device.client_id, &device.scopes);
        }
        Ok(ConsentWrite::Written)
    }
}

#[async_trait]
impl GuardStore for MemoryStore {
    async fn code_attempt(
        &self,
        environment_id: &str,
        user_code_hash: &str,
        flow_id: &str,
        keys: &LimiterKeys,
    ) -> StoreResult<CodeAttempt> {
        let tables = self.lock();
        Ok(CodeAttempt {
            entry: tables.user_codes.get(&(environment_id.to_owned(), user_code_hash.to_owned())).cloned(),
            flow: tables.flows.get(flow_id).cloned(),
            ip_failures: tables.limits.get(&keys.ip).map_or(0, |(n, _)| *n),
            environment_failures: tables.limits.get(&keys.environment).map_or(0, |(n, _)| *n),
        })
    }

    async fn record_code_failure(&self, fresh: &FlowRecord, keys: &LimiterKeys) -> StoreResult<()> {
        let mut tables = self.lock();
        let flow = tables.flows.entry(fresh.flow_id.clone()).or_insert_with(|| fresh.clone());
        flow.code_failures += 1;
        for (key, expires_at) in [(&keys.ip, keys.ip_expires_at), (&keys.environment, keys.environment_expires_at)] {
            let counter = tables.limits.entry(key.clone()).or_insert((0, expires_at));
            counter.0 += 1;
        }
        Ok(())
    }

    async fn find_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        let key = (environment_id.to_owned(), user_id.to_owned(), client_id.to_owned());
        Ok(self.lock().consents.get(&key).cloned().unwrap_or_default())
    }

    async fn list_consents(&self, environment_id: &str, user_id: &str) -> StoreResult<Vec<ConsentRecord>> {
        let tables = self.lock();
        let mut records: Vec<ConsentRecord> = tables
            .consents
            .iter()
            .filter(|((env, user, _), _)| env == environment_id && user == user_id)
            .map(|((env, user, client), scopes)| ConsentRecord {
                environment_id: env.clone(),
                user_id: user.clone(),
                client_id: client.clone(),
                scopes: scopes.clone(),
            })
            .collect();
        records.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(records)
    }

    async fn revoke_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<()> {
        let key = (environment_id.to_owned(), user_id.to_owned(), client_id.to_owned());
        self.lock().consents.remove(&key);
        Ok(())
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        self.lock().flows.insert(flow.flow_id.clone(), flow.clone());
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
            tables.remember(&env, &user_id, &client, &scopes);
        }
        tables.flows.insert(updated.flow_id.clone(), updated.clone());
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
        tables.codes.insert(code.grant_id.clone(), code.clone());
        Ok(true)
    }

    async fn redeem_code(
        &self,
        grant_id: &str,
        client_id: &str,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<CodeRedemption> {
        let mut tables = self.lock();
        let Some(code) = tables.codes.get_mut(grant_id) else {
            return Ok(CodeRedemption::Invalid);
        };
        if code.request.client_id != client_id {
            return Ok(CodeRedemption::Invalid);
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
        Ok(CodeRedemption::Redeemed(Box::new(code.clone())))
    }

    async fn family(&self, kind: GrantKind, grant_id: &str) -> StoreResult<Option<Family>> {
        Ok(self.lock().family(kind, grant_id))
    }

    async fn rotate_refresh(
        &self,
        kind: GrantKind,
        grant_id: &str,
        client_id: &str,
        generation: u32,
        now_s: i64,
        keep_until: i64,
    ) -> StoreResult<Rotation> {
        let mut tables = self.lock();
        let Some(family) = tables.family(kind, grant_id) else {
            return Ok(Rotation::Invalid);
        };
        if family.client_id != client_id || family.revoked || family.expires_at <= now_s {
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
            }
            GrantKind::Code => {
                if let Some(c) = tables.codes.get_mut(grant_id) {
                    c.rt_generation = next;
                    c.expires_at = keep_until;
                }
            }
        }
        Ok(Rotation::Rotated(Box::new(Family { rt_generation: next, expires_at: keep_until, ..family })))
    }

    async fn revoke_family(&self, kind: GrantKind, grant_id: &str, now_ms: i64) -> StoreResult<()> {
        let mut tables = self.lock();
        match kind {
            GrantKind::Device => {
                if let Some(g) = tables.grants.get_mut(grant_id) {
                    g.revoked_ms.get_or_insert(now_ms);
                }
            }
            GrantKind::Code => {
                if let Some(c) = tables.codes.get_mut(grant_id) {
                    c.revoked_ms.get_or_insert(now_ms);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn memory_store_meets_the_contract() {
        super::super::contract::run_all(Arc::new(super::MemoryStore::new())).await;
    }
}
