//! Device grants and the sign-on flows that decide them.

use aws_sdk_dynamodb::types::{ConditionCheck, Put, Update};

use crate::flows::FLOW_LIFETIME_MS;

use super::*;

#[async_trait]
impl DeviceGrantStore for DynamoStore {
    async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCodeEntry,
        now_s: i64,
        counters: &[Counter],
    ) -> StoreResult<Created> {
        let mut code_item = Self::key(user_code_pk(&user_code.environment_id, &user_code.user_code_hash), "USERCODE");
        code_item.insert("data".into(), json(user_code)?);
        code_item.insert("client_id".into(), s(&user_code.client_id));
        code_item.insert(TTL_ATTRIBUTE.into(), n(user_code.expires_at));
        let put_grant = Put::builder()
            .table_name(&self.table)
            .set_item(Some(grant_item(grant)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err)?;
        // A user code is free again once the grant holding it has expired (TTL may lag).
        let claim_code = Put::builder()
            .table_name(&self.table)
            .set_item(Some(code_item))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now_s))
            .build()
            .map_err(build_err)?;
        let mut items = vec![
            TransactWriteItem::builder().put(put_grant).build(),
            TransactWriteItem::builder().put(claim_code).build(),
        ];
        for counter in counters {
            items.push(self.count_item(counter, 1)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Created::Created),
            Err(cancelled) => {
                let limited: Vec<usize> =
                    cancelled.iter().skip(2).enumerate().filter(|(_, c)| c.is_some()).map(|(i, _)| i).collect();
                Ok(if limited.is_empty() { Created::UserCodeTaken } else { Created::Limited(limited) })
            }
        }
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
        let key = Self::key(grant_pk(grant_id), "DEVICE");
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression("SET polls = list_append(polls, :poll), winner = if_not_exists(winner, :op)")
            .condition_expression(
                "attribute_exists(pk) AND client_id = :client AND (attribute_not_exists(issuer) OR issuer = :iss) \
                 AND size(polls) < :max",
            )
            .expression_attribute_values(":poll", Av::L(vec![n(now_ms)]))
            .expression_attribute_values(":op", s(poll_id))
            .expression_attribute_values(":client", s(client_id))
            .expression_attribute_values(":iss", s(issuer))
            .expression_attribute_values(":max", n(i64::try_from(max_polls).unwrap_or(i64::MAX)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        // A lost answer of the poll that redeems is settled by the grant showing its claim.
        match self.settled(update, key, "winner", poll_id).await? {
            Ok(item) => Ok(PollRecord::Recorded(grant_from(&item)?)),
            Err(Some(old)) => {
                let grant = grant_from(&old)?;
                if grant.client_id == client_id && (grant.issuer.is_empty() || grant.issuer == issuer) {
                    Ok(PollRecord::LogFull(grant))
                } else {
                    Ok(PollRecord::Unknown)
                }
            }
            Err(None) => Ok(PollRecord::Unknown),
        }
    }
}

#[async_trait]
impl FlowStore for DynamoStore {
    async fn get_flow(&self, flow_id: &str) -> StoreResult<Option<FlowRecord>> {
        self.get(Self::key(flow_pk(flow_id), "FLOW")).await?.as_ref().map(flow_from).transpose()
    }

    async fn sign_on_flow(
        &self,
        fresh: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let (set, values) = sign_on_set(fresh, user)?;
        self.upsert_flow(
            fresh,
            set,
            "attribute_not_exists(pk) OR (attribute_not_exists(flow_user) AND expires_ms > :now)",
            values,
            now_ms,
            expires_ms,
        )
        .await
    }

