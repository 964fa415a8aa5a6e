//! The password-change part of the store contract (`contract::run_all` runs it on both stores): a
//! flow whose user must change their password (`MUST_CHANGE_PASSWORD`) takes no other step until
//! `change_password_flow` ends the change, and that write holds only on a live, pending flow.

use super::contract::{device_of, flow, flow_user, grant, subject, unique, REDEMPTION};
use super::*;

fn pending_user() -> FlowUser {
    FlowUser { must_change_password: true, ..flow_user() }
}

/// The person after the change: a new session.
fn changed_user() -> FlowUser {
    FlowUser { session_id: "s2".into(), auth_time: 2, ..flow_user() }
}

pub async fn run_all(store: &dyn Store) {
    a_pending_change_holds_the_device_flow(store).await;
    a_pending_change_holds_the_authorization_flow(store).await;
    the_change_needs_a_live_pending_flow(store).await;
}

async fn a_pending_change_holds_the_device_flow(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let (g, u) = grant(&env, now / 1000);
    store.create_device_grant(&g, &u, now / 1000, &[]).await.unwrap();
    let f = flow(&env, now);
    let FlowWrite::Written(pending) = store.sign_on_flow(&f, &pending_user(), now, now + 900_000).await.unwrap() else {
        panic!("sign-on");
    };
    assert!(pending.password_change_pending());
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap(), Some(pending.clone()), "stored as written");

    // No second sign-on, no code (neither judged nor counted), no device.
    assert!(matches!(
        store.sign_on_flow(&f, &flow_user(), now, now + 900_000).await.unwrap(),
        FlowWrite::Conflict(Some(_))
    ));
    let counters = [Counter { key: unique("counter"), expires_at: now / 1000 + 900, below: Some(5) }];
    for hash in [u.user_code_hash.as_str(), "no-such-hash"] {
        let attempt = UserCodeAttempt {
            fresh: &f,
            user_code_hash: hash,
            application_id: None,
            flow_below: 5,
            counters: &counters,
            now_ms: now,
        };
        assert!(
            matches!(store.attempt_user_code(&attempt).await.unwrap(), UserCodeOutcome::Refused { flow: Some(_), .. }),
            "{hash}"
        );
    }
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap().unwrap().code_failures, 0, "nothing counted");
    assert!(matches!(
        store.verify_flow_device(&f, &device_of(&g), now, now + 900_000).await.unwrap(),
        FlowWrite::Conflict(Some(_))
    ));

    // A code entered before signing on: the consent waits for the change too.
    let early = flow(&env, now);
    store.verify_flow_device(&early, &device_of(&g), now, now + 900_000).await.unwrap();
    let FlowWrite::Written(both) = store.sign_on_flow(&early, &pending_user(), now, now + 900_000).await.unwrap()
    else {
        panic!("sign-on after the code");
    };
    let decision = Decision { approved: true, subject: subject(), decided_ms: now };
    assert_eq!(
        store.decide_flow_device(&both, &decision, now, now + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::FlowConflict
    );

    // After the change the flow goes on as after any sign-on.
    let FlowWrite::Written(changed) =
        store.change_password_flow(&early.flow_id, &changed_user(), now + 1, now + 900_001).await.unwrap()
    else {
        panic!("change");
    };
    assert_eq!(changed.user, Some(changed_user()));
    assert_eq!(
        store.decide_flow_device(&changed, &decision, now + 2, now + 900_002, &REDEMPTION).await.unwrap(),
        ConsentWrite::Written
    );
    let FlowWrite::Written(_) =
        store.change_password_flow(&f.flow_id, &changed_user(), now, now + 900_000).await.unwrap()
    else {
        panic!("change");
    };
    let (g2, u2) = grant(&env, now / 1000);
    store.create_device_grant(&g2, &u2, now / 1000, &[]).await.unwrap();
    assert!(matches!(
        store.verify_flow_device(&f, &device_of(&g2), now, now + 900_000).await.unwrap(),
        FlowWrite::Written(_)
    ));
}

