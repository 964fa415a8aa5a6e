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
        // `None`: the flow is expected not to be stored yet.
        let mut expected = super::device::has_facts(fresh).then(|| fresh.clone());
        for _ in 0..super::device::EXPECTATION_TRIES {
            let mut items = vec![self.code_failure_update(attempt, expected.as_ref())?];
            for counter in attempt.counters {
                items.push(self.count_item(counter, 1)?);
            }
            items.push(self.no_code_check(attempt)?);
            let cancelled = match self.transact(items).await? {
                Ok(()) => return Ok(UserCodeOutcome::Wrong),
                Err(cancelled) => cancelled,
            };
            let flow = match cancelled.first() {
                Some(Some(Some(item))) => Some(flow_from(item)?),
                Some(Some(None)) => None,
                // The flow's condition held: it is as expected.
                _ => {
                    let counters = refused_counters(&cancelled, attempt.counters.len());
                    if !counters.is_empty() {
                        return Ok(UserCodeOutcome::Refused { flow: None, counters });
                    }
                    let flow = Box::new(expected.unwrap_or_else(|| super::device::started_only(fresh)));
                    return match cancelled.last() {
                        Some(Some(Some(code))) => Ok(UserCodeOutcome::Found { entry: get_json(code, "data")?, flow }),
                        _ => Err(corrupt("a cancelled user-code check returned no user code")),
                    };
                }
            };
            match flow {
                // Stored, but not as expected while it could take a code: try on it as stored.
                Some(f) if takes_codes(&f, attempt) => expected = Some(f),
                Some(f) => {
                    let counters = refused_counters(&cancelled, attempt.counters.len());
                    return Ok(UserCodeOutcome::Refused { flow: Some(Box::new(f)), counters });
                }
                // Expected stored, but it is not (any more): try on it as started.
                None if expected.is_some() => expected = None,
                None => return Err(corrupt("a missing flow failed its condition")),
            }
        }
        Err(StoreError::Unavailable("the flow changed at every try of a user code".into()))
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

/// Whether a stored flow can take a code within the attempt's limit (what the try's condition
/// asks of it besides being as expected).
fn takes_codes(f: &FlowRecord, attempt: &UserCodeAttempt<'_>) -> bool {
    f.device.is_none()
        && f.consent.is_none()
        && f.authorize.is_none()
        && !f.password_change_pending()
        && f.expires_ms > attempt.now_ms
        && f.code_failures < attempt.flow_below
}

/// Indexes of the counters whose limits cancelled a user-code try (they follow the flow).
fn refused_counters(cancelled: &[Option<Option<Item>>], count: usize) -> Vec<usize> {
    cancelled.iter().skip(1).take(count).enumerate().filter(|(_, c)| c.is_some()).map(|(i, _)| i).collect()
}

impl DynamoStore {
    /// The flow's part of a user-code try: one more wrong code, conditional on the flow being as
    /// `expected` (`None`: not stored) and able to take a code.
    fn code_failure_update(
        &self,
        attempt: &UserCodeAttempt<'_>,
        expected: Option<&FlowRecord>,
    ) -> StoreResult<TransactWriteItem> {
        let fresh = attempt.fresh;
        let (seed, mut values) = flow_seed(fresh);
        values.insert(":one".into(), n(1));
        values.insert(":exp".into(), n(fresh.expires_ms));
        values.insert(":ttl".into(), n(fresh.expires_ms.div_euclid(1000) + 1));
        let mut flow = Update::builder();
        let condition = match expected {
            None => "attribute_not_exists(pk)".to_owned(),
            Some(f) => {
                values.insert(":now".into(), n(attempt.now_ms));
                values.insert(":below".into(), n(i64::from(attempt.flow_below)));
                // Once set without a pending change, the person never changes: their presence
                // pins the flow (the other facts must be absent).
                let user =
                    if f.user.is_some() { "attribute_exists(flow_user)" } else { "attribute_not_exists(flow_user)" };
                flow = flow.expression_attribute_names("#authorize", "authorize");
                format!(
                    "attribute_exists(pk) AND {user} AND attribute_not_exists(device) AND attribute_not_exists(consent) \
                     AND attribute_not_exists(#authorize) AND attribute_not_exists(password_change) AND expires_ms > :now \
                     AND (attribute_not_exists(code_failures) OR code_failures < :below)"
                )
            }
        };
        let flow = flow
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(&fresh.flow_id), "FLOW")))
            .update_expression(format!(
                "SET {seed}, expires_ms = if_not_exists(expires_ms, :exp), expires_at = if_not_exists(expires_at, :ttl) \
                 ADD code_failures :one"
            ))
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(flow).build())
    }

    /// The check that no code of the flow's application has the hash; last in the try, so that
    /// when it is the only condition that failed, every limit held.
    fn no_code_check(&self, attempt: &UserCodeAttempt<'_>) -> StoreResult<TransactWriteItem> {
        let key = Self::key(user_code_pk(&attempt.fresh.environment_id, attempt.user_code_hash), "USERCODE");
        let mut no_code = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values_on_condition_check_failure(OnFail::AllOld);
        no_code = match attempt.application_id {
            Some(app) => no_code
                .condition_expression("attribute_not_exists(pk) OR client_id <> :app")
                .expression_attribute_values(":app", s(app)),
            None => no_code.condition_expression("attribute_not_exists(pk)"),
        };
        Ok(TransactWriteItem::builder().condition_check(no_code.build().map_err(build_err)?).build())
    }
}
