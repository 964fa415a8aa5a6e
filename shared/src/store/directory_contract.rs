//! The directory part of the store contract (`contract::run_all` runs it on both stores).

use std::sync::Arc;

use super::*;
use crate::model::{Application, Environment, User};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn user(env: &str, id: &str, username: &str) -> User {
    let mut u = User::new(env, id, username, Some("$argon2id$...".into()));
    u.email = Some(format!("{id}@example.com"));
    u
}

async fn create(store: &dyn Store, record: Record) -> Applied {
    store.apply(&record.replacing(None, Expect::Absent)).await.unwrap()
}

pub async fn run_all(store: Arc<dyn Store>) {
    unique_device_path_ids(&*store).await;
    revisions_guard_updates(&*store).await;
    users_by_username_and_id(&*store).await;
    environments_and_their_names(&*store).await;
    concurrent_creates_of_one_username_make_one_user(store).await;
}

async fn unique_device_path_ids(store: &dyn Store) {
    let env = unique("env");
    let mut a = Application::new(&env, &unique("app"), "A");
    a.device_path_id = Some("tv".into());
    assert_eq!(create(store, Record::Application(a.clone())).await, Applied::Applied);
    let mut b = Application::new(&env, &unique("app"), "B");
    b.device_path_id = Some("tv".into());
    let conflict = create(store, Record::Application(b.clone())).await;
    assert_eq!(conflict, Applied::Conflict(1), "the claim of the taken devicePathId fails");
    let b_key = RecordKey::new(&env, Kind::Application, &b.client_id);
    assert!(store.get_record(&b_key).await.unwrap().is_none(), "and nothing was written");
    let mut elsewhere = b.clone();
    elsewhere.environment_id = unique("env");
    assert_eq!(create(store, Record::Application(elsewhere)).await, Applied::Applied, "unique per environment");

    // Moving `a` to another path frees `tv` for `b`.
    let old = Record::Application(a.clone());
    a.device_path_id = Some("tv-2".into());
    a.revision = 1;
    assert_eq!(
        store.apply(&Record::Application(a.clone()).replacing(Some(&old), Expect::Revision(0))).await.unwrap(),
        Applied::Applied
    );
    assert_eq!(create(store, Record::Application(b)).await, Applied::Applied);
    let apps = store.list_applications(&env).await.unwrap();
    assert_eq!(apps.len(), 2);
    let mut ids: Vec<String> = apps.iter().map(|a| a.client_id.clone()).collect();
    let sorted = {
        let mut s = ids.clone();
        s.sort();
        s
    };
    assert_eq!(ids, sorted, "by id");
    ids.clear();
}

async fn revisions_guard_updates(store: &dyn Store) {
    let env = unique("env");
    let mut a = Application::new(&env, &unique("app"), "A");
    assert_eq!(create(store, Record::Application(a.clone())).await, Applied::Applied);
    assert_eq!(create(store, Record::Application(a.clone())).await, Applied::Conflict(0), "a create of an existing id");
    let old = Record::Application(a.clone());
    a.name = "A2".into();
    a.revision = 1;
    let stale = Record::Application(a.clone()).replacing(Some(&old), Expect::Revision(7));
    assert_eq!(store.apply(&stale).await.unwrap(), Applied::Conflict(0), "a write from a stale read");
    let fresh = Record::Application(a.clone()).replacing(Some(&old), Expect::Revision(0));
    assert_eq!(store.apply(&fresh).await.unwrap(), Applied::Applied);
    let key = RecordKey::new(&env, Kind::Application, &a.client_id);
    let Some(Record::Application(stored)) = store.get_record(&key).await.unwrap() else { panic!("stored") };
    assert_eq!((stored.name.as_str(), stored.revision), ("A2", 1));
    let stale_delete = Record::Application(Application { revision: 0, ..stored.clone() }).deleting();
    assert_eq!(store.apply(&stale_delete).await.unwrap(), Applied::Conflict(0));
    assert_eq!(store.apply(&Record::Application(stored).deleting()).await.unwrap(), Applied::Applied);
    assert!(store.get_record(&key).await.unwrap().is_none());
}

