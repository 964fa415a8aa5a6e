//! The directory on DynamoDB. Records: `ENV#{env}` / `APP#{id}`, `POP#{id}`, `USER#{id}`;
//! environments `ORG` / `ENV#{id}`; each with `data` (JSON) and `revision`. A unique name is an
//! item `NAME#{kind}#{value}` in the same partition holding its `owner`; a username's item also
//! holds a copy of the user (every put of a user carries the claim of its username, see
//! `Record::replacing`), so sign-on finds a user by username in one read. A change is one
//! TransactWriteItems.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::*;
use crate::model::username_key;
use crate::store::directory::*;

const ORG_PK: &str = "ORG";

fn record_pk(key: &RecordKey) -> String {
    match key.kind {
        Kind::Environment => ORG_PK.to_owned(),
        _ => env_pk(&key.environment_id),
    }
}

fn prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Environment => "ENV#",
        Kind::Application => "APP#",
        Kind::Population => "POP#",
        Kind::User => "USER#",
    }
}

fn record_item_key(key: &RecordKey) -> Item {
    items::key(record_pk(key), &format!("{}{}", prefix(key.kind), key.id))
}

pub(super) fn name_item_key(name: &Name) -> Item {
    let pk = if name.kind == NameKind::EnvironmentName { ORG_PK.to_owned() } else { env_pk(&name.environment_id) };
    items::key(pk, &format!("NAME#{}#{}", name.kind.tag(), name.value))
}

fn record_data(record: &Record) -> StoreResult<Av> {
    match record {
        Record::Environment(e) => json(e),
        Record::Application(a) => json(a),
        Record::Population(p) => json(p),
        Record::User(u) => json(u),
    }
}

fn record_from(kind: Kind, item: &Item) -> StoreResult<Record> {
    Ok(match kind {
        Kind::Environment => Record::Environment(get_json(item, "data")?),
        Kind::Application => Record::Application(get_json(item, "data")?),
        Kind::Population => Record::Population(get_json(item, "data")?),
        Kind::User => Record::User(get_json(item, "data")?),
    })
}

/// The condition of a write expecting `expect` of its item, and its values.
fn expectation(expect: Expect) -> (Option<&'static str>, Option<(&'static str, Av)>) {
    match expect {
        Expect::Absent => (Some("attribute_not_exists(pk)"), None),
        Expect::Revision(r) => (Some("revision = :rev"), Some((":rev", n(r as i64)))),
        Expect::Any => (None, None),
    }
}

impl DynamoStore {
    fn directory_write(&self, write: &Write, all: &[Write], token: &str) -> StoreResult<TransactWriteItem> {
        Ok(match write {
            Write::Put(record, expect) => {
                let mut item = record_item_key(&record.key());
                item.insert("data".into(), record_data(record)?);
                item.insert("revision".into(), n(record.revision() as i64));
                item.insert(OP_TOKEN.into(), s(token));
                let (condition, value) = expectation(*expect);
                let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
                put = put.set_condition_expression(condition.map(str::to_owned));
                if let Some((name, v)) = value {
                    put = put.expression_attribute_values(name, v);
                }
                TransactWriteItem::builder().put(put.build().map_err(build_err)?).build()
            }
            Write::Delete(key, expect) => {
                let (condition, value) = expectation(*expect);
                let mut delete = Delete::builder().table_name(&self.table).set_key(Some(record_item_key(key)));
                delete = delete.set_condition_expression(condition.map(str::to_owned));
                if let Some((name, v)) = value {
                    delete = delete.expression_attribute_values(name, v);
                }
                TransactWriteItem::builder().delete(delete.build().map_err(build_err)?).build()
            }
            Write::Claim(name, owner) => {
                let mut item = name_item_key(name);
                item.insert("owner".into(), s(owner));
                if name.kind == NameKind::Username {
                    let user = all.iter().find_map(|w| match w {
                        Write::Put(Record::User(u), _) if &u.id == owner => Some(u),
                        _ => None,
                    });
                    if let Some(user) = user {
                        item.insert("data".into(), json(user)?);
                    }
                }
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk) OR #owner = :owner")
                    .expression_attribute_names("#owner", "owner")
                    .expression_attribute_values(":owner", s(owner))
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().put(put).build()
            }
            Write::Release(name, owner) => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(name_item_key(name)))
                    .condition_expression("attribute_not_exists(pk) OR #owner = :owner")
                    .expression_attribute_names("#owner", "owner")
                    .expression_attribute_values(":owner", s(owner))
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().delete(delete).build()
            }
        })
    }
}

