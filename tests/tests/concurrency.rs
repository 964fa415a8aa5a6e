//! Races: 16 devices poll an approved grant at once; exactly one gets tokens. 200 trials on
//! DynamoDB (a real DynamoDB-compatible server), 50 on memory. And the store contract on DynamoDB.

use std::sync::Arc;

use blackbox::*;
use futures::future::join_all;
use shared::Dialect;

async fn races(kind: StoreKind, trials: usize) {
    let s = TestServer::start(kind).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    for trial in 0..trials {
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
async fn sixteen_concurrent_polls_one_token_200_trials_on_dynamodb() {
    races(StoreKind::DynamoDb, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_polls_one_token_on_memory() {
    races(StoreKind::Memory, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_store_meets_the_contract() {
    shared::store::contract::run_all(Arc::new(fresh_dynamo_table().await)).await;
}
