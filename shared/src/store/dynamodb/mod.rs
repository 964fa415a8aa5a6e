//! DynamoDB implementation: one table, `pk`/`sk` string keys with type prefixes, TTL on
//! `expires_at` (epoch seconds). Every trait method is exactly one DynamoDB request; single-use
//! transitions are `ConditionExpression`s, so two racing instances cannot both win.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure as OnFail, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

mod items;

use self::items::*;
use super::*;
use crate::model::username_key;

pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The name of the TTL attribute, shared with `template.yaml`.
pub const TTL_ATTRIBUTE: &str = "expires_at";

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// A client from the standard AWS configuration chain, pointed at `endpoint_url` if given
    /// (a local DynamoDB-compatible server); see `crate::aws::sdk_config`.
    pub fn client(endpoint_url: Option<&str>) -> Result<Client, String> {
        Ok(Client::new(&crate::aws::sdk_config(endpoint_url)?))
    }

    /// Creates the table with TTL, as `template.yaml` declares it (for local servers and tests).
    pub async fn create_table(&self) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk").map_err(build_err)?)
            .attribute_definitions(attr("sk").map_err(build_err)?)
            .key_schema(key("pk", KeyType::Hash).map_err(build_err)?)
            .key_schema(key("sk", KeyType::Range).map_err(build_err)?)
            .send()
            .await
            .map_err(unavailable)?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build()
            .map_err(build_err)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Every item, for tests that check nothing secret is stored raw.
    pub async fn scan_all(&self) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(items),
            }
        }
    }

    fn key(pk: String, sk: &str) -> Item {
        items::key(pk, sk)
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&fresh.flow_id), "FLOW")))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .send()
            .await
            .map(|out| out.attributes);
        flow_write(conditional(result)?)
    }

    /// Runs a transaction. `Ok(Err(failed))` when it was cancelled by conditions, `failed[i]`
    /// telling whether item `i`'s condition failed.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Vec<bool>>> {
        let err = match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => return Ok(Ok(())),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
            let failed: Vec<bool> =
                e.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect();
            // Cancelled for another reason (a conflicting transaction, throttling): not an answer.
            if failed.contains(&true) {
                return Ok(Err(failed));
            }
        }
        Err(unavailable(err))
    }
}

/// Splits an UpdateItem result into the written item, or the item as it stood when the condition
/// failed (`None` when it did not exist).
fn conditional<E>(result: Result<Option<Item>, SdkError<UpdateItemError, E>>) -> StoreResult<Result<Item, Option<Item>>>
where
    E: std::fmt::Debug,
{
    match result {
        Ok(Some(item)) => Ok(Ok(item)),
        Ok(None) => Err(corrupt("update returned no attributes")),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(e)) => Ok(Err(e.item().cloned())),
            _ => Err(unavailable(err)),
        },
    }
}