async fn a_pending_change_holds_the_authorization_flow(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let request = AuthorizeRequest {
        issuer: "https://as".into(),
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
    let code = |request: &AuthorizeRequest| CodeGrant {
        grant_id: unique("code"),
        environment_id: env.clone(),
        request: request.clone(),
        subject: subject(),
        created_ms: now,
        expires_at: now / 1000 + 60,
        redeemed_ms: None,
        rt_generation: None,
        revoked_ms: None,
    };
    // Without a consent step signing on is enough to resume, but not while the change is pending.
    let mut f = flow(&env, now);
    f.authorize = Some(request.clone());
    store.create_flow(&f).await.unwrap();
    let FlowWrite::Written(pending) = store.sign_on_flow(&f, &pending_user(), now, now + 900_000).await.unwrap() else {
        panic!("sign-on");
    };
    assert!(!pending.consented());
    let first = code(&request);
    assert!(!store.resume_flow(&f.flow_id, &first, now).await.unwrap(), "no code while the change is pending");
    store.change_password_flow(&f.flow_id, &changed_user(), now, now + 900_000).await.unwrap();
    assert!(store.resume_flow(&f.flow_id, &first, now).await.unwrap(), "a code once it is done");

    // With a consent step: no consent while the change is pending.
    let asking = AuthorizeRequest { ask_consent: true, ..request };
    let mut f = flow(&env, now);
    f.authorize = Some(asking);
    store.create_flow(&f).await.unwrap();
    let FlowWrite::Written(pending) = store.sign_on_flow(&f, &pending_user(), now, now + 900_000).await.unwrap() else {
        panic!("sign-on");
    };
    assert!(matches!(
        store.consent_flow(&pending, true, now, now + 900_000).await.unwrap(),
        FlowWrite::Conflict(Some(_))
    ));
    let FlowWrite::Written(changed) =
        store.change_password_flow(&f.flow_id, &changed_user(), now, now + 900_000).await.unwrap()
    else {
        panic!("change");
    };
    assert!(matches!(store.consent_flow(&changed, true, now, now + 900_000).await.unwrap(), FlowWrite::Written(_)));
}

async fn the_change_needs_a_live_pending_flow(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let change = |flow_id: String, at: i64| async move {
        store.change_password_flow(&flow_id, &changed_user(), at, at + 900_000).await.unwrap()
    };
    // Unknown, or never stored.
    assert_eq!(change(flow(&env, now).flow_id, now).await, FlowWrite::Conflict(None));
    // Signed on without a pending change.
    let plain = flow(&env, now);
    store.sign_on_flow(&plain, &flow_user(), now, now + 900_000).await.unwrap();
    let FlowWrite::Conflict(Some(stood)) = change(plain.flow_id.clone(), now).await else {
        panic!("a flow without a pending change takes none");
    };
    assert_eq!(stood.user, Some(flow_user()), "unchanged");
    // Expired.
    let late = flow(&env, now);
    store.sign_on_flow(&late, &pending_user(), now, now + 900_000).await.unwrap();
    assert!(matches!(change(late.flow_id.clone(), now + 900_000).await, FlowWrite::Conflict(Some(_))));
    // Live and pending: once. The change is ended whatever the given user says.
    let f = flow(&env, now);
    store.sign_on_flow(&f, &pending_user(), now, now + 900_000).await.unwrap();
    let FlowWrite::Written(changed) = store
        .change_password_flow(
            &f.flow_id,
            &FlowUser { must_change_password: true, ..changed_user() },
            now + 5,
            now + 900_005,
        )
        .await
        .unwrap()
    else {
        panic!("change");
    };
    assert_eq!((changed.user.clone(), changed.expires_ms), (Some(changed_user()), now + 900_005));
    assert!(!changed.password_change_pending() && changed.signed_on());
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap(), Some(changed.clone()));
    let FlowWrite::Conflict(Some(again)) = change(f.flow_id.clone(), now + 6).await else {
        panic!("a second change");
    };
    assert_eq!(again, changed, "the second change found the flow moved on");
}