async fn users_by_username_and_id(store: &dyn Store) {
    let env = unique("env");
    let mut u = user(&env, &unique("u"), "Device.User");
    assert_eq!(create(store, Record::User(u.clone())).await, Applied::Applied);
    let found = store.find_user(&env, "device.USER").await.unwrap().expect("case-insensitive");
    assert_eq!(found.id, u.id);
    assert!(store.find_user(&unique("env"), "device.user").await.unwrap().is_none());
    assert_eq!(store.session_user(&env, &u.id, "s1").await.unwrap().map(|x| x.id), Some(u.id.clone()));

    let other = user(&env, &unique("u"), "device.user");
    assert_eq!(create(store, Record::User(other.clone())).await, Applied::Conflict(1), "usernames are unique");

    // An update without rename is seen through the username too; a rename moves it.
    let old = Record::User(u.clone());
    u.email = Some("new@example.com".into());
    u.revision = 1;
    assert_eq!(
        store.apply(&Record::User(u.clone()).replacing(Some(&old), Expect::Revision(0))).await.unwrap(),
        Applied::Applied
    );
    assert_eq!(store.find_user(&env, "device.user").await.unwrap().unwrap().email.as_deref(), Some("new@example.com"));
    let old = Record::User(u.clone());
    u.username = "renamed".into();
    u.revision = 2;
    assert_eq!(
        store.apply(&Record::User(u.clone()).replacing(Some(&old), Expect::Revision(1))).await.unwrap(),
        Applied::Applied
    );
    assert!(store.find_user(&env, "device.user").await.unwrap().is_none());
    assert_eq!(store.find_user(&env, "RENAMED").await.unwrap().unwrap().id, u.id);
    assert_eq!(
        store.session_user(&env, &u.id, "s1").await.unwrap().map(|x| x.username),
        Some("renamed".into()),
        "sessions follow the id"
    );
    assert_eq!(create(store, Record::User(other.clone())).await, Applied::Applied, "the old username is free");

    let users = store.list_records(&env, Kind::User).await.unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(store.apply(&Record::User(u.clone()).deleting()).await.unwrap(), Applied::Applied);
    assert!(store.find_user(&env, "renamed").await.unwrap().is_none());
    assert!(store.session_user(&env, &u.id, "s1").await.unwrap().is_none());
    assert_eq!(store.list_records(&env, Kind::User).await.unwrap().len(), 1);
    assert_eq!(create(store, Record::User(user(&env, &unique("u"), "renamed"))).await, Applied::Applied);
}

async fn environments_and_their_names(store: &dyn Store) {
    let name = unique("Env Name");
    let env = Environment {
        id: unique("env"),
        name: name.clone(),
        description: None,
        env_type: "SANDBOX".into(),
        region: "NA".into(),
        created_ms: 1,
        updated_ms: 1,
        revision: 0,
    };
    assert_eq!(create(store, Record::Environment(env.clone())).await, Applied::Applied);
    let twin = Environment { id: unique("env"), name: name.to_uppercase(), ..env.clone() };
    assert_eq!(
        create(store, Record::Environment(twin)).await,
        Applied::Conflict(1),
        "names unique in the organization"
    );
    let all = store.list_records("", Kind::Environment).await.unwrap();
    assert!(all.iter().any(|r| matches!(r, Record::Environment(e) if e == &env)));
    let key = RecordKey::new(&env.id, Kind::Environment, &env.id);
    assert!(matches!(store.get_record(&key).await.unwrap(), Some(Record::Environment(e)) if e == env));
}

async fn concurrent_creates_of_one_username_make_one_user(store: Arc<dyn Store>) {
    let env = unique("env");
    let racers = (0..16).map(|_| {
        let store = store.clone();
        let u = user(&env, &unique("u"), "racer");
        tokio::spawn(async move { store.apply(&Record::User(u).replacing(None, Expect::Absent)).await })
    });
    let mut won = 0;
    for racer in racers {
        // A loser is a conflict (or, on DynamoDB, a transaction that kept meeting the winner's).
        if let Ok(Applied::Applied) = racer.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one username, one user");
    assert_eq!(store.list_records(&env, Kind::User).await.unwrap().len(), 1);
}