#[async_trait]
impl DirectoryStore for DynamoStore {
    async fn put_application(&self, app: &Application) -> StoreResult<()> {
        let mut item = Self::key(env_pk(&app.environment_id), &format!("APP#{}", app.client_id));
        item.insert("data".into(), json(app)?);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn list_applications(&self, environment_id: &str) -> StoreResult<Vec<Application>> {
        // One request unless the environment's applications exceed a 1 MB page.
        let mut apps = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :app)")
                .expression_attribute_values(":pk", s(&env_pk(environment_id)))
                .expression_attribute_values(":app", s("APP#"))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                apps.push(get_json(item, "data")?);
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(apps),
            }
        }
    }

    async fn put_user(&self, user: &User) -> StoreResult<()> {
        let sk = format!("USER#{}", username_key(&user.username));
        let mut item = Self::key(env_pk(&user.environment_id), &sk);
        item.insert("data".into(), json(user)?);
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>> {
        let sk = format!("USER#{}", username_key(username));
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(env_pk(environment_id), &sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item().map(|item| get_json(item, "data")).transpose()
    }
}

#[async_trait]
impl DeviceGrantStore for DynamoStore {
    async fn create_device_grant(
        &self,
        grant: &DeviceGrant,
        user_code: &UserCodeEntry,
        now_s: i64,
    ) -> StoreResult<Created> {
        let mut code_item = Self::key(user_code_pk(&user_code.environment_id, &user_code.user_code_hash), "USERCODE");
        code_item.insert("data".into(), json(user_code)?);
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
        let items = vec![
            TransactWriteItem::builder().put(put_grant).build(),
            TransactWriteItem::builder().put(claim_code).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(Created::Created),
            Err(_) => Ok(Created::UserCodeTaken),
        }
    }

    async fn record_poll(
        &self,
        grant_id: &str,
        client_id: &str,
        now_ms: i64,
        max_polls: usize,
    ) -> StoreResult<PollRecord> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(grant_pk(grant_id), "DEVICE")))
            .update_expression("SET polls = list_append(polls, :poll)")
            .condition_expression("attribute_exists(pk) AND client_id = :client AND size(polls) < :max")
            .expression_attribute_values(":poll", Av::L(vec![n(now_ms)]))
            .expression_attribute_values(":client", s(client_id))
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
                if grant.client_id == client_id {
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
        let set = redemption_update(with_refresh_token);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(grant_pk(grant_id), "DEVICE")))
            .update_expression(set)
            .condition_expression(
                "attribute_exists(decision) AND attribute_not_exists(redeemed_ms) AND approved = :yes",
            )
            .expression_attribute_values(":yes", Av::Bool(true))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":keep", n(keep_until))
            .return_values(ReturnValue::AllNew);
        if with_refresh_token {
            update = update.expression_attribute_values(":zero", n(0));
        }
        Ok(conditional(update.send().await.map(|out| out.attributes))?.is_ok())
    }

    async fn find_user_code(&self, environment_id: &str, user_code_hash: &str) -> StoreResult<Option<UserCodeEntry>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_code_pk(environment_id, user_code_hash), "USERCODE")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item().map(|item| get_json(item, "data")).transpose()
    }
}

#[async_trait]
impl FlowStore for DynamoStore {
    async fn get_flow(&self, flow_id: &str) -> StoreResult<Option<FlowRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(flow_id), "FLOW")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item().map(flow_from).transpose()
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
        self.upsert_flow(
            fresh,
            format!("SET {seed}, flow_user = :user, expires_ms = :exp, expires_at = :ttl"),
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
            "attribute_not_exists(pk) OR (attribute_not_exists(device) AND expires_ms > :now)",
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
            .condition_expression("attribute_not_exists(consent) AND device = :device AND expires_ms > :now")
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
            let remember = Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(
                    consent_pk(&flow.environment_id, &decision.subject.user_id),
                    &device.client_id,
                )))
                .update_expression("ADD scopes :scopes")
                .expression_attribute_values(":scopes", Av::Ss(device.scopes.clone()))
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().update(remember).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(ConsentWrite::Written),
            Err(failed) if failed.first() == Some(&true) => Ok(ConsentWrite::FlowConflict),
            Err(_) => Ok(ConsentWrite::GrantClosed),
        }
    }
}

fn flow_write(result: Result<Item, Option<Item>>) -> StoreResult<FlowWrite> {
    match result {
        Ok(item) => Ok(FlowWrite::Written(flow_from(&item)?)),
        Err(old) => Ok(FlowWrite::Conflict(old.as_ref().map(flow_from).transpose()?)),
    }
}

fn string_set(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(Av::Ss(values)) => {
            let mut values = values.clone();
            values.sort();
            values
        }
        _ => Vec::new(),
    }
}