impl DynamoStore {
    /// Whether the change stamped with `token` was applied: its first put's item carries the
    /// token (a transaction applies whole or not at all). A change without puts cannot tell.
    async fn applied_before(&self, writes: &[Write], token: &str) -> bool {
        let Some(key) = writes.iter().find_map(|w| match w {
            Write::Put(record, _) => Some(record.key()),
            _ => None,
        }) else {
            return false;
        };
        match self.get(record_item_key(&key)).await {
            Ok(Some(item)) => item.get(OP_TOKEN).and_then(|v| v.as_s().ok()).is_some_and(|t| t == token),
            _ => false,
        }
    }
}

#[async_trait]
impl DirectoryStore for DynamoStore {
    async fn get_record(&self, key: &RecordKey) -> StoreResult<Option<Record>> {
        let item = self.get(record_item_key(key)).await?;
        item.as_ref().map(|item| record_from(key.kind, item)).transpose()
    }

    async fn list_records(&self, environment_id: &str, kind: Kind) -> StoreResult<Vec<Record>> {
        let pk = if kind == Kind::Environment { ORG_PK.to_owned() } else { env_pk(environment_id) };
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":prefix", s(prefix(kind)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                let record = record_from(kind, item)?;
                // Only items at their record's own key (none other should carry the prefix).
                if get_s(item, "sk")? == format!("{}{}", prefix(kind), record.key().id) {
                    records.push(record);
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(records),
            }
        }
    }

    async fn apply(&self, writes: &[Write]) -> StoreResult<Applied> {
        if writes.len() > MAX_WRITES {
            return Err(StoreError::Unavailable(format!("a change holds at most {MAX_WRITES} writes")));
        }
        let token = op_token();
        let items = writes.iter().map(|w| self.directory_write(w, writes, &token)).collect::<StoreResult<Vec<_>>>()?;
        match self.transact(items).await {
            Ok(Ok(())) => Ok(Applied::Applied),
            Ok(Err(cancelled)) => {
                let conflict = cancelled.iter().position(Option::is_some).unwrap_or(0);
                // A cancelled retry of our own applied transaction (its first answer lost).
                if self.applied_before(writes, &token).await {
                    return Ok(Applied::Applied);
                }
                Ok(Applied::Conflict(conflict))
            }
            // An unknown outcome (timeout, 5xx after the SDK's retries): settled by reading back.
            Err(err) if self.applied_before(writes, &token).await => {
                tracing::warn!(error = %err, "a directory change's answer was lost; reading it back showed it applied");
                Ok(Applied::Applied)
            }
            Err(err) => Err(err),
        }
    }

    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>> {
        let name =
            Name { environment_id: environment_id.to_owned(), kind: NameKind::Username, value: username_key(username) };
        let item = self.get(name_item_key(&name)).await?;
        item.as_ref().filter(|i| i.contains_key("data")).map(|item| get_json(item, "data")).transpose()
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn session_user(&self, environment_id: &str, user_id: &str, session_id: &str) -> StoreResult<Option<User>> {
        let user_key = record_item_key(&RecordKey::new(environment_id, Kind::User, user_id));
        let ended_key = Self::key(ended_session_pk(environment_id, session_id), "ENDED");
        let found = self.batch_get(vec![user_key, ended_key]).await?;
        if found.iter().any(|item| matches!(item.get("sk"), Some(Av::S(sk)) if sk == "ENDED")) {
            return Ok(None);
        }
        found.iter().find(|item| item.contains_key("data")).map(|item| get_json(item, "data")).transpose()
    }

    async fn end_session(&self, environment_id: &str, session_id: &str, expires_at: i64) -> StoreResult<()> {
        let mut item = Self::key(ended_session_pk(environment_id, session_id), "ENDED");
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(unavailable)?;
        Ok(())
    }
}
