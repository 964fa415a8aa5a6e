//! Races: 16 devices poll an approved grant at once; exactly one gets tokens; 16 clients redeem
//! one code, then refresh one token. Through HTTP, 50 trials on DynamoDB (a real
//! DynamoDB-compatible server) and on memory; straight at the store (`shared::store::races`, also
//! username and `jti` claims), 1,000 trials x 16 racers on each store. And the store contract on DynamoDB.
//!
//! Each server (and table) serves at most `TRIALS_PER_TABLE` trials: moto copies a whole table
//! for every transaction, so a table that grows with the trials makes the run quadratic.

use std::sync::Arc;

use blackbox::*;
use futures::future::join_all;
use shared::Dialect;

const TRIALS_PER_TABLE: usize = 25;

async fn races(kind: StoreKind, trials: usize) {
    for batch in 0..trials.div_ceil(TRIALS_PER_TABLE) {
        let first = batch * TRIALS_PER_TABLE;
        race_batch(kind, first..trials.min(first + TRIALS_PER_TABLE)).await;
    }
}

async fn race_batch(kind: StoreKind, trials: std::ops::Range<usize>) {
    let s = TestServer::start(kind).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    for trial in trials {
        let grant = s.device_authorization(Dialect::PingOne, auth, "openid").await;
        let device_code = grant.str("device_code");
        s.approve(&grant.str("user_code"), true).await;
        s.advance_s(5);
        let polls = (0..16).map(|_| s.poll(Dialect::PingOne, auth, &device_code));
        let answers = join_all(polls).await;
        let winners = answers.iter().filter(|a| a.status == 200).count();
        assert_eq!(winners, 1, "trial {trial}: exactly one token among 16 concurrent polls");
        for loser in answers.iter().filter(|a| a.status != 200) {
            let error = loser.json["error"].as_str().unwrap_or_default();
            assert!(matches!(error, "slow_down" | "invalid_grant"), "trial {trial}: {loser:?}");
        }
        s.advance_s(5);
        let after = s.poll(Dialect::PingOne, auth, &device_code).await;
        assert_eq!(after.json["error"], "invalid_grant", "trial {trial}: spent afterwards");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_polls_one_token_50_trials_on_dynamodb() {
    races(StoreKind::DynamoDb, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_polls_one_token_on_memory() {
    races(StoreKind::Memory, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_store_meets_the_contract() {
    shared::store::contract::run_all(Arc::new(fresh_dynamo_table().await)).await;
}

/// 16 racers redeem one authorization code, then 16 racers refresh one refresh token: exactly
/// one of each wins, every trial. (The losers' replays revoke the family, as RFC 6749 asks.)
async fn code_and_refresh_races(kind: StoreKind, trials: usize) {
    for batch in 0..trials.div_ceil(TRIALS_PER_TABLE) {
        let first = batch * TRIALS_PER_TABLE;
        code_and_refresh_batch(kind, first..trials.min(first + TRIALS_PER_TABLE)).await;
    }
}

async fn code_and_refresh_batch(kind: StoreKind, trials: std::ops::Range<usize>) {
    let s = TestServer::start(kind).await;
    let web = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    for trial in trials {
        let code = s.code_for(Dialect::PingOne, WEB_APP_ID, "openid").await;
        let answers = join_all((0..16).map(|_| s.redeem(Dialect::PingOne, web, &code))).await;
        let winners: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
        assert_eq!(winners.len(), 1, "trial {trial}: one code redemption wins");
        assert!(answers.iter().filter(|a| a.status != 200).all(|a| a.json["error"] == "invalid_grant"));

        let code = s.code_for(Dialect::PingOne, WEB_APP_ID, "openid").await;
        let rt = s.redeem(Dialect::PingOne, web, &code).await.str("refresh_token");
        let url = s.token_url(Dialect::PingOne);
        let fields = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
        let refreshes = (0..16).map(|_| s.post_form(&url, web, &fields));
        let answers = join_all(refreshes).await;
        assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1, "trial {trial}: one rotation wins");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_and_refresh_races_50_trials_on_dynamodb() {
    code_and_refresh_races(StoreKind::DynamoDb, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_and_refresh_races_on_memory() {
    code_and_refresh_races(StoreKind::Memory, 50).await;
}

/// Trials of each store-level race, on both stores (issue 13: 1,000 trials x 16 racers).
const STORE_TRIALS: usize = 1000;
/// Trials per fresh table: moto copies a whole table for every transaction, so a table that grew
/// with the trials would make the run quadratic.
const STORE_TRIALS_PER_TABLE: usize = 20;

/// Runs `race` for `trials` on the DynamoDB server at `endpoint`, a fresh table per batch.
async fn on_dynamodb<F, Fut>(endpoint: &str, name: &str, race: F)
where
    F: Fn(Arc<dyn shared::store::Store>, std::ops::Range<usize>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = std::time::Instant::now();
    for first in (0..STORE_TRIALS).step_by(STORE_TRIALS_PER_TABLE) {
        let table = Arc::new(fresh_dynamo_table_at(endpoint).await);
        race(table, first..STORE_TRIALS.min(first + STORE_TRIALS_PER_TABLE)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{name}: {STORE_TRIALS} trials x {} racers on DynamoDB in {secs:.1} s", races::RACERS);
}

use shared::store::races;

/// The store-level races on DynamoDB, in two groups of about equal cost that run at once, each on
/// its own server when the test command started two (`race_endpoints`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_races_on_dynamodb() {
    let endpoints = race_endpoints();
    let (first, second) = (endpoints[0].clone(), endpoints[1 % endpoints.len()].clone());
    let codes = tokio::spawn(async move {
        on_dynamodb(&first, "authorization code + refresh", races::code_redemptions_and_rotations).await
    });
    let rest = tokio::spawn(async move {
        on_dynamodb(&second, "device code", races::device_redemptions).await;
        on_dynamodb(&second, "username", races::username_claims).await;
        on_dynamodb(&second, "client assertion jti", races::assertion_claims).await;
    });
    let (codes, rest) = tokio::join!(codes, rest);
    codes.expect("the code and refresh races");
    rest.expect("the device code, username and jti races");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_races_on_memory() {
    let store: Arc<dyn shared::store::Store> = Arc::new(shared::store::memory::MemoryStore::new());
    races::device_redemptions(store.clone(), 0..STORE_TRIALS).await;
    races::code_redemptions_and_rotations(store.clone(), 0..STORE_TRIALS).await;
    races::username_claims(store.clone(), 0..STORE_TRIALS).await;
    races::assertion_claims(store, 0..STORE_TRIALS).await;
}