#[async_trait]
impl GuardStore for DynamoStore {
    async fn code_attempt(
        &self,
        environment_id: &str,
        user_code_hash: &str,
        flow_id: &str,
        keys: &LimiterKeys,
    ) -> StoreResult<CodeAttempt> {
        let code_pk = user_code_pk(environment_id, user_code_hash);
        let wanted = vec![
            Self::key(code_pk.clone(), "USERCODE"),
            Self::key(flow_pk(flow_id), "FLOW"),
            Self::key(limit_pk(&keys.ip), "LIMIT"),
            Self::key(limit_pk(&keys.environment), "LIMIT"),
        ];
        let mut request =
            KeysAndAttributes::builder().set_keys(Some(wanted)).consistent_read(true).build().map_err(build_err)?;
        let mut found: Vec<Item> = Vec::new();
        // One request; a throttled batch returns unprocessed keys, which are asked for again.
        loop {
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(unavailable)?;
            if let Some(items) = out.responses().and_then(|r| r.get(&self.table)) {
                found.extend(items.iter().cloned());
            }
            match out.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => request = rest.clone(),
                _ => break,
            }
        }
        let by_pk = |pk: &str| found.iter().find(|item| matches!(item.get("pk"), Some(Av::S(p)) if p == pk));
        let failures = |key: &str| -> StoreResult<u32> {
            let count = by_pk(&limit_pk(key)).map(|item| get_n(item, "failures")).transpose()?.unwrap_or(0);
            Ok(u32::try_from(count).unwrap_or(u32::MAX))
        };
        Ok(CodeAttempt {
            entry: by_pk(&code_pk).map(|item| get_json(item, "data")).transpose()?,
            flow: by_pk(&flow_pk(flow_id)).map(flow_from).transpose()?,
            ip_failures: failures(&keys.ip)?,
            environment_failures: failures(&keys.environment)?,
        })
    }

    async fn record_code_failure(&self, fresh: &FlowRecord, keys: &LimiterKeys) -> StoreResult<()> {
        let (seed, mut values) = flow_seed(fresh);
        values.insert(":one".into(), n(1));
        values.insert(":exp".into(), n(fresh.expires_ms));
        values.insert(":ttl".into(), n(fresh.expires_ms.div_euclid(1000) + 1));
        let flow = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&fresh.flow_id), "FLOW")))
            .update_expression(format!(
                "SET {seed}, expires_ms = if_not_exists(expires_ms, :exp), expires_at = if_not_exists(expires_at, :ttl) \
                 ADD code_failures :one"
            ))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().update(flow).build()];
        for (key, expires_at) in [(&keys.ip, keys.ip_expires_at), (&keys.environment, keys.environment_expires_at)] {
            let counter = Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(limit_pk(key), "LIMIT")))
                .update_expression("SET expires_at = if_not_exists(expires_at, :exp) ADD failures :one")
                .expression_attribute_values(":exp", n(expires_at))
                .expression_attribute_values(":one", n(1))
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().update(counter).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Unavailable("an unconditional counter update was refused".into())),
        }
    }

    async fn find_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(consent_pk(environment_id, user_id), client_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item().map(|item| string_set(item, "scopes")).unwrap_or_default())
    }

    async fn list_consents(&self, environment_id: &str, user_id: &str) -> StoreResult<Vec<ConsentRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&consent_pk(environment_id, user_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.items()
            .iter()
            .map(|item| {
                Ok(ConsentRecord {
                    environment_id: environment_id.to_owned(),
                    user_id: user_id.to_owned(),
                    client_id: get_s(item, "sk")?.to_owned(),
                    scopes: string_set(item, "scopes"),
                })
            })
            .collect()
    }

    async fn revoke_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(consent_pk(environment_id, user_id), client_id)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Marks a grant redeemed and keeps it alive; a refresh token family starts at generation 0.
fn redemption_update(with_refresh_token: bool) -> &'static str {
    if with_refresh_token {
        "SET redeemed_ms = :now, expires_at = :keep, rt_generation = :zero"
    } else {
        "SET redeemed_ms = :now, expires_at = :keep"
    }
}

fn family_key(kind: GrantKind, grant_id: &str) -> Item {
    match kind {
        GrantKind::Device => DynamoStore::key(grant_pk(grant_id), "DEVICE"),
        GrantKind::Code => DynamoStore::key(code_pk(grant_id), "CODE"),
    }
}

fn family_from(kind: GrantKind, item: &Item) -> StoreResult<Option<Family>> {
    Ok(match kind {
        GrantKind::Device => Family::from_device(&grant_from(item)?),
        GrantKind::Code => Family::from_code(&code_from(item)?),
    })
}

