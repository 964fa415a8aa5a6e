//! Guessing limits, consents, authorization codes and token families, in memory.

use super::*;

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
                || f.password_change_pending()
                || f.expires_ms <= attempt.now_ms
                || f.code_failures >= attempt.flow_below
        });
        let counters = tables.at_limit(attempt.counters);
        if flow_refused.is_some() || !counters.is_empty() {
            return Ok(UserCodeOutcome::Refused { flow: flow_refused.cloned().map(Box::new), counters });
        }
        let found = tables
            .device
            .user_code(&fresh.environment_id, attempt.user_code_hash)
            .filter(|u| attempt.application_id.is_none_or(|app| app == u.client_id));
        if let Some(entry) = found {
            let flow = Box::new(stored.unwrap_or_else(|| fresh.clone()));
            return Ok(UserCodeOutcome::Found { entry, flow });
        }
        let mut flow = stored.unwrap_or_else(|| fresh.clone());
        flow.code_failures += 1;
        tables.put_flow(flow);
        tables.add(attempt.counters, 1);
        Ok(UserCodeOutcome::Wrong)
    }

    async fn sign_on_lookup(
        &self,
        environment_id: &str,
        username: &str,
        counters: &[Counter],
    ) -> StoreResult<SignOnLookup> {
        let user = self.find_user(environment_id, username).await?;
        let tables = self.lock();
        let counts = counters.iter().map(|c| u32::try_from(tables.count(c).max(0)).unwrap_or(u32::MAX)).collect();
        Ok(SignOnLookup { user, counts })
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

    async fn claim_assertion(&self, key: &str, expires_at: i64, now_s: i64) -> StoreResult<bool> {
        let mut tables = self.at(now_s);
        if tables.assertions.get(key).is_some_and(|used_until| *used_until >= now_s) {
            return Ok(false);
        }
        tables.assertions.insert(key.to_owned(), expires_at);
        tables.expires(expires_at, Expiring::Assertion(key.to_owned()));
        Ok(true)
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
            .filter(|((env, user, _), _)| env == environment_id && user == user_id)
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
            Some(f) if f.expires_ms > now_ms && f.signed_on() && f.consent.is_none() => f,
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
        // The code is the flow's own (`issue_code`): it exists only if this flow was resumed.
        let existing = tables.codes.get(&code.grant_id).map(|c| c.redeemed_ms.is_none());
        let Some(flow) = tables.flows.get_mut(flow_id) else {
            return Ok(false);
        };
        let again = flow.resumed_ms.is_some() && existing == Some(true);
        if !again && (!flow.consented() || flow.resumed_ms.is_some() || existing.is_some()) {
            return Ok(false);
        }
        flow.resumed_ms.get_or_insert(now_ms);
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
        let live = code.redeemed_ms.is_none() && code.expires_at > now_ms.div_euclid(1000);
        if !(live && proof.matches(&code.request)) {
            return Ok(CodeRedemption::refused(code.clone(), proof));
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
                tables.device.update(grant_id, |g| {
                    g.rt_generation = next;
                    g.kept_until = Some(keep_until);
                });
                tables.expires(keep_until, Expiring::Grant(grant_id.into()));
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
