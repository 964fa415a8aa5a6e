//! Authorization code flows, codes, token families and revoked tokens.

use aws_sdk_dynamodb::types::{Put, Update};

use super::*;

#[async_trait]
impl CodeStore for DynamoStore {
    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(flow_item(flow)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            // Flow ids are fresh random values: the item exists only because an attempt of this
            // very request wrote it and its answer was lost (the SDK retried).
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
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
            .condition_expression(
                "attribute_not_exists(consent) AND attribute_exists(flow_user) \
                 AND attribute_not_exists(password_change) AND expires_ms > :now",
            )
            .expression_attribute_values(":consent", Av::Bool(approved))
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":ttl", n(expires_ms.div_euclid(1000) + 1))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(build_err)?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if let (true, Some(user), Some(request)) = (approved, &flow.user, &flow.authorize) {
            let consent_key = Self::key(consent_pk(&flow.environment_id, &user.id), &request.client_id);
            items.extend(self.remember_item(consent_key, &request.scopes, None)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(FlowWrite::Written(FlowRecord { consent: Some(approved), expires_ms, ..flow.clone() })),
            Err(_) => Ok(FlowWrite::Conflict(self.get_flow(&flow.flow_id).await?)),
        }
    }

    async fn resume_flow(&self, flow_id: &str, code: &CodeGrant, now_ms: i64) -> StoreResult<bool> {
        // Resuming again with the flow's own code (its answer was lost) writes the same again,
        // while the code is unredeemed.
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(flow_pk(flow_id), "FLOW")))
            .update_expression("SET resumed_ms = if_not_exists(resumed_ms, :now), resumed_code = :code")
            .condition_expression(if code.request.ask_consent {
                "(consent = :yes AND attribute_not_exists(resumed_ms)) OR resumed_code = :code"
            } else {
                // No consent step (`FlowRecord::consented`): signed on is enough.
                "((consent = :yes OR (attribute_not_exists(consent) AND attribute_exists(flow_user) \
                 AND attribute_not_exists(password_change))) AND attribute_not_exists(resumed_ms)) \
                 OR resumed_code = :code"
            })
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":yes", Av::Bool(true))
            .expression_attribute_values(":code", s(&code.grant_id))
            .build()
            .map_err(build_err)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(code_item(code)?))
            .condition_expression("attribute_not_exists(redeemed_ms)")
            .build()
            .map_err(build_err)?;
        let mut items =
            vec![TransactWriteItem::builder().update(mark).build(), TransactWriteItem::builder().put(put).build()];
        if !code.request.scopes.is_empty() {
            let consent_key =
                Self::key(consent_pk(&code.environment_id, &code.subject.user_id), &code.request.client_id);
            let family = family_tag(GrantKind::Code, &code.grant_id);
            items.extend(self.remember_item(consent_key, &[], Some(&family))?);
        }
        Ok(self.transact(items).await?.is_ok())
    }

    async fn redeem_code(
        &self,
        grant_id: &str,
        proof: &CodeProof,
        now_ms: i64,
        with_refresh_token: bool,
        keep_until: i64,
    ) -> StoreResult<CodeRedemption> {
        let pkce_names: Vec<String> = (0..proof.pkce.len()).map(|i| format!(":pkce{i}")).collect();
        let key = Self::key(code_pk(grant_id), "CODE");
        let (update, token) = self.redemption(&key, with_refresh_token, now_ms, keep_until);
        let mut update = update
            .condition_expression(format!(
                "(attribute_exists(pk) AND client_id = :client AND redirect_uri = :redirect AND issuer = :iss \
                 AND pkce IN ({}) AND attribute_not_exists(redeemed_ms) AND expires_at > :now_s) OR op_token = :op",
                pkce_names.join(", ")
            ))
            .expression_attribute_values(":client", s(&proof.client_id))
            .expression_attribute_values(":redirect", s(&proof.redirect_uri))
            .expression_attribute_values(":iss", s(&proof.issuer))
            .expression_attribute_values(":now_s", n(now_ms.div_euclid(1000)))
            .return_values_on_condition_check_failure(OnFail::AllOld);
        for (name, key) in pkce_names.iter().zip(&proof.pkce) {
            update = update.expression_attribute_values(name, s(key));
        }
        match self.marked(update, key, &token).await? {
            Ok(item) => Ok(CodeRedemption::Redeemed(Box::new(code_from(&item)?))),
            Err(Some(old)) => Ok(CodeRedemption::refused(code_from(&old)?, proof)),
            Err(None) => Ok(CodeRedemption::Invalid),
        }
    }

    async fn family(&self, kind: GrantKind, grant_id: &str) -> StoreResult<Option<Family>> {
        match self.get(family_key(kind, grant_id)).await? {
            Some(item) => family_from(kind, &item),
            None => Ok(None),
        }
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
        let token = op_token();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(family_key(kind, grant_id)))
            .update_expression("SET rt_generation = :next, expires_at = :keep, op_token = :op")
            .condition_expression(
                "(client_id = :client AND (attribute_not_exists(issuer) OR issuer = :iss) AND rt_generation = :gen \
                 AND attribute_not_exists(revoked_ms) AND expires_at > :now) OR op_token = :op",
            )
            .expression_attribute_values(":op", s(&token))
            .expression_attribute_values(":client", s(client_id))
            .expression_attribute_values(":iss", s(issuer))
            .expression_attribute_values(":gen", n(i64::from(generation)))
            .expression_attribute_values(":next", n(i64::from(generation) + 1))
            .expression_attribute_values(":now", n(now_s))
            .expression_attribute_values(":keep", n(keep_until))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(OnFail::AllOld);
        match self.marked(update, family_key(kind, grant_id), &token).await? {
            Ok(item) => Ok(family_from(kind, &item)?.map_or(Rotation::Invalid, |f| Rotation::Rotated(Box::new(f)))),
            Err(Some(old)) => {
                let stale = family_from(kind, &old)?.is_some_and(|f| {
                    f.client_id == client_id
                        && (f.issuer.is_empty() || f.issuer == issuer)
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

    async fn revoke_token(&self, jti: &str, expires_at: i64) -> StoreResult<()> {
        let mut item = Self::key(revoked_token_pk(jti), "REVOKED");
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }

    async fn token_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(self.get(Self::key(revoked_token_pk(jti), "REVOKED")).await?.is_some())
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

impl DynamoStore {
    /// The marked update (`DynamoStore::marked`) redeeming the code grant at `key` and keeping it
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