#[async_trait]
impl CodeStore for DynamoStore {
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(flow_item(flow)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn consent_flow(
        &self,
        flow: &FlowRecord,
        approved: bool,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<FlowWrite> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&flow.flow_id), "FLOW")))
            .update_expression("SET consent = :consent, expires_ms = :exp, expires_at = :ttl")
            .condition_expression("attribute_not_exists(consent) AND attribute_exists(flow_user) AND expires_ms > :now")
            .expression_attribute_values(":consent", Av::Bool(approved))
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":ttl", n(expires_ms.div_euclid(1000) + 1))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if let (true, Some(user), Some(request)) = (approved, &flow.user, &flow.authorize) {
            if !request.scopes.is_empty() {
                let remember = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(consent_pk(&flow.environment_id, &user.id), &request.client_id)))
                    .update_expression("ADD scopes :scopes")
                    .expression_attribute_values(":scopes", Av::Ss(request.scopes.clone()))
                    .build()
                    .map_err(build_err)?;
                items.push(TransactWriteItem::builder().update(remember).build());
            }
        }
        match self.transact(items).await? {
            Ok(()) => Ok(FlowWrite::Written(FlowRecord { consent: Some(approved), expires_ms, ..flow.clone() })),
            Err(_) => Ok(FlowWrite::Conflict(self.get_flow(&flow.flow_id).await?)),
        }
    }

    async fn resume_flow(&self, flow_id: &str, code: &CodeGrant, now_ms: i64) -> StoreResult<bool> {
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(flow_id), "FLOW")))
            .update_expression("SET resumed_ms = :now")
            .condition_expression("consent = :yes AND attribute_not_exists(resumed_ms)")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":yes", Av::Bool(true))
            .build()
            .map_err(build_err)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(code_item(code)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err)?;
        let items =
            vec![TransactWriteItem::builder().update(mark).build(), TransactWriteItem::builder().put(put).build()];
        Ok(self.transact(items).await?.is_ok())
    }

    async fn redeem_code(
        &self,
        grant_id: &str,
        client_id: &str,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<CodeRedemption> {
        let set = redemption_update(with_refresh_token);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(code_pk(grant_id), "CODE")))
            .update_expression(set)
            .condition_expression(
                "attribute_exists(pk) AND client_id = :client AND attribute_not_exists(redeemed_ms) AND expires_at > :now_s",
            )
            .expression_attribute_values(":client", s(client_id))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":now_s", n(now_ms.div_euclid(1000)))
            .expression_attribute_values(":keep", n(keep_until))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        if with_refresh_token {
            update = update.expression_attribute_values(":zero", n(0));
        }
        match conditional(update.send().await.map(|out| out.attributes))? {
            Ok(item) => Ok(CodeRedemption::Redeemed(Box::new(code_from(&item)?))),
            Err(Some(old)) => {
                let code = code_from(&old)?;
                if code.request.client_id == client_id && code.redeemed_ms.is_some() {
                    Ok(CodeRedemption::Replayed)
                } else {
                    Ok(CodeRedemption::Invalid)
                }
            }
            Err(None) => Ok(CodeRedemption::Invalid),
        }
    }

    async fn family(&self, kind: GrantKind, grant_id: &str) -> StoreResult<Option<Family>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(family_key(kind, grant_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match out.item() {
            Some(item) => family_from(kind, item),
            None => Ok(None),
        }
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(family_key(kind, grant_id)))
            .update_expression("SET rt_generation = :next, expires_at = :keep")
            .condition_expression(
                "client_id = :client AND rt_generation = :gen AND attribute_not_exists(revoked_ms) AND expires_at > :now",
            )
            .expression_attribute_values(":client", s(client_id))
            .expression_attribute_values(":gen", n(i64::from(generation)))
            .expression_attribute_values(":next", n(i64::from(generation) + 1))
            .expression_attribute_values(":now", n(now_s))
            .expression_attribute_values(":keep", n(keep_until))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .send()
            .await
            .map(|out| out.attributes);
        match conditional(result)? {
            Ok(item) => Ok(family_from(kind, &item)?.map_or(Rotation::Invalid, |f| Rotation::Rotated(Box::new(f)))),
            Err(Some(old)) => {
                let stale = family_from(kind, &old)?.is_some_and(|f| {
                    f.client_id == client_id
                        && !f.revoked
                        && f.expires_at > now_s
                        && f.rt_generation.is_some_and(|g| g > generation)
                });
                Ok(if stale { Rotation::Stale } else { Rotation::Invalid })
            }
            Err(None) => Ok(Rotation::Invalid),
        }
    }

    async fn revoke_family(&self, kind: GrantKind, grant_id: &str, now_ms: i64) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(family_key(kind, grant_id)))
            .update_expression("SET revoked_ms = if_not_exists(revoked_ms, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map(|out| out.attributes);
        conditional(result)?.ok();
        Ok(())
    }
}
