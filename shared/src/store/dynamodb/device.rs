//! Device grants and the sign-on flows that decide them.

use aws_sdk_dynamodb::types::{Put, Update};

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
    ) -> StoreResult<PollRecord> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(grant_pk(grant_id), "DEVICE")))
            .update_expression("SET polls = list_append(polls, :poll)")
            .condition_expression(
                "attribute_exists(pk) AND client_id = :client AND (attribute_not_exists(issuer) OR issuer = :iss) \
                 AND size(polls) < :max",
            )
            .expression_attribute_values(":poll", Av::L(vec![n(now_ms)]))
            .expression_attribute_values(":client", s(client_id))
            .expression_attribute_values(":iss", s(issuer))
            .expression_attribute_values(":max", n(i64::try_from(max_polls).unwrap_or(i64::MAX)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .send()
            .await
            .map(|out| out.attributes);
        match conditional(result)? {
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

    async fn redeem_device_grant(
        &self,
        grant_id: &str,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<bool> {
        let key = Self::key(grant_pk(grant_id), "DEVICE");
        let (update, token) = self.redemption(&key, with_refresh_token, now_ms, keep_until);
        let update = update
            .condition_expression(
                "(attribute_exists(decision) AND attribute_not_exists(redeemed_ms) AND approved = :yes) \
                 OR op_token = :op",
            )
            .expression_attribute_values(":yes", Av::Bool(true));
        Ok(self.marked(update, key, &token).await?.is_ok())
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
        let (seed, mut values) = flow_seed(fresh);
        values.insert(":user".into(), json(user)?);
        // The pending change as an attribute of its own, for the conditions of the other writes.
        let pending = if user.must_change_password {
            values.insert(":pending".into(), Av::Bool(true));
            ", password_change = :pending"
        } else {
            ""
        };
        self.upsert_flow(
            fresh,
            format!("SET {seed}, flow_user = :user, expires_ms = :exp, expires_at = :ttl{pending}"),
            "attribute_not_exists(pk) OR (attribute_not_exists(flow_user) AND expires_ms > :now)",
            values,
            now_ms,
            expires_ms,
        )
        .await
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
    ) -> StoreResult<ConsentWrite> {
        let Some(device) = &flow.device else {
            return Ok(ConsentWrite::FlowConflict);
        };
        let flow_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&flow.flow_id), "FLOW")))
            .update_expression("SET consent = :consent, expires_ms = :exp, expires_at = :ttl")
            .condition_expression(
                "attribute_not_exists(consent) AND device = :device AND attribute_not_exists(password_change) \
                 AND expires_ms > :now",
            )
            .expression_attribute_values(":consent", Av::Bool(decision.approved))
            .expression_attribute_values(":device", json(device)?)
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":ttl", n(expires_ms.div_euclid(1000) + 1))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(build_err)?;
        let grant_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(grant_pk(&device.grant_id), "DEVICE")))
            .update_expression("SET decision = :decision, approved = :approved")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(decision) AND expires_at > :now_s")
            .expression_attribute_values(":decision", json(decision)?)
            .expression_attribute_values(":approved", Av::Bool(decision.approved))
            .expression_attribute_values(":now_s", n(now_ms.div_euclid(1000)))
            .build()
            .map_err(build_err)?;
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

impl DynamoStore {
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

impl DynamoStore {
    /// The marked update (`DynamoStore::marked`) redeeming the grant at `key` and keeping it
    /// alive until `keep_until`; a refresh token family starts at generation 0. The caller adds
    /// its condition (ending `OR op_token = :op`) and its values. Returns the update and its token.
    pub(super) fn redemption(
        &self,
        key: &Item,
        with_refresh_token: bool,
        now_ms: i64,
        keep_until: i64,
    ) -> (aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder, String) {
        let token = op_token();
        let set = if with_refresh_token {
            "SET redeemed_ms = :now, expires_at = :keep, rt_generation = :zero, op_token = :op"
        } else {
            "SET redeemed_ms = :now, expires_at = :keep, op_token = :op"
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.clone()))
            .update_expression(set)
            .expression_attribute_values(":op", s(&token))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":keep", n(keep_until))
            .return_values(ReturnValue::AllNew);
        if with_refresh_token {
            update = update.expression_attribute_values(":zero", n(0));
        }
        (update, token)
    }
}