    /// One transaction: the flow's update, conditional on the flow being as `expected` (so the
    /// flow it leaves is known without reading it back), and a condition check per limit.
    async fn sign_on_flow_within(
        &self,
        expected: &FlowRecord,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
        limits: &[Counter],
    ) -> StoreResult<SignOnWrite> {
        let checked: Vec<usize> = (0..limits.len()).filter(|i| limits[*i].below.is_some()).collect();
        // `None`: the flow is expected not to be stored yet (it has no facts but its start).
        let mut stored = has_facts(expected).then(|| expected.clone());
        for _ in 0..EXPECTATION_TRIES {
            let mut items = vec![self.sign_on_update(expected, stored.as_ref(), user, now_ms, expires_ms)?];
            for i in &checked {
                items.push(self.limit_check(&limits[*i])?);
            }
            let cancelled = match self.transact(items).await? {
                Ok(()) => {
                    let before = stored.unwrap_or_else(|| started_only(expected));
                    return Ok(SignOnWrite::Written(FlowRecord { user: Some(user.clone()), expires_ms, ..before }));
                }
                Err(cancelled) => cancelled,
            };
            if let Some(Some(old)) = cancelled.first() {
                match old.as_ref().map(flow_from).transpose()? {
                    // The SDK sent the transaction again after its answer was lost: ours.
                    Some(f) if f.user.as_ref().is_some_and(|u| u.session_id == user.session_id) => {
                        return Ok(SignOnWrite::Written(f));
                    }
                    Some(f) if f.user.is_none() && f.expires_ms > now_ms => stored = Some(f),
                    Some(f) => return Ok(SignOnWrite::Conflict(Some(f))),
                    None if stored.is_some() => stored = None,
                    None => return Ok(SignOnWrite::Conflict(None)),
                }
                continue;
            }
            let limited = cancelled.iter().skip(1).zip(&checked).filter(|(c, _)| c.is_some()).map(|(_, i)| *i);
            return Ok(SignOnWrite::Limited(limited.collect()));
        }
        Err(StoreError::Unavailable("the flow changed at every try of a sign-on".into()))
    }

    async fn verify_flow_device(
        &self,
        fresh: &FlowRecord,
        device: &FlowDevice,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let (seed, mut values) = flow_seed(fresh);
        values.insert(":device".into(), json(device)?);
        self.upsert_flow(
            fresh,
            format!("SET {seed}, device = :device, expires_ms = :exp, expires_at = :ttl"),
            "attribute_not_exists(pk) OR (attribute_not_exists(device) AND attribute_not_exists(password_change) \
             AND expires_ms > :now)",
            values,
            now_ms,
            expires_ms,
        )
        .await
    }

    async fn decide_flow_device(
        &self,
        flow: &FlowRecord,
        decision: &Decision,
        now_ms: i64,
        expires_ms: i64,
        redemption: &Redemption,
    ) -> StoreResult<ConsentWrite> {
        let Some(device) = &flow.device else {
            return Ok(ConsentWrite::FlowConflict);
        };
        let flow_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&flow.flow_id), "FLOW")))
            .update_expression("SET consent = :consent, device = :device, expires_ms = :exp, expires_at = :ttl")
            .condition_expression(
                "attribute_exists(flow_user) AND attribute_not_exists(consent) \
                 AND (device = :device OR attribute_not_exists(device)) AND attribute_not_exists(password_change) \
                 AND expires_ms > :now",
            )
            .expression_attribute_values(":consent", Av::Bool(decision.approved))
            .expression_attribute_values(":device", json(device)?)
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":ttl", n(expires_ms.div_euclid(1000) + 1))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(build_err)?;
        let mut grant_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(grant_pk(&device.grant_id), "DEVICE")))
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(decision) AND (codes_expire_at > :now_s \
                 OR (attribute_not_exists(codes_expire_at) AND expires_at > :now_s))",
            )
            .expression_attribute_values(":decision", json(decision)?)
            .expression_attribute_values(":approved", Av::Bool(decision.approved))
            .expression_attribute_values(":now_s", n(now_ms.div_euclid(1000)));
        grant_update = match (decision.approved, redemption.with_refresh_token) {
            (false, _) => grant_update.update_expression("SET decision = :decision, approved = :approved"),
            (true, with_refresh) => {
                // The next poll claims the redemption; the grant is kept for what it issues.
                let rt = if with_refresh { ", rt_generation = :zero" } else { "" };
                let update =
                    format!("SET decision = :decision, approved = :approved, expires_at = :keep{rt} REMOVE winner");
                let grant_update = grant_update
                    .update_expression(update)
                    .expression_attribute_values(":keep", n(redemption.keep_until));
                if with_refresh {
                    grant_update.expression_attribute_values(":zero", n(0))
                } else {
                    grant_update
                }
            }
        };
        let grant_update = grant_update.build().map_err(build_err)?;
        let mut items = vec![
            TransactWriteItem::builder().update(flow_update).build(),
            TransactWriteItem::builder().update(grant_update).build(),
        ];
        if decision.approved && !device.scopes.is_empty() {
            let family = family_tag(GrantKind::Device, &device.grant_id);
            let consent_key = Self::key(consent_pk(&flow.environment_id, &decision.subject.user_id), &device.client_id);
            items.extend(self.remember_item(consent_key, &device.scopes, Some(&family))?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(ConsentWrite::Written),
            Err(cancelled) if cancelled.first().is_some_and(Option::is_some) => Ok(ConsentWrite::FlowConflict),
            Err(_) => Ok(ConsentWrite::GrantClosed),
        }
    }

    async fn change_password_flow(
        &self,
        flow_id: &str,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let user = FlowUser { must_change_password: false, ..user.clone() };
        // Marked (`DynamoStore::marked`): a lost answer is settled by reading the flow back.
        let token = op_token();
        let key = Self::key(flow_pk(flow_id), "FLOW");
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression(
                "SET flow_user = :user, expires_ms = :exp, expires_at = :ttl, op_token = :op REMOVE password_change",
            )
            .condition_expression("(attribute_exists(password_change) AND expires_ms > :now) OR op_token = :op")
            .expression_attribute_values(":user", json(&user)?)
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":ttl", n(expires_ms.div_euclid(1000) + 1))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":op", s(&token))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        flow_write(self.marked(update, key, &token).await?)
    }
}

