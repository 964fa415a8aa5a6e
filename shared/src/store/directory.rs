//! The directory: environments, applications, populations and users, as the management API
//! writes them. One record per resource, addressed by environment, kind and id; names that must be
//! unique in an environment (usernames, `devicePathId`s, population names, environment names) are
//! claimed by the record that holds them. A change is a list of writes applied all together or
//! not at all (one DynamoDB transaction), so two concurrent creates of one username make one user
//! and one conflict, and a failed request leaves nothing half-written.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{username_key, Application, Environment, Population, User};

/// A directory record.
// Records are few per request and moved rarely; boxing the application would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Record {
    Environment(Environment),
    Application(Application),
    Population(Population),
    User(User),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Environment,
    Application,
    Population,
    User,
}

/// Where a record lives. An environment's own record has `environment_id == id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub environment_id: String,
    pub kind: Kind,
    pub id: String,
}

impl RecordKey {
    pub fn new(environment_id: &str, kind: Kind, id: &str) -> Self {
        Self { environment_id: environment_id.to_owned(), kind, id: id.to_owned() }
    }
}

/// What kind of unique name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameKind {
    Username,
    DevicePathId,
    PopulationName,
    EnvironmentName,
}

impl NameKind {
    pub fn tag(self) -> &'static str {
        match self {
            NameKind::Username => "username",
            NameKind::DevicePathId => "devicePathId",
            NameKind::PopulationName => "population",
            NameKind::EnvironmentName => "environment",
        }
    }
}

/// A name unique in its environment (environment names: in the organization, `environment_id`
/// empty). `value` is normalised: names compare case-insensitively, `devicePathId`s exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub environment_id: String,
    pub kind: NameKind,
    pub value: String,
}

/// What a write expects of the record it replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No record with this key (a create).
    Absent,
    /// The record stands at this revision (nobody changed it since it was read).
    Revision(u64),
    /// Whatever stands (seeding).
    Any,
}

// A change holds a few writes and lives for one request: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Write {
    /// Stores the record (its `revision` as the caller set it).
    Put(Record, Expect),
    Delete(RecordKey, Expect),
    /// Takes a name for the record `owner`: fails if another record holds it.
    Claim(Name, String),
    /// Gives a name up, if `owner` holds it.
    Release(Name, String),
}

/// What applying a change came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// The write at this index did not hold (a record not as expected, a name held by another):
    /// nothing was written.
    Conflict(usize),
}

/// The most writes one change may hold (DynamoDB's transaction limit).
pub const MAX_WRITES: usize = 100;

impl Record {
    pub fn key(&self) -> RecordKey {
        match self {
            Record::Environment(e) => RecordKey::new(&e.id, Kind::Environment, &e.id),
            Record::Application(a) => RecordKey::new(&a.environment_id, Kind::Application, &a.client_id),
            Record::Population(p) => RecordKey::new(&p.environment_id, Kind::Population, &p.id),
            Record::User(u) => RecordKey::new(&u.environment_id, Kind::User, &u.id),
        }
    }

    pub fn revision(&self) -> u64 {
        match self {
            Record::Environment(e) => e.revision,
            Record::Application(a) => a.revision,
            Record::Population(p) => p.revision,
            Record::User(u) => u.revision,
        }
    }

    /// The unique names the record holds.
    pub fn names(&self) -> Vec<Name> {
        let name =
            |environment_id: &str, kind, value: String| Name { environment_id: environment_id.to_owned(), kind, value };
        match self {
            Record::Environment(e) => vec![name("", NameKind::EnvironmentName, e.name.to_lowercase())],
            Record::Application(a) => {
                a.device_path_id.iter().map(|p| name(&a.environment_id, NameKind::DevicePathId, p.clone())).collect()
            }
            Record::Population(p) => vec![name(&p.environment_id, NameKind::PopulationName, p.name.to_lowercase())],
            Record::User(u) => vec![name(&u.environment_id, NameKind::Username, username_key(&u.username))],
        }
    }

    /// The writes that store `self` in place of `old` (`None`: a create), claiming its names
    /// and releasing those only `old` held. Every put of a record carries the claims of its
    /// names, so a store may keep a copy of the record with a name (DynamoDB does, for users).
    pub fn replacing(self, old: Option<&Record>, expect: Expect) -> Vec<Write> {
        let owner = self.key().id;
        let names = self.names();
        let mut writes: Vec<Write> = Vec::new();
        if let Some(old) = old {
            for gone in old.names().into_iter().filter(|n| !names.contains(n)) {
                writes.push(Write::Release(gone, owner.clone()));
            }
        }
        writes.push(Write::Put(self, expect));
        writes.extend(names.into_iter().map(|n| Write::Claim(n, owner.clone())));
        writes
    }

    /// The writes that delete `self` (expected at its revision) and free its names.
    pub fn deleting(&self) -> Vec<Write> {
        let owner = self.key().id;
        let mut writes = vec![Write::Delete(self.key(), Expect::Revision(self.revision()))];
        writes.extend(self.names().into_iter().map(|n| Write::Release(n, owner.clone())));
        writes
    }
}

/// Applications and users of an environment, and the rest of the directory.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The record at `key`, or `None`. One request.
    async fn get_record(&self, key: &RecordKey) -> StoreResult<Option<Record>>;

    /// Every record of a kind in an environment, by id (environments: every environment of the
    /// organization; `environment_id` is ignored). One request per 1 MB page.
    async fn list_records(&self, environment_id: &str, kind: Kind) -> StoreResult<Vec<Record>>;

    /// Applies every write, atomically: all of them or, when one does not hold, none
    /// (`Applied::Conflict` with its index). At most `MAX_WRITES` writes. One request.
    async fn apply(&self, writes: &[Write]) -> StoreResult<Applied>;

    /// The user with this username (case-insensitively), in one request.
    async fn find_user(&self, environment_id: &str, username: &str) -> StoreResult<Option<User>>;

    /// Every application of the environment (one query; cached by `App::applications`).
    async fn list_applications(&self, environment_id: &str) -> StoreResult<Vec<Application>> {
        let records = self.list_records(environment_id, Kind::Application).await?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r {
                Record::Application(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    /// Stores an application whatever stood (seeding and tests). Fails when its `devicePathId`
    /// is another application's.
    async fn put_application(&self, app: &Application) -> StoreResult<()> {
        self.upsert(Record::Application(app.clone())).await
    }

    /// Stores a user whatever stood (seeding and tests). Fails when its username is taken.
    async fn put_user(&self, user: &User) -> StoreResult<()> {
        self.upsert(Record::User(user.clone())).await
    }

    /// Stores a record whatever stood, keeping its names claimed. Two requests.
    async fn upsert(&self, record: Record) -> StoreResult<()> {
        let old = self.get_record(&record.key()).await?;
        match self.apply(&record.replacing(old.as_ref(), Expect::Any)).await? {
            Applied::Applied => Ok(()),
            Applied::Conflict(i) => {
                Err(super::StoreError::Corrupt(format!("a unique name of this record is another's (write {i})")))
            }
        }
    }
}
