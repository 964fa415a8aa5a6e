//! Guessing and sign-on limits as conditional counter updates, and remembered consents.
//!
//! A user-code try is one transaction: the flow's and every counter's increment, each
//! conditional on its limit, and a condition check that no code has the hash. A wrong code
//! commits (counted); a found one cancels the transaction (nothing counted) and comes back in the
//! cancellation reasons; a limit cancels it too. So no request can learn anything about a code
//! without paying the limiter first, however many run at once.

use aws_sdk_dynamodb::types::{ConditionCheck, Update};

use super::*;

#[async_trait]
impl GuardStore for DynamoStore {
    async fn attempt_user_code(&self, attempt: &UserCodeAttempt<'_>) -> StoreResult<UserCodeOutcome> {
        let fresh = attempt.fresh;
        let (seed, mut values) = flow_seed(fresh);
        values.insert(":one".into(), n(1));
        values.insert(":exp".into(), n(fresh.expires_ms));
        values.insert(":ttl".into(), n(fresh.expires_ms.div_euclid(1000) + 1));
        values.insert(":now".into(), n(attempt.now_ms));
        values.insert(":below".into(), n(i64::from(attempt.flow_below)));
        let flow = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&fresh.flow_id), "FLOW")))
            .update_expression(format!(
                "SET {seed}, expires_ms = if_not_exists(expires_ms, :exp), expires_at = if_not_exists(expires_at, :ttl) \
                 ADD code_failures :one"
            ))
            .condition_expression(
                "attribute_not_exists(pk) OR (attribute_not_exists(device) AND attribute_not_exists(consent) \
                 AND attribute_not_exists(#authorize) AND attribute_not_exists(password_change) AND expires_ms > :now \
                 AND (attribute_not_exists(code_failures) OR code_failures < :below))",
            )
            .set_expression_attribute_values(Some(values))
            .expression_attribute_names("#authorize", "authorize")
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().update(flow).build()];
        for counter in attempt.counters {
            items.push(self.count_item(counter, 1)?);
        }
        // Last, so that when it is the only condition that failed, every limit held.
        let mut no_code = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_code_pk(&fresh.environment_id, attempt.user_code_hash), "USERCODE")))
            .return_values_on_condition_check_failure(OnFail::AllOld);
        no_code = match attempt.application_id {
            Some(app) => no_code
                .condition_expression("attribute_not_exists(pk) OR client_id <> :app")
                .expression_attribute_values(":app", s(app)),
            None => no_code.condition_expression("attribute_not_exists(pk)"),
        };
        items.push(TransactWriteItem::builder().condition_check(no_code.build().map_err(build_err)?).build());
        let cancelled = match self.transact(items).await? {
            Ok(()) => return Ok(UserCodeOutcome::Wrong),
            Err(cancelled) => cancelled,
        };
        let flow = match cancelled.first() {
            Some(Some(Some(item))) => Some(Box::new(flow_from(item)?)),
            _ => None,
        };
        let counters: Vec<usize> = cancelled
            .iter()
            .skip(1)
            .take(attempt.counters.len())
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| i)
            .collect();
        if flow.is_some() || !counters.is_empty() {
            return Ok(UserCodeOutcome::Refused { flow, counters });
        }
        match cancelled.last() {
            Some(Some(Some(code))) => Ok(UserCodeOutcome::Found(get_json(code, "data")?)),
            _ => Err(corrupt("a cancelled user-code check returned no user code")),
        }
    }

    /// One BatchGetItem: the username's item (which holds the user) and every counter's item.
    async fn sign_on_lookup(
        &self,
        environment_id: &str,
        username: &str,
        counters: &[Counter],
    ) -> StoreResult<SignOnLookup> {
        let name = Name {
            environment_id: environment_id.to_owned(),
            kind: NameKind::Username,
            value: crate::model::username_key(username),
        };
        let user_key = super::directory::name_item_key(&name);
        let counter_keys: Vec<Item> = counters.iter().map(|c| Self::key(limit_pk(&c.key), "LIMIT")).collect();
        let mut keys = vec![user_key.clone()];
        keys.extend(counter_keys.iter().cloned());
        let found = self.batch_get(keys).await?;
        let item_at =
            |key: &Item| found.iter().find(|item| item.get("pk") == key.get("pk") && item.get("sk") == key.get("sk"));
        let user = item_at(&user_key).filter(|i| i.contains_key("data")).map(|i| get_json(i, "data")).transpose()?;
        let counts = counter_keys
            .iter()
            .map(|key| match item_at(key) {
                Some(item) if item.contains_key("failures") => {
                    Ok(u32::try_from(get_n(item, "failures")?.max(0)).unwrap_or(u32::MAX))
                }
                _ => Ok(0),
            })
            .collect::<StoreResult<Vec<u32>>>()?;
        Ok(SignOnLookup { user, counts })
    }

    async fn reserve(&self, counters: &[Counter]) -> StoreResult<Counted> {
        let items = counters.iter().map(|c| self.count_item(c, 1)).collect::<StoreResult<Vec<_>>>()?;
        match self.transact(items).await? {
            Ok(()) => Ok(Counted::Counted),
            Err(cancelled) => Ok(Counted::Refused(
                cancelled.iter().enumerate().filter(|(_, c)| c.is_some()).map(|(i, _)| i).collect(),
            )),
        }
    }

    async fn release(&self, counters: &[Counter]) -> StoreResult<()> {
        let items = counters.iter().map(|c| self.count_item(c, -1)).collect::<StoreResult<Vec<_>>>()?;
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Unavailable("an unconditional counter update was refused".into())),
        }
    }

    async fn claim_assertion(&self, key: &str, expires_at: i64, now_s: i64) -> StoreResult<bool> {
        // Expired items linger until DynamoDB's TTL sweep, so an expired use does not count.
        let token = op_token();
        let item_key = Self::key(format!("ASSERTION#{key}"), "ASSERTION");
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key.clone()))
            .update_expression(format!("SET {TTL_ATTRIBUTE} = :exp, op_token = :op"))
            .condition_expression(format!("attribute_not_exists(pk) OR {TTL_ATTRIBUTE} < :now OR op_token = :op"))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":now", n(now_s))
            .expression_attribute_values(":op", s(&token))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        Ok(self.marked(update, item_key, &token).await?.is_ok())
    }

    async fn find_consent(&self, environment_id: &str, user_id: &str, client_id: &str) -> StoreResult<Vec<String>> {
        let item = self.get(Self::key(consent_pk(environment_id, user_id), client_id)).await?;
        Ok(item.map(|item| string_set(&item, "scopes")).unwrap_or_default())
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

    /// One delete returning the families the consent covered, then one revocation per family.
    async fn revoke_consent(
        &self,
        environment_id: &str,
        user_id: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let old = self.take_item(Self::key(consent_pk(environment_id, user_id), client_id)).await?;
        for family in old.map(|item| string_set(&item, "families")).unwrap_or_default() {
            if let Some((kind, grant_id)) = parse_family_tag(&family) {
                self.revoke_family(kind, grant_id, now_ms).await?;
            }
        }
        Ok(())
    }
}

pub(super) fn string_set(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(Av::Ss(values)) => {
            let mut values = values.clone();
            values.sort();
            values
        }
        _ => Vec::new(),
    }
}
