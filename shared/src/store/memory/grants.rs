//! Device grants and the sign-on flows that decide them, in memory.

use super::*;

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
        if tables.device.user_code_live(&user_code.environment_id, &user_code.user_code_hash, now_s)
            || tables.device.contains(&grant.grant_id)
        {
            return Ok(Created::UserCodeTaken);
        }
        tables.add(counters, 1);
        let grant_id = tables.device.insert(grant, user_code);
        tables.expires(grant.expires_at.max(user_code.expires_at), Expiring::Grant(grant_id));
        Ok(Created::Created)
    }

    async fn record_poll(
        &self,
        grant_id: &str,
        client_id: &str,
        issuer: &str,
        now_ms: i64,
        max_polls: usize,
        poll_id: &str,
    ) -> StoreResult<PollRecord> {
        let mut tables = self.lock();
        let polled = tables.device.update(grant_id, |grant| {
            if grant.client_id != client_id || !(grant.issuer.is_empty() || grant.issuer == issuer) {
                return PollRecord::Unknown;
            }
            if grant.polls.len() >= max_polls {
                return PollRecord::LogFull(grant.clone());
            }
            grant.polls.push(now_ms);
            grant.winner.get_or_insert_with(|| poll_id.to_owned());
            PollRecord::Recorded(grant.clone())
        });
        Ok(polled.unwrap_or(PollRecord::Unknown))
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
        let signed_on = |f: FlowRecord| FlowRecord { user: Some(user.clone()), expires_ms, ..f };
        Ok(self.upsert_flow(fresh, now_ms, |f| f.user.is_none(), signed_on))
    }

    async fn sign_on_flow_within(
        &self,
        expected: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
        limits: &[Counter],
    ) -> StoreResult<SignOnWrite> {
        let mut tables = self.at(now_ms.div_euclid(1000));
        let flow = match tables.flows.get(&expected.flow_id) {
            None => expected.clone(),
            Some(f) if f.expires_ms > now_ms && f.user.is_none() => f.clone(),
            // The same sign-on (its new session) written before: sent again, as DynamoDB's may be.
            Some(f) if f.user.as_ref().is_some_and(|u| u.session_id == user.session_id) => {
                return Ok(SignOnWrite::Written(f.clone()));
            }
            Some(f) => return Ok(SignOnWrite::Conflict(Some(f.clone()))),
        };
        let limited = tables.at_limit(limits);
        if !limited.is_empty() {
            return Ok(SignOnWrite::Limited(limited));
        }
        let flow = FlowRecord { user: Some(user.clone()), expires_ms, ..flow };
        tables.put_flow(flow.clone());
        Ok(SignOnWrite::Written(flow))
    }

    async fn verify_flow_device(
        &self,
        fresh: &FlowRecord,
        device: &FlowDevice,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let verified = |f: FlowRecord| FlowRecord { device: Some(device.clone()), expires_ms, ..f };
        Ok(self.upsert_flow(fresh, now_ms, |f| f.device.is_none() && !f.password_change_pending(), verified))
    }

    async fn decide_flow_device(
        &self,
        flow: &FlowRecord,
        decision: &Decision,
        now_ms: i64,
        expires_ms: i64,
        redemption: &Redemption,
    ) -> StoreResult<ConsentWrite> {
        let mut tables = self.lock();
        let Some(device) = &flow.device else {
            return Ok(ConsentWrite::FlowConflict);
        };
        let flow_ok = tables.flows.get(&flow.flow_id).is_some_and(|f| {
            f.expires_ms > now_ms
                && f.user.is_some()
                && f.consent.is_none()
                && f.device.as_ref().is_none_or(|d| d == device)
                && !f.password_change_pending()
        });
        if !flow_ok {
            return Ok(ConsentWrite::FlowConflict);
        }
        let grant_ok = tables
            .device
            .get(&device.grant_id)
            .is_some_and(|g| g.expires_at > now_ms.div_euclid(1000) && g.decision.is_none());
        if !grant_ok {
            return Ok(ConsentWrite::GrantClosed);
        }
        if let Some(stored) = tables.flows.get(&flow.flow_id).cloned() {
            let device = Some(device.clone());
            tables.put_flow(FlowRecord { consent: Some(decision.approved), device, expires_ms, ..stored });
        }
        tables.device.update(&device.grant_id, |grant| {
            grant.decision = Some(decision.clone());
            if decision.approved {
                grant.winner = None;
                grant.kept_until = Some(redemption.keep_until);
                grant.rt_generation = redemption.with_refresh_token.then_some(0);
            }
        });
        if decision.approved {
            tables.expires(redemption.keep_until, Expiring::Grant(device.grant_id.as_str().into()));
            let family = (GrantKind::Device, device.grant_id.as_str());
            tables.remember(&flow.environment_id, &decision.subject.user_id, &device.client_id, &device.scopes, family);
        }
        Ok(ConsentWrite::Written)
    }

    async fn change_password_flow(
        &self,
        flow_id: &str,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let mut tables = self.at(now_ms.div_euclid(1000));
        let stored = match tables.flows.get(flow_id) {
            Some(f) if f.expires_ms > now_ms && f.password_change_pending() => f.clone(),
            other => return Ok(FlowWrite::Conflict(other.cloned())),
        };
        let user = FlowUser { must_change_password: false, ..user.clone() };
        let changed = FlowRecord { user: Some(user), expires_ms, ..stored };
        tables.put_flow(changed.clone());
        Ok(FlowWrite::Written(changed))
    }
}

impl MemoryStore {
    /// Writes `set` of the flow (or of `fresh` when not stored) if the stored flow is unexpired and
    /// `may` take the change; otherwise the conflict with the flow as it stands.
    fn upsert_flow(
        &self,
        fresh: &FlowRecord,
        now_ms: i64,
        may: impl Fn(&FlowRecord) -> bool,
        set: impl FnOnce(FlowRecord) -> FlowRecord,
    ) -> FlowWrite {
        let mut tables = self.at(now_ms.div_euclid(1000));
        let flow = match tables.flows.get(&fresh.flow_id) {
            None => fresh.clone(),
            Some(f) if f.expires_ms > now_ms && may(f) => f.clone(),
            Some(f) => return FlowWrite::Conflict(Some(f.clone())),
        };
        let flow = set(flow);
        tables.put_flow(flow.clone());
        FlowWrite::Written(flow)
    }
}