/// The `SET` of a sign-on (binding `user`, creating the flow from `fresh` if needed, moving its
/// expiry to `:exp`/`:ttl`) and its values but those two.
fn sign_on_set(fresh: &FlowRecord, user: &FlowUser) -> StoreResult<(String, Item)> {
    let (seed, mut values) = flow_seed(fresh);
    values.insert(":user".into(), json(user)?);
    // The pending change as an attribute of its own, for the conditions of the other writes.
    let pending = if user.must_change_password {
        values.insert(":pending".into(), Av::Bool(true));
        ", password_change = :pending"
    } else {
        ""
    };
    Ok((format!("SET {seed}, flow_user = :user, expires_ms = :exp, expires_at = :ttl{pending}"), values))
}

/// Tries of a transaction conditional on an expected flow (a sign-on, a user-code try) when the
/// expectation was stale.
pub(super) const EXPECTATION_TRIES: usize = 3;

/// Whether a flow holds any fact beyond its start (so it is stored).
pub(super) fn has_facts(f: &FlowRecord) -> bool {
    f.user.is_some()
        || f.device.is_some()
        || f.consent.is_some()
        || f.code_failures > 0
        || f.authorize.is_some()
        || f.resumed_ms.is_some()
}

/// The flow as it started, without any fact (its id says as much: `flows::open_flow_id`).
pub(super) fn started_only(f: &FlowRecord) -> FlowRecord {
    FlowRecord::started(&f.flow_id, &f.environment_id, f.application_id.clone(), f.created_ms, FLOW_LIFETIME_MS)
}

