//! Races at the store: 16 racers spend one thing at once, trial after trial, and exactly one
//! wins every time. The single-use steps of every grant (device code redemption, authorization
//! code redemption, refresh token rotation), the claim of a username and of a client
//! assertion's `jti`, straight at the store
//! so that many trials fit in the test command (`tests/tests/concurrency.rs` runs 1,000 trials
//! of each on both stores, the HTTP-level races beside them check what clients see).

use std::sync::Arc;

use super::contract::{flow, flow_user, grant, redeems, subject, unique, ISS};
use super::*;
use crate::model::User;

/// Racers per trial.
pub const RACERS: usize = 16;

const NOW_MS: i64 = 1_800_000_000_000;

/// Exactly one of the racers' answers is a win; a loser may be an error only on DynamoDB's
/// side of a lost transaction race (then nothing was written for it).
fn one_winner<T>(what: &str, trial: usize, answers: Vec<StoreResult<T>>, won: impl Fn(&T) -> bool) {
    let winners = answers.iter().filter(|a| a.as_ref().is_ok_and(&won)).count();
    assert_eq!(winners, 1, "{what}, trial {trial}: exactly one of {RACERS} racers wins");
}

/// Every racer's answer (they run concurrently once spawned).
async fn joined<T>(racers: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let handles: Vec<_> = racers.collect();
    let mut answers = Vec::with_capacity(handles.len());
    for handle in handles {
        answers.push(handle.await.expect("a racer panicked"));
    }
    answers
}

/// An approved device grant, polled by 16 at once: exactly one poll redeems it.
pub async fn device_redemptions(store: Arc<dyn Store>, trials: std::ops::Range<usize>) {
    let env = unique("env");
    for trial in trials {
        let (mut g, u) = grant(&env, NOW_MS / 1000);
        g.decision = Some(Decision { approved: true, subject: subject(), decided_ms: NOW_MS });
        assert_eq!(store.create_device_grant(&g, &u, NOW_MS / 1000, &[]).await.unwrap(), Created::Created);
        let racers = (0..RACERS).map(|_| {
            let (store, id) = (store.clone(), g.grant_id.clone());
            tokio::spawn(async move { redeems(&*store, &id, NOW_MS).await })
        });
        let answers = joined(racers).await;
        one_winner("device code", trial, answers, |won| *won);
    }
}

/// An authorization code redeemed by 16 clients at once, then its refresh token rotated by 16.
pub async fn code_redemptions_and_rotations(store: Arc<dyn Store>, trials: std::ops::Range<usize>) {
    let env = unique("env");
    let request = AuthorizeRequest {
        issuer: ISS.into(),
        client_id: "client-a".into(),
        redirect_uri: "https://app/cb".into(),
        scopes: vec!["openid".into()],
        state: None,
        nonce: None,
        code_challenge: None,
        code_challenge_method: None,
        force_login: false,
        force_consent: false,
        ask_consent: false,
        max_age: None,
        login_hint: None,
    };
    let proof = CodeProof {
        client_id: "client-a".into(),
        redirect_uri: "https://app/cb".into(),
        issuer: ISS.into(),
        pkce: vec!["none".into()],
    };
    for trial in trials {
        let mut f = flow(&env, NOW_MS);
        f.authorize = Some(request.clone());
        let FlowWrite::Written(_) = store.sign_on_flow(&f, &flow_user(), NOW_MS, NOW_MS + 900_000).await.unwrap()
        else {
            panic!("sign-on, trial {trial}");
        };
        let code = CodeGrant {
            grant_id: unique("code"),
            environment_id: env.clone(),
            request: request.clone(),
            subject: subject(),
            created_ms: NOW_MS,
            expires_at: NOW_MS / 1000 + 60,
            redeemed_ms: None,
            rt_generation: None,
            revoked_ms: None,
        };
        assert!(store.resume_flow(&f.flow_id, &code, NOW_MS).await.unwrap(), "trial {trial}: the code");
        let racers = (0..RACERS).map(|_| {
            let (store, id, proof) = (store.clone(), code.grant_id.clone(), proof.clone());
            tokio::spawn(async move { store.redeem_code(&id, &proof, NOW_MS, true, NOW_MS / 1000 + 900).await })
        });
        let answers = joined(racers).await;
        one_winner("authorization code", trial, answers, |r| matches!(r, CodeRedemption::Redeemed(_)));

        let racers = (0..RACERS).map(|_| {
            let (store, id) = (store.clone(), code.grant_id.clone());
            tokio::spawn(async move {
                store.rotate_refresh(GrantKind::Code, &id, "client-a", ISS, 0, NOW_MS / 1000, NOW_MS / 1000 + 900).await
            })
        });
        let answers = joined(racers).await;
        one_winner("refresh token", trial, answers, |r| matches!(r, Rotation::Rotated(_)));
    }
}

/// One client assertion (its `jti`) presented by 16 requests at once.
pub async fn assertion_claims(store: Arc<dyn Store>, trials: std::ops::Range<usize>) {
    let now_s = NOW_MS / 1000;
    for trial in trials {
        let key = unique("assertion");
        let racers = (0..RACERS).map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move { store.claim_assertion(&key, now_s + 60, now_s).await })
        });
        let answers = joined(racers).await;
        one_winner("client assertion jti", trial, answers, |won| *won);
    }
}

/// 16 creates of users with one username at once.
pub async fn username_claims(store: Arc<dyn Store>, trials: std::ops::Range<usize>) {
    let env = unique("env");
    for trial in trials {
        let username = format!("racer-{trial}");
        let racers = (0..RACERS).map(|_| {
            let store = store.clone();
            let user = User::new(&env, &unique("u"), &username, None);
            tokio::spawn(async move { store.apply(&Record::User(user).replacing(None, Expect::Absent)).await })
        });
        let answers = joined(racers).await;
        one_winner("username", trial, answers, |a| *a == Applied::Applied);
        assert!(store.find_user(&env, &username).await.unwrap().is_some(), "trial {trial}: the winner is found");
    }
}
