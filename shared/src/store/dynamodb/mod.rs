//! DynamoDB implementation: one table, `pk`/`sk` string keys with type prefixes, TTL on
//! `expires_at` (epoch seconds). Every trait method is exactly one DynamoDB request; single-use
//! transitions are `ConditionExpression`s, so two racing instances cannot both win.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, ReturnValue,
    ReturnValuesOnConditionCheckFailure as OnFail, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

mod code;
mod device;
mod directory;
mod guard;
mod items;

use self::items::*;
use super::*;

/// Per item of a cancelled transaction: `Some(the item as it stood, if it existed)` when that
/// item's condition failed, `None` when it held.
pub(super) type Cancelled = Vec<Option<Option<Item>>>;

/// Attempts of a transaction that lost to a concurrent one on the same item (nothing was written).
const CONFLICT_ATTEMPTS: u32 = 3;

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
        Ok(Client::from_conf(Self::client_config(endpoint_url)?.build()))
    }

    /// The configuration `client` builds from, for callers that change a part of it (tests put
    /// a fault-injecting HTTP client or shorter timeouts in).
    pub fn client_config(endpoint_url: Option<&str>) -> Result<aws_sdk_dynamodb::config::Builder, String> {
        Ok(aws_sdk_dynamodb::config::Builder::from(&crate::aws::sdk_config(endpoint_url)?))
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

    /// Runs a transaction. `Ok(Err(cancelled))` when conditions cancelled it (see `Cancelled`).
    /// A transaction cancelled only because a concurrent one held an item changed nothing, so it
    /// is tried again, a few times.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Result<(), Cancelled>> {
        let mut attempt = 1;
        loop {
            let err = match self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error() {
                let reasons = e.cancellation_reasons();
                let failed = |code: Option<&str>| code == Some("ConditionalCheckFailed");
                if reasons.iter().any(|r| failed(r.code())) {
                    return Ok(Err(reasons.iter().map(|r| failed(r.code()).then(|| r.item().cloned())).collect()));
                }
                if attempt < CONFLICT_ATTEMPTS && reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
                    attempt += 1;
                    continue;
                }
            }
            // Cancelled for another reason (throttling, a validation error): not an answer.
            return Err(unavailable(err));
        }
    }

    /// Reads `keys` in one BatchGetItem (asking again for keys a throttled batch left out).
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut request =
            KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(build_err)?;
        let mut found: Vec<Item> = Vec::new();
        loop {
            let out =
                self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(unavailable)?;
            if let Some(items) = out.responses().and_then(|r| r.get(&self.table)) {
                found.extend(items.iter().cloned());
            }
            match out.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                Some(rest) if !rest.keys().is_empty() => request = rest.clone(),
                _ => return Ok(found),
            }
        }
    }

    /// Deletes an item, returning it as it was.
    async fn take_item(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes().cloned())
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item().cloned())
    }
}

/// The attribute a marked write (`DynamoStore::marked`) stamps with its request's token.
const OP_TOKEN: &str = "op_token";

/// A fresh token for a marked write.
fn op_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl DynamoStore {
    /// Sends a conditional update that stamps its item with `token` (its expressions carry
    /// `op_token = :op` in the `SET`, `(…) OR op_token = :op` as the condition, and bind `:op`), and
    /// settles an unknown outcome (a timeout, or 5xx after the SDK's retries) by reading the item
    /// back: the write is ours if the item carries the token. A write whose answer was lost is
    /// thus neither lost nor, when the SDK sends it again, taken for someone else's (a replay).
    async fn marked(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        key: Item,
        token: &str,
    ) -> StoreResult<Result<Item, Option<Item>>> {
        self.settled(update, key, OP_TOKEN, token).await
    }

    /// `marked`, with the token in `attribute`.
    async fn settled(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        key: Item,
        attribute: &str,
        token: &str,
    ) -> StoreResult<Result<Item, Option<Item>>> {
        match conditional(update.send().await.map(|out| out.attributes)) {
            Err(StoreError::Unavailable(reason)) => match self.get(key).await {
                Ok(Some(item)) if item.get(attribute).and_then(|v| v.as_s().ok()).is_some_and(|t| t == token) => {
                    tracing::warn!("a write's answer was lost; reading it back showed it applied");
                    Ok(Ok(item))
                }
                _ => Err(StoreError::Unavailable(reason)),
            },
            other => other,
        }
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