impl DynamoStore {
    /// The update of a sign-on transaction, conditional on the flow being exactly `stored` (every
    /// fact a sign-on can find), or not stored at all.
    fn sign_on_update(
        &self,
        fresh: &FlowRecord,
        stored: Option<&FlowRecord>,
        user: &FlowUser,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<TransactWriteItem> {
        let (set, mut values) = sign_on_set(fresh, user)?;
        values.insert(":exp".into(), n(expires_ms));
        values.insert(":ttl".into(), n(expires_ms.div_euclid(1000) + 1));
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&fresh.flow_id), "FLOW")))
            .update_expression(set)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        let condition = match stored {
            None => "attribute_not_exists(pk)".to_owned(),
            Some(f) => {
                values.insert(":now".into(), n(now_ms));
                let mut facts = vec![
                    "attribute_exists(pk)",
                    "attribute_not_exists(flow_user)",
                    "attribute_not_exists(consent)",
                    "attribute_not_exists(resumed_ms)",
                    "expires_ms > :now",
                ];
                match &f.device {
                    Some(d) => {
                        values.insert(":device".into(), json(d)?);
                        facts.push("device = :device");
                    }
                    None => facts.push("attribute_not_exists(device)"),
                }
                if f.code_failures > 0 {
                    values.insert(":failures".into(), n(i64::from(f.code_failures)));
                    facts.push("code_failures = :failures");
                } else {
                    facts.push("attribute_not_exists(code_failures)");
                }
                update = update.expression_attribute_names("#authorize", "authorize");
                match &f.authorize {
                    Some(a) => {
                        values.insert(":authorize".into(), json(a)?);
                        facts.push("#authorize = :authorize");
                    }
                    None => facts.push("attribute_not_exists(#authorize)"),
                }
                facts.join(" AND ")
            }
        };
        let update = update
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A condition check that a counter is below its limit (nothing counted).
    fn limit_check(&self, counter: &Counter) -> StoreResult<TransactWriteItem> {
        let below = counter.below.unwrap_or(u32::MAX);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(limit_pk(&counter.key), "LIMIT")))
            .condition_expression("attribute_not_exists(failures) OR failures < :below")
            .expression_attribute_values(":below", n(i64::from(below)))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// One conditional UpdateItem on a flow that creates it from its starting facts if needed.
    async fn upsert_flow(
        &self,
        fresh: &FlowRecord,
        update: String,
        condition: &str,
        mut values: Item,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        values.insert(":exp".into(), n(expires_ms));
        values.insert(":ttl".into(), n(expires_ms.div_euclid(1000) + 1));
        values.insert(":now".into(), n(now_ms));
        // Marked (`DynamoStore::marked`): the SDK resending it after a lost answer is no conflict.
        let token = op_token();
        values.insert(":op".into(), s(&token));
        let key = Self::key(flow_pk(&fresh.flow_id), "FLOW");
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression(format!("{update}, op_token = :op"))
            .condition_expression(format!("({condition}) OR op_token = :op"))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        flow_write(self.marked(update, key, &token).await?)
    }

    /// The update adding `delta` to a counter, conditional on its limit when it counts up.
    pub(super) fn count_item(&self, counter: &Counter, delta: i64) -> StoreResult<TransactWriteItem> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(limit_pk(&counter.key), "LIMIT")))
            .update_expression("SET expires_at = if_not_exists(expires_at, :exp) ADD failures :delta")
            .expression_attribute_values(":exp", n(counter.expires_at))
            .expression_attribute_values(":delta", n(delta));
        if let (Some(below), true) = (counter.below, delta > 0) {
            update = update
                .condition_expression("attribute_not_exists(failures) OR failures < :below")
                .expression_attribute_values(":below", n(i64::from(below)));
        }
        Ok(TransactWriteItem::builder().update(update.build().map_err(build_err)?).build())
    }

    /// The update remembering a consent: scopes granted and a token family issued under it;
    /// `None` when there is nothing to remember.
    pub(super) fn remember_item(
        &self,
        consent_key: Item,
        scopes: &[String],
        family: Option<&str>,
    ) -> StoreResult<Option<TransactWriteItem>> {
        let mut update = Update::builder().table_name(&self.table).set_key(Some(consent_key));
        let mut adds = Vec::new();
        if !scopes.is_empty() {
            adds.push("scopes :scopes");
            update = update.expression_attribute_values(":scopes", Av::Ss(scopes.to_vec()));
        }
        if let Some(family) = family {
            adds.push("families :family");
            update = update.expression_attribute_values(":family", Av::Ss(vec![family.to_owned()]));
        }
        if adds.is_empty() {
            return Ok(None);
        }
        let update = update.update_expression(format!("ADD {}", adds.join(", "))).build().map_err(build_err)?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }
}

pub(super) fn flow_write(result: Result<Item, Option<Item>>) -> StoreResult<FlowWrite> {
    match result {
        Ok(item) => Ok(FlowWrite::Written(flow_from(&item)?)),
        Err(old) => Ok(FlowWrite::Conflict(old.as_ref().map(flow_from).transpose()?)),
    }
}
