//! The store contract: one suite every implementation must pass (memory in unit tests, DynamoDB
//! against a DynamoDB-compatible server in `tests/`). Each check uses fresh ids, so the suite can
//! run against a shared table.

use std::sync::Arc;

use super::*;
use crate::model::{Application, GrantType, User};

pub(super) const ISS: &str = "https://as";

/// What the approvals of the suite prepare: a refresh token family, kept a day.
pub(super) const REDEMPTION: Redemption = Redemption { keep_until: 1_800_086_400, with_refresh_token: true };

/// Polls a grant with a fresh poll id: whether this poll redeemed it.
pub(super) async fn redeems(store: &dyn Store, grant_id: &str, now_ms: i64) -> StoreResult<bool> {
    let id = unique("poll");
    Ok(match store.record_poll(grant_id, "client-a", ISS, now_ms, 1000, &id).await? {
        PollRecord::Recorded(g) => g.redeemed() && g.winner == Some(id),
        _ => false,
    })
}

pub(super) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

pub(super) fn grant(env: &str, now_s: i64) -> (DeviceGrant, UserCodeEntry) {
    let grant_id = unique("grant");
    let g = DeviceGrant {
        grant_id: grant_id.clone(),
        environment_id: env.to_owned(),
        client_id: "client-a".to_owned(),
        issuer: ISS.to_owned(),
        scopes: vec!["openid".to_owned()],
        created_ms: now_s * 1000,
        expires_at: now_s + 600,
        kept_until: None,
        interval: 5,
        polls: Vec::new(),
        requester: Requester { ip: Some("192.0.2.1".into()), user_agent: Some("tv".into()) },
        decision: None,
        winner: None,
        rt_generation: None,
        revoked_ms: None,
    };
    let u = UserCodeEntry {
        environment_id: env.to_owned(),
        user_code_hash: unique("uc"),
        grant_id,
        client_id: g.client_id.clone(),
        scopes: g.scopes.clone(),
        created_ms: g.created_ms,
        expires_at: g.expires_at,
        requester: g.requester.clone(),
    };
    (g, u)
}

pub(super) fn subject() -> Subject {
    Subject {
        user_id: "u1".into(),
        username: "demo".into(),
        session_id: "s1".into(),
        auth_time: 1,
        given_name: Some("Demo".into()),
        family_name: None,
        email: Some("demo@example.com".into()),
    }
}

pub(super) fn flow(env: &str, now_ms: i64) -> FlowRecord {
    FlowRecord::started(&unique("flow"), env, Some("client-a".into()), now_ms, 900_000)
}

pub(super) fn flow_user() -> FlowUser {
    FlowUser {
        id: "u1".into(),
        username: "demo".into(),
        given_name: Some("Demo".into()),
        family_name: None,
        email: None,
        session_id: "s1".into(),
        auth_time: 1,
        must_change_password: false,
    }
}

pub(super) fn device_of(g: &DeviceGrant) -> FlowDevice {
    FlowDevice {
        grant_id: g.grant_id.clone(),
        client_id: g.client_id.clone(),
        scopes: g.scopes.clone(),
        requested_ms: g.created_ms,
        requester: g.requester.clone(),
    }
}

/// Runs every check. Panics with the failed expectation.
pub async fn run_all(store: Arc<dyn Store>) {
    directory(&*store).await;
    device_grant_lifecycle(&*store).await;
    user_codes_are_unique_while_live(&*store).await;
    poll_log_is_bounded_and_client_bound(&*store).await;
    flow_lifecycle(&*store).await;
    consent_fails_on_closed_grant(&*store).await;
    concurrent_redemption_has_one_winner(store.clone()).await;
    concurrent_polls_are_all_recorded(store.clone()).await;
    guessing_counters_and_consents(&*store).await;
    sign_on_under_limits(&*store).await;
    held_code_is_decided_with_its_grant(&*store).await;
    code_grants_and_families(&*store).await;
    sessions_and_revoked_tokens(&*store).await;
    device_authorization_counters(&*store).await;
    client_assertions_are_single_use(store.clone()).await;
    super::password_change_contract::run_all(&*store).await;
    super::directory_contract::run_all(store).await;
}

async fn code_grants_and_families(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let request = AuthorizeRequest {
        issuer: ISS.into(),
        client_id: "client-a".into(),
        redirect_uri: "https://app/cb".into(),
        scopes: vec!["openid".into()],
        state: None,
        nonce: Some("n".into()),
        code_challenge: None,
        code_challenge_method: None,
        force_login: false,
        force_consent: false,
        ask_consent: true,
        max_age: None,
        login_hint: None,
    };
    let mut f = flow(&env, now);
    f.authorize = Some(request.clone());
    store.create_flow(&f).await.unwrap();
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap().unwrap().authorize, Some(request.clone()));
    // Consent needs a signed-on flow; resume needs consent.
    assert!(matches!(store.consent_flow(&f, true, now, now + 900_000).await.unwrap(), FlowWrite::Conflict(Some(_))));
    let FlowWrite::Written(signed) = store.sign_on_flow(&f, &flow_user(), now, now + 900_000).await.unwrap() else {
        panic!("sign-on");
    };
    let code = CodeGrant {
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
    assert!(!store.resume_flow(&f.flow_id, &code, now).await.unwrap(), "no code before consent");
    let FlowWrite::Written(consented) = store.consent_flow(&signed, true, now, now + 900_000).await.unwrap() else {
        panic!("consent");
    };
    assert_eq!(consented.consent, Some(true));
    assert_eq!(store.find_consent(&env, "u1", "client-a").await.unwrap(), ["openid"], "remembered");
    assert!(store.resume_flow(&f.flow_id, &code, now).await.unwrap());
    assert!(store.resume_flow(&f.flow_id, &code, now).await.unwrap(), "its own code again (a lost answer)");
    let other = CodeGrant { grant_id: unique("code"), ..code.clone() };
    assert!(!store.resume_flow(&f.flow_id, &other, now).await.unwrap(), "one code per flow");
    assert_eq!(store.family(GrantKind::Code, &code.grant_id).await.unwrap(), None, "no family before redemption");

    let proof = CodeProof {
        client_id: "client-a".into(),
        redirect_uri: "https://app/cb".into(),
        issuer: ISS.into(),
        pkce: vec!["none".into()],
    };
    let other_client = CodeProof { client_id: "client-b".into(), ..proof.clone() };
    assert_eq!(
        store.redeem_code(&code.grant_id, &other_client, now, true, now / 1000 + 99).await.unwrap(),
        CodeRedemption::Invalid
    );
    // A proof that does not match spends nothing.
    for wrong in [
        CodeProof { redirect_uri: "https://app/cb/".into(), ..proof.clone() },
        CodeProof { issuer: "https://other".into(), ..proof.clone() },
        CodeProof { pkce: vec!["S256:x".into(), "plain:x".into()], ..proof.clone() },
    ] {
        assert!(matches!(
            store.redeem_code(&code.grant_id, &wrong, now, true, now / 1000 + 99).await.unwrap(),
            CodeRedemption::Mismatch(_)
        ));
    }
    let CodeRedemption::Redeemed(redeemed) =
        store.redeem_code(&code.grant_id, &proof, now, true, now / 1000 + 99).await.unwrap()
    else {
        panic!("redeem");
    };
    assert_eq!((redeemed.rt_generation, redeemed.expires_at), (Some(0), now / 1000 + 99));
    assert_eq!(
        store.redeem_code(&code.grant_id, &proof, now, true, now / 1000 + 99).await.unwrap(),
        CodeRedemption::Replayed
    );
    assert!(!store.resume_flow(&f.flow_id, &code, now).await.unwrap(), "a redeemed code is not issued again");
    // A request without a consent step: signed on is enough, not signed on is not.
    let no_step = AuthorizeRequest { ask_consent: false, ..request.clone() };
    let mut h = flow(&env, now);
    h.authorize = Some(no_step.clone());
    store.create_flow(&h).await.unwrap();
    let quick = CodeGrant { grant_id: unique("code"), request: no_step, ..code.clone() };
    assert!(!store.resume_flow(&h.flow_id, &quick, now).await.unwrap(), "no code before sign-on");
    let FlowWrite::Written(_) = store.sign_on_flow(&h, &flow_user(), now, now + 900_000).await.unwrap() else {
        panic!("sign-on");
    };
    assert!(store.resume_flow(&h.flow_id, &quick, now).await.unwrap(), "signed on, no consent step");
    let late = CodeGrant { grant_id: unique("code"), ..code.clone() };
    let mut g = flow(&env, now);
    g.authorize = Some(request);
    g.user = Some(flow_user());
    g.consent = Some(true);
    store.create_flow(&g).await.unwrap();
    assert!(store.resume_flow(&g.flow_id, &late, now).await.unwrap());
    assert_eq!(
        store.redeem_code(&late.grant_id, &proof, now + 61_000, false, 0).await.unwrap(),
        CodeRedemption::Invalid,
        "expired"
    );

    // Rotation: current generation moves on; an older one is stale; revocation ends it.
    let s = now / 1000;
    let Rotation::Rotated(next) =
        store.rotate_refresh(GrantKind::Code, &code.grant_id, "client-a", ISS, 0, s, s + 500).await.unwrap()
    else {
        panic!("rotate");
    };
    assert_eq!((next.rt_generation, next.expires_at, next.nonce.as_deref()), (Some(1), s + 500, Some("n")));
    assert_eq!(
        store.rotate_refresh(GrantKind::Code, &code.grant_id, "client-a", ISS, 0, s, s + 500).await.unwrap(),
        Rotation::Stale
    );
    assert_eq!(
        store.rotate_refresh(GrantKind::Code, &code.grant_id, "client-b", ISS, 1, s, s + 500).await.unwrap(),
        Rotation::Invalid
    );
    assert_eq!(
        store.rotate_refresh(GrantKind::Code, &code.grant_id, "client-a", ISS, 1, s + 501, s + 900).await.unwrap(),
        Rotation::Invalid,
        "expired"
    );
    store.revoke_family(GrantKind::Code, &code.grant_id, now).await.unwrap();
    assert!(store.family(GrantKind::Code, &code.grant_id).await.unwrap().unwrap().revoked);
    assert_eq!(
        store.rotate_refresh(GrantKind::Code, &code.grant_id, "client-a", ISS, 1, s, s + 500).await.unwrap(),
        Rotation::Invalid
    );
    store.revoke_family(GrantKind::Device, "no-such-grant", now).await.unwrap();

    // Device grants carry the same family.
    let dg = approved_grant(store, s).await;
    assert!(redeems(store, &dg.grant_id, now).await.unwrap());
    let family = store.family(GrantKind::Device, &dg.grant_id).await.unwrap().unwrap();
    assert_eq!((family.rt_generation, family.client_id.as_str(), family.revoked), (Some(0), "client-a", false));
    assert!(matches!(
        store.rotate_refresh(GrantKind::Device, &dg.grant_id, "client-a", ISS, 0, s, s + 500).await.unwrap(),
        Rotation::Rotated(_)
    ));
}

fn counter(below: Option<u32>) -> Counter {
    Counter { key: unique("counter"), expires_at: 1_800_000_900, below }
}

/// The entry of a live code, tried on a fresh flow with no limits (a test's lookup).
async fn live_code(store: &dyn Store, env: &str, hash: &str) -> Option<UserCodeEntry> {
    let f = flow(env, 1_800_000_000_000);
    let attempt = UserCodeAttempt {
        fresh: &f,
        user_code_hash: hash,
        application_id: None,
        flow_below: 100,
        counters: &[],
        now_ms: 1_800_000_000_000,
    };
    match store.attempt_user_code(&attempt).await.unwrap() {
        UserCodeOutcome::Found { entry, .. } => Some(entry),
        _ => None,
    }
}

/// The sign-on read (user and counts at once) and the sign-on write under limits: it counts
/// nothing, writes nothing when a limit or the flow's state refuses, and answers the flow as it
/// is stored, whatever flow the caller expected.
async fn sign_on_under_limits(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    store.put_user(&User::new(&env, "u1", "Demo", Some("$argon2id$...".into()))).await.unwrap();
    let (limited, plain) = (counter(Some(2)), counter(None));
    let limits = [limited.clone(), plain.clone()];
    assert_eq!(store.reserve(&limits).await.unwrap(), Counted::Counted);
    let lookup = store.sign_on_lookup(&env, "DEMO", &limits).await.unwrap();
    assert_eq!((lookup.user.map(|u| u.id), lookup.counts), (Some("u1".to_owned()), vec![1, 1]));
    let unknown = store.sign_on_lookup(&env, "nobody", &[counter(Some(1))]).await.unwrap();
    assert!(unknown.user.is_none() && unknown.counts == [0], "{unknown:?}");

    let within = |expected: &FlowRecord, user: &FlowUser| {
        let (expected, user, limits) = (expected.clone(), user.clone(), limits.clone());
        async move { store.sign_on_flow_within(&expected, &user, now, now + 900_000, &limits).await.unwrap() }
    };
    let stored = |id: String| async move { store.get_flow(&id).await.unwrap() };
    // A flow never stored.
    let f = flow(&env, now);
    let SignOnWrite::Written(signed) = within(&f, &flow_user()).await else { panic!("sign-on of a fresh flow") };
    assert_eq!(signed.user, Some(flow_user()));
    assert_eq!(Some(&signed), stored(f.flow_id.clone()).await.as_ref(), "answers the flow as stored");
    let counts = store.sign_on_lookup(&env, "demo", &limits).await.unwrap().counts;
    assert_eq!(counts, [1, 1], "a sign-on counts nothing");
    assert_eq!(within(&f, &flow_user()).await, SignOnWrite::Written(signed.clone()), "the same sign-on, sent again");
    let other = FlowUser { session_id: "s2".into(), ..flow_user() };
    assert_eq!(within(&f, &other).await, SignOnWrite::Conflict(Some(signed)), "signed on already");

    // Stored by a wrong code and a device, but expected as started: the store finds out.
    let (g, u) = grant(&env, now / 1000);
    store.create_device_grant(&g, &u, now / 1000, &[]).await.unwrap();
    let early = flow(&env, now);
    let wrong = UserCodeAttempt {
        fresh: &early,
        user_code_hash: "no-such-hash",
        application_id: None,
        flow_below: 5,
        counters: &[],
        now_ms: now,
    };
    assert_eq!(store.attempt_user_code(&wrong).await.unwrap(), UserCodeOutcome::Wrong);
    let FlowWrite::Written(verified) =
        store.verify_flow_device(&early, &device_of(&g), now, now + 900_000).await.unwrap()
    else {
        panic!("verify");
    };
    let pending = FlowUser { must_change_password: true, ..flow_user() };
    let SignOnWrite::Written(both) = within(&early, &pending).await else { panic!("sign-on after a code") };
    assert_eq!((both.code_failures, both.device.clone(), both.password_change_pending()), (1, verified.device, true));
    assert_eq!(Some(&both), stored(early.flow_id.clone()).await.as_ref());

    // At a limit: nothing written, and the flow's state is judged first.
    assert_eq!(store.reserve(&limits).await.unwrap(), Counted::Counted);
    let refused = flow(&env, now);
    assert_eq!(within(&refused, &flow_user()).await, SignOnWrite::Limited(vec![0]));
    assert_eq!(stored(refused.flow_id.clone()).await, None, "a refused sign-on stores nothing");
    assert!(matches!(within(&f, &other).await, SignOnWrite::Conflict(Some(_))));
}

/// A code the browser holds (`flows::verified`): the try finds it on the flow exactly as stored,
/// whatever the caller expected, and consent writes its grant on the flow with the decision, on
/// a signed-on flow only, once.
async fn held_code_is_decided_with_its_grant(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let (g, u) = grant(&env, now / 1000);
    store.create_device_grant(&g, &u, now / 1000, &[]).await.unwrap();
    let started = flow(&env, now);
    fn try_on<'a>(expected: &'a FlowRecord, hash: &'a str, now_ms: i64) -> UserCodeAttempt<'a> {
        UserCodeAttempt {
            fresh: expected,
            user_code_hash: hash,
            application_id: None,
            flow_below: 5,
            counters: &[],
            now_ms,
        }
    }
    let found_on = |outcome: UserCodeOutcome| match outcome {
        UserCodeOutcome::Found { entry, flow } => {
            assert_eq!(entry, u);
            *flow
        }
        other => panic!("the live code is found, got {other:?}"),
    };
    let device = device_of(&g);
    let held = FlowRecord { device: Some(device.clone()), ..started.clone() };
    let decision = Decision { approved: true, subject: subject(), decided_ms: now };
    assert_eq!(
        store.decide_flow_device(&held, &decision, now, now + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::FlowConflict,
        "a flow nobody signed on to takes no consent"
    );
    let FlowWrite::Written(signed) = store.sign_on_flow(&started, &flow_user(), now, now + 900_000).await.unwrap()
    else {
        panic!("sign-on");
    };
    // Expected as started (a stale expectation) or as stored: the try answers the stored flow.
    assert_eq!(found_on(store.attempt_user_code(&try_on(&started, &u.user_code_hash, now)).await.unwrap()), signed);
    assert_eq!(found_on(store.attempt_user_code(&try_on(&signed, &u.user_code_hash, now)).await.unwrap()), signed);
    assert_eq!(store.get_flow(&started.flow_id).await.unwrap(), Some(signed.clone()), "a found code writes nothing");

    let held = FlowRecord { device: Some(device.clone()), ..signed };
    assert_eq!(
        store.decide_flow_device(&held, &decision, now + 1, now + 900_001, &REDEMPTION).await.unwrap(),
        ConsentWrite::Written
    );
    let decided = store.get_flow(&started.flow_id).await.unwrap().expect("stored");
    assert_eq!((decided.device, decided.consent, decided.expires_ms), (Some(device), Some(true), now + 900_001));
    assert_eq!(
        store.decide_flow_device(&held, &decision, now + 2, now + 900_002, &REDEMPTION).await.unwrap(),
        ConsentWrite::FlowConflict,
        "once"
    );
    let PollRecord::Recorded(approved) =
        store.record_poll(&g.grant_id, "client-a", ISS, now + 3, 10, &unique("poll")).await.unwrap()
    else {
        panic!("poll");
    };
    assert_eq!(approved.decision.map(|d| d.approved), Some(true));
}

async fn guessing_counters_and_consents(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let (g, u) = grant(&env, now / 1000);
    store.create_device_grant(&g, &u, now / 1000, &[]).await.unwrap();
    let f = flow(&env, now);
    let (network, environment) = (counter(Some(3)), counter(None));
    let counters = [network.clone(), environment.clone()];
    let attempt = |hash: &'static str| UserCodeAttempt {
        fresh: &f,
        user_code_hash: hash,
        application_id: None,
        flow_below: 5,
        counters: &counters,
        now_ms: now,
    };

    // A live code is found and counts nothing; a wrong one is counted on the flow and counters.
    let right = UserCodeAttempt { user_code_hash: &u.user_code_hash, ..attempt("") };
    let found = UserCodeOutcome::Found { entry: u.clone(), flow: Box::new(f.clone()) };
    assert_eq!(store.attempt_user_code(&right).await.unwrap(), found, "tried on the flow as started");
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap(), None, "a live code stores nothing");
    let of_other_app = UserCodeAttempt { application_id: Some("client-b"), ..right };
    assert_eq!(store.attempt_user_code(&of_other_app).await.unwrap(), UserCodeOutcome::Wrong, "another app's code");
    assert_eq!(store.attempt_user_code(&attempt("no-such-hash")).await.unwrap(), UserCodeOutcome::Wrong);
    let failed_flow = store.get_flow(&f.flow_id).await.unwrap().expect("a failure stores the flow");
    assert_eq!(failed_flow.code_failures, 2);
    assert_eq!((failed_flow.created_ms, failed_flow.expires_ms, failed_flow.user.as_ref()), (now, f.expires_ms, None));
    // The network counter (limit 3) has 2: one more, then refusals that change nothing, even
    // for the right code.
    assert_eq!(store.attempt_user_code(&attempt("no-such-hash")).await.unwrap(), UserCodeOutcome::Wrong);
    for hash in ["no-such-hash", u.user_code_hash.as_str()] {
        let refused = store.attempt_user_code(&UserCodeAttempt { user_code_hash: hash, ..attempt("") }).await.unwrap();
        assert_eq!(refused, UserCodeOutcome::Refused { flow: None, counters: vec![0] }, "{hash}");
    }
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap().unwrap().code_failures, 3);
    // The flow's own limit.
    let fresh_counters = [counter(None)];
    let at_flow_limit = UserCodeAttempt { flow_below: 3, counters: &fresh_counters, ..attempt("x") };
    match store.attempt_user_code(&at_flow_limit).await.unwrap() {
        UserCodeOutcome::Refused { flow: Some(flow), counters } => {
            assert_eq!((flow.code_failures, counters.len()), (3, 0));
        }
        other => panic!("the flow's limit refuses, got {other:?}"),
    }

    // Reservations: counted while below the limits, refused (changing nothing) at them, released.
    let limited = [counter(Some(2)), counter(None)];
    assert_eq!(store.reserve(&limited).await.unwrap(), Counted::Counted);
    assert_eq!(store.reserve(&limited).await.unwrap(), Counted::Counted);
    assert_eq!(store.reserve(&limited).await.unwrap(), Counted::Refused(vec![0]));
    store.release(&limited).await.unwrap();
    assert_eq!(store.reserve(&limited).await.unwrap(), Counted::Counted, "a release makes room");

    // The flow stored by failures still takes the sign-on and the code.
    assert!(matches!(store.sign_on_flow(&f, &flow_user(), now, now + 900_000).await.unwrap(), FlowWrite::Written(_)));
    let FlowWrite::Written(v) = store.verify_flow_device(&f, &device_of(&g), now, now + 900_000).await.unwrap() else {
        panic!("verify after failures");
    };
    assert_eq!(v.code_failures, 3);
    // A flow with a device takes no more codes: the refusal carries the flow as it stands.
    match store.attempt_user_code(&UserCodeAttempt { counters: &[], ..attempt("x") }).await.unwrap() {
        UserCodeOutcome::Refused { flow: Some(done), .. } => assert!(done.device.is_some()),
        other => panic!("a flow with a device refuses codes, got {other:?}"),
    }

    // Approval is remembered (scopes add up); denial is not; revocation forgets and revokes the
    // families issued under the consent.
    assert_eq!(store.find_consent(&env, "u1", "client-a").await.unwrap(), Vec::<String>::new());
    let approve = Decision { approved: true, subject: subject(), decided_ms: now };
    assert_eq!(
        store.decide_flow_device(&v, &approve, now, now + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::Written
    );
    assert_eq!(store.find_consent(&env, "u1", "client-a").await.unwrap(), ["openid"]);
    let (mut g2, mut u2) = grant(&env, now / 1000);
    g2.scopes = vec!["email".into(), "openid".into()];
    u2.scopes = g2.scopes.clone();
    store.create_device_grant(&g2, &u2, now / 1000, &[]).await.unwrap();
    let f2 = flow(&env, now);
    store.sign_on_flow(&f2, &flow_user(), now, now + 900_000).await.unwrap();
    let FlowWrite::Written(v2) = store.verify_flow_device(&f2, &device_of(&g2), now, now + 900_000).await.unwrap()
    else {
        panic!("verify");
    };
    store.decide_flow_device(&v2, &approve, now, now + 900_000, &REDEMPTION).await.unwrap();
    assert_eq!(store.find_consent(&env, "u1", "client-a").await.unwrap(), ["email", "openid"]);
    let listed = store.list_consents(&env, "u1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].client_id.as_str(), listed[0].scopes.len()), ("client-a", 2));
    assert!(redeems(store, &g.grant_id, now).await.unwrap());
    assert!(!store.family(GrantKind::Device, &g.grant_id).await.unwrap().unwrap().revoked);
    store.revoke_consent(&env, "u1", "client-a", now).await.unwrap();
    assert!(store.find_consent(&env, "u1", "client-a").await.unwrap().is_empty());
    assert!(store.list_consents(&env, "u1").await.unwrap().is_empty());
    assert!(store.family(GrantKind::Device, &g.grant_id).await.unwrap().unwrap().revoked, "tokens under it revoked");
}

async fn sessions_and_revoked_tokens(store: &dyn Store) {
    let env = unique("env");
    let user = User::new(&env, "u1", "demo", Some("$argon2id$...".into()));
    store.put_user(&user).await.unwrap();
    assert_eq!(store.session_user(&env, "u1", "s1").await.unwrap().map(|u| u.id), Some("u1".into()));
    assert!(store.session_user(&env, "nobody", "s1").await.unwrap().is_none());
    store.end_session(&env, "s1", 1_900_000_000).await.unwrap();
    assert!(store.session_user(&env, "u1", "s1").await.unwrap().is_none(), "an ended session has no user");
    assert!(store.session_user(&env, "u1", "s2").await.unwrap().is_some(), "other sessions stand");
    assert!(store.session_user(&unique("env"), "u1", "s1").await.unwrap().is_none());

    let jti = unique("jti");
    assert!(!store.token_revoked(&jti).await.unwrap());
    store.revoke_token(&jti, 1_900_000_000).await.unwrap();
    assert!(store.token_revoked(&jti).await.unwrap());
}

async fn client_assertions_are_single_use(store: Arc<dyn Store>) {
    let now = 1_800_000_000;
    let key = unique("assertion");
    assert!(store.claim_assertion(&key, now + 60, now).await.unwrap(), "the first use");
    assert!(!store.claim_assertion(&key, now + 60, now + 30).await.unwrap(), "a replay while unexpired");
    assert!(!store.claim_assertion(&key, now + 60, now + 60).await.unwrap(), "up to its expiry");
    assert!(store.claim_assertion(&unique("assertion"), now + 60, now).await.unwrap(), "another jti");
    // After the expiry (a lingering item before the TTL sweep counts for nothing) the jti is free:
    // the assertion itself can no longer pass its `exp` check by then.
    assert!(store.claim_assertion(&key, now + 200, now + 61).await.unwrap(), "an expired use is forgotten");
    assert!(!store.claim_assertion(&key, now + 200, now + 62).await.unwrap());
    // Many at once: exactly one wins.
    let key = unique("assertion");
    let racers = (0..16).map(|_| {
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(async move { store.claim_assertion(&key, now + 60, now).await.unwrap() })
    });
    let wins = futures_count(racers).await;
    assert_eq!(wins, 1, "16 concurrent uses of one assertion: one wins");
}

async fn futures_count(tasks: impl Iterator<Item = tokio::task::JoinHandle<bool>>) -> usize {
    let mut wins = 0;
    for task in tasks.collect::<Vec<_>>() {
        wins += usize::from(task.await.unwrap());
    }
    wins
}

async fn device_authorization_counters(store: &dyn Store) {
    let now_s = 1_800_000_000;
    let env = unique("env");
    let limit = [counter(Some(2)), counter(Some(100))];
    for _ in 0..2 {
        let (g, u) = grant(&env, now_s);
        assert_eq!(store.create_device_grant(&g, &u, now_s, &limit).await.unwrap(), Created::Created);
    }
    let (g, u) = grant(&env, now_s);
    assert_eq!(store.create_device_grant(&g, &u, now_s, &limit).await.unwrap(), Created::Limited(vec![0]));
    assert_eq!(
        store.record_poll(&g.grant_id, "client-a", ISS, 1, 10, &unique("poll")).await.unwrap(),
        PollRecord::Unknown
    );
    assert_eq!(live_code(store, &env, &u.user_code_hash).await, None, "a limited request writes nothing");
}

async fn directory(store: &dyn Store) {
    let env = unique("env");
    let mut app = Application::new(&env, "client-b", "B");
    app.grant_types = vec![GrantType::DeviceCode, GrantType::RefreshToken];
    store.put_application(&app).await.unwrap();
    store.put_application(&Application::new(&env, "client-a", "A")).await.unwrap();
    store.put_application(&Application::new(&unique("env"), "client-c", "C")).await.unwrap();
    let apps = store.list_applications(&env).await.unwrap();
    let ids: Vec<&str> = apps.iter().map(|a| a.client_id.as_str()).collect();
    assert_eq!(ids, ["client-a", "client-b"], "applications of one environment, by client id");
    assert_eq!(apps[1].grant_types, app.grant_types);

    let mut user = User::new(&env, "u1", "Demo", Some("$argon2id$...".into()));
    user.email = Some("demo@example.com".into());
    store.put_user(&user).await.unwrap();
    let found = store.find_user(&env, "DEMO").await.unwrap().expect("usernames match case-insensitively");
    assert_eq!(found.id, "u1");
    assert!(store.find_user(&env, "nobody").await.unwrap().is_none());
    assert!(store.find_user(&unique("env"), "demo").await.unwrap().is_none());
}

async fn device_grant_lifecycle(store: &dyn Store) {
    let now_s = 1_800_000_000;
    let env = unique("env");
    let (g, u) = grant(&env, now_s);
    assert_eq!(store.create_device_grant(&g, &u, now_s, &[]).await.unwrap(), Created::Created);
    assert_eq!(live_code(store, &env, &u.user_code_hash).await, Some(u.clone()));
    assert_eq!(live_code(store, &unique("env"), &u.user_code_hash).await, None);
    assert_eq!(
        store.record_poll(&g.grant_id, "client-a", "https://other", now_s * 1000, 100, &unique("poll")).await.unwrap(),
        PollRecord::Unknown,
        "a device code redeems only at its own issuer"
    );

    let polled =
        match store.record_poll(&g.grant_id, "client-a", ISS, now_s * 1000 + 10, 100, &unique("poll")).await.unwrap() {
            PollRecord::Recorded(p) => p,
            other => panic!("poll of a live grant must be recorded, got {other:?}"),
        };
    assert_eq!(polled.polls, vec![now_s * 1000 + 10]);
    assert_eq!(polled.decision, None);
    assert_eq!(
        store.record_poll(&g.grant_id, "client-x", ISS, now_s * 1000, 100, &unique("poll")).await.unwrap(),
        PollRecord::Unknown
    );
    assert_eq!(
        store.record_poll("missing", "client-a", ISS, now_s * 1000, 100, &unique("poll")).await.unwrap(),
        PollRecord::Unknown
    );

    // Not approved yet: a poll claims the redemption, but approval will free it.
    assert!(polled.winner.is_some() && !polled.redeemed());
    assert!(!redeems(store, &g.grant_id, now_s * 1000).await.unwrap());

    let mut f = flow(&env, now_s * 1000);
    let FlowWrite::Written(signed) =
        store.sign_on_flow(&f, &flow_user(), now_s * 1000, now_s * 1000 + 900_000).await.unwrap()
    else {
        panic!("sign-on of a fresh flow must be written");
    };
    let FlowWrite::Written(verified) =
        store.verify_flow_device(&signed, &device_of(&g), now_s * 1000, now_s * 1000 + 900_000).await.unwrap()
    else {
        panic!("device of a signed-on flow must be written");
    };
    let decision = Decision { approved: true, subject: subject(), decided_ms: now_s * 1000 + 20 };
    assert_eq!(
        store
            .decide_flow_device(&verified, &decision, now_s * 1000, now_s * 1000 + 900_000, &REDEMPTION)
            .await
            .unwrap(),
        ConsentWrite::Written
    );
    f.flow_id = verified.flow_id.clone();
    let stored = store.get_flow(&f.flow_id).await.unwrap().unwrap();
    assert_eq!(stored.consent, Some(true));

    let PollRecord::Recorded(approved) =
        store.record_poll(&g.grant_id, "client-a", ISS, now_s * 1000 + 30, 100, &unique("poll")).await.unwrap()
    else {
        panic!("poll after approval must be recorded");
    };
    assert_eq!(approved.decision, Some(decision));
    assert!(approved.redeemed(), "the first poll after approval redeems");
    assert!(!redeems(store, &g.grant_id, now_s * 1000 + 41).await.unwrap(), "single use");
    let PollRecord::Recorded(redeemed) =
        store.record_poll(&g.grant_id, "client-a", ISS, now_s * 1000 + 50, 100, &unique("poll")).await.unwrap()
    else {
        panic!("poll after redemption is still recorded");
    };
    assert_eq!(redeemed.winner, approved.winner, "the redeeming poll stays the winner");
    assert_eq!(redeemed.rt_generation, Some(0), "a refresh token family starts at generation 0");
    assert_eq!(redeemed.expires_at, g.expires_at, "the codes die when they did");
    assert_eq!(redeemed.retained_until(), REDEMPTION.keep_until, "kept as long as its refresh token");
}

async fn user_codes_are_unique_while_live(store: &dyn Store) {
    let now_s = 1_800_000_000;
    let env = unique("env");
    let (g1, u1) = grant(&env, now_s);
    assert_eq!(store.create_device_grant(&g1, &u1, now_s, &[]).await.unwrap(), Created::Created);
    let (g2, mut u2) = grant(&env, now_s);
    u2.user_code_hash = u1.user_code_hash.clone();
    assert_eq!(store.create_device_grant(&g2, &u2, now_s, &[]).await.unwrap(), Created::UserCodeTaken);
    assert_eq!(
        store.record_poll(&g2.grant_id, "client-a", ISS, now_s * 1000, 10, &unique("poll")).await.unwrap(),
        PollRecord::Unknown,
        "a refused grant leaves nothing behind"
    );
    // Once the first grant has expired its code may be drawn again, even before TTL removes it.
    let later = g1.expires_at + 1;
    assert_eq!(store.create_device_grant(&g2, &u2, later, &[]).await.unwrap(), Created::Created);
    assert_eq!(live_code(store, &env, &u1.user_code_hash).await.unwrap().grant_id, g2.grant_id);
    // The same hash in another environment is another code.
    let (g3, mut u3) = grant(&unique("env"), now_s);
    u3.user_code_hash = u1.user_code_hash.clone();
    assert_eq!(store.create_device_grant(&g3, &u3, now_s, &[]).await.unwrap(), Created::Created);
}

async fn poll_log_is_bounded_and_client_bound(store: &dyn Store) {
    let now_s = 1_800_000_000;
    let (g, u) = grant(&unique("env"), now_s);
    store.create_device_grant(&g, &u, now_s, &[]).await.unwrap();
    for i in 0..3 {
        assert!(matches!(
            store.record_poll(&g.grant_id, "client-a", ISS, i, 3, &unique("poll")).await.unwrap(),
            PollRecord::Recorded(_)
        ));
    }
    match store.record_poll(&g.grant_id, "client-a", ISS, 99, 3, &unique("poll")).await.unwrap() {
        PollRecord::LogFull(full) => assert_eq!(full.polls, vec![0, 1, 2]),
        other => panic!("a full log must refuse the poll, got {other:?}"),
    }
    assert_eq!(
        store.record_poll(&g.grant_id, "client-b", ISS, 99, 3, &unique("poll")).await.unwrap(),
        PollRecord::Unknown
    );
}

async fn flow_lifecycle(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let f = flow(&env, now);
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap(), None);
    let (g, u) = grant(&env, now / 1000);
    store.create_device_grant(&g, &u, now / 1000, &[]).await.unwrap();
    // A code may come before sign-on: the device step stores a fresh flow.
    let early = flow(&env, now);
    let FlowWrite::Written(code_first) =
        store.verify_flow_device(&early, &device_of(&g), now, now + 900_000).await.unwrap()
    else {
        panic!("device step on a fresh flow");
    };
    assert_eq!((code_first.user.as_ref(), code_first.device.as_ref()), (None, Some(&device_of(&g))));
    assert_eq!(code_first.application_id.as_deref(), Some("client-a"));
    let FlowWrite::Written(both) = store.sign_on_flow(&early, &flow_user(), now + 1, now + 900_001).await.unwrap()
    else {
        panic!("sign-on after the code");
    };
    assert_eq!((both.user, both.device, both.created_ms), (Some(flow_user()), Some(device_of(&g)), now));

    let FlowWrite::Written(signed) = store.sign_on_flow(&f, &flow_user(), now, now + 900_000).await.unwrap() else {
        panic!("fresh flow");
    };
    assert_eq!(signed.user, Some(flow_user()));
    assert_eq!(signed.application_id.as_deref(), Some("client-a"));
    assert_eq!(signed.created_ms, now);
    assert_eq!(store.get_flow(&f.flow_id).await.unwrap(), Some(signed.clone()));
    // A second sign-on on the same flow is refused and reports the flow as it stands.
    match store.sign_on_flow(&f, &flow_user(), now + 1, now + 900_001).await.unwrap() {
        FlowWrite::Conflict(Some(current)) => assert_eq!(current, signed),
        other => panic!("second sign-on must conflict, got {other:?}"),
    }
    // An expired flow refuses the device step.
    assert!(matches!(
        store.verify_flow_device(&f, &device_of(&g), now + 900_000, now + 1_800_000).await.unwrap(),
        FlowWrite::Conflict(Some(_))
    ));
    let FlowWrite::Written(verified) =
        store.verify_flow_device(&f, &device_of(&g), now + 10, now + 900_010).await.unwrap()
    else {
        panic!("device step");
    };
    assert_eq!(verified.device, Some(device_of(&g)));
    assert_eq!(verified.expires_ms, now + 900_010);
    assert!(
        matches!(
            store.verify_flow_device(&f, &device_of(&g), now + 11, now + 900_011).await.unwrap(),
            FlowWrite::Conflict(Some(_))
        ),
        "device only once"
    );

    let deny = Decision { approved: false, subject: subject(), decided_ms: now + 20 };
    assert_eq!(
        store.decide_flow_device(&verified, &deny, now + 20, now + 900_020, &REDEMPTION).await.unwrap(),
        ConsentWrite::Written
    );
    assert_eq!(
        store.decide_flow_device(&verified, &deny, now + 21, now + 900_021, &REDEMPTION).await.unwrap(),
        ConsentWrite::FlowConflict,
        "consent only once"
    );
    let PollRecord::Recorded(denied) =
        store.record_poll(&g.grant_id, "client-a", ISS, now + 30, 10, &unique("poll")).await.unwrap()
    else {
        panic!("poll");
    };
    assert_eq!(denied.decision.as_ref().map(|d| d.approved), Some(false));
    assert!(!denied.redeemed(), "a denied grant is never redeemed");
    assert_eq!(denied.retained_until(), g.expires_at, "a denial keeps nothing longer");
}

async fn consent_fails_on_closed_grant(store: &dyn Store) {
    let now = 1_800_000_000_000;
    let env = unique("env");
    let (g, u) = grant(&env, now / 1000);
    store.create_device_grant(&g, &u, now / 1000, &[]).await.unwrap();
    let decision = Decision { approved: true, subject: subject(), decided_ms: now };
    // Two flows verified the same code; the first consent closes the grant for the second.
    let mut flows = Vec::new();
    for _ in 0..2 {
        let f = flow(&env, now);
        store.sign_on_flow(&f, &flow_user(), now, now + 900_000).await.unwrap();
        let FlowWrite::Written(v) = store.verify_flow_device(&f, &device_of(&g), now, now + 900_000).await.unwrap()
        else {
            panic!("verify");
        };
        flows.push(v);
    }
    assert_eq!(
        store.decide_flow_device(&flows[0], &decision, now, now + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::Written
    );
    assert_eq!(
        store.decide_flow_device(&flows[1], &decision, now, now + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::GrantClosed
    );
    assert_eq!(
        store.get_flow(&flows[1].flow_id).await.unwrap().unwrap().consent,
        None,
        "a failed consent changes neither item"
    );
    // An expired grant cannot be decided.
    let (g2, u2) = grant(&env, now / 1000);
    store.create_device_grant(&g2, &u2, now / 1000, &[]).await.unwrap();
    let f = flow(&env, now);
    store.sign_on_flow(&f, &flow_user(), now, now + 2_000_000).await.unwrap();
    let FlowWrite::Written(v) = store.verify_flow_device(&f, &device_of(&g2), now, now + 2_000_000).await.unwrap()
    else {
        panic!("verify");
    };
    let late = (g2.expires_at + 1) * 1000;
    assert_eq!(
        store.decide_flow_device(&v, &decision, late, late + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::GrantClosed
    );
}

async fn approved_grant(store: &dyn Store, now_s: i64) -> DeviceGrant {
    let env = unique("env");
    let (g, u) = grant(&env, now_s);
    store.create_device_grant(&g, &u, now_s, &[]).await.unwrap();
    let f = flow(&env, now_s * 1000);
    store.sign_on_flow(&f, &flow_user(), now_s * 1000, now_s * 1000 + 900_000).await.unwrap();
    let FlowWrite::Written(v) =
        store.verify_flow_device(&f, &device_of(&g), now_s * 1000, now_s * 1000 + 900_000).await.unwrap()
    else {
        panic!("verify");
    };
    let decision = Decision { approved: true, subject: subject(), decided_ms: now_s * 1000 };
    assert_eq!(
        store.decide_flow_device(&v, &decision, now_s * 1000, now_s * 1000 + 900_000, &REDEMPTION).await.unwrap(),
        ConsentWrite::Written
    );
    g
}

async fn concurrent_redemption_has_one_winner(store: Arc<dyn Store>) {
    let now_s = 1_800_000_000;
    let g = approved_grant(&*store, now_s).await;
    let racers = (0..16).map(|i| {
        let store = store.clone();
        let id = g.grant_id.clone();
        tokio::spawn(async move { redeems(&*store, &id, now_s * 1000 + i).await.unwrap() })
    });
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one of 16 concurrent polls after approval redeems");
}

async fn concurrent_polls_are_all_recorded(store: Arc<dyn Store>) {
    let now_s = 1_800_000_000;
    let (g, u) = grant(&unique("env"), now_s);
    store.create_device_grant(&g, &u, now_s, &[]).await.unwrap();
    let pollers = (0..16).map(|i| {
        let store = store.clone();
        let id = g.grant_id.clone();
        tokio::spawn(async move {
            store.record_poll(&id, "client-a", ISS, now_s * 1000 + i, 1000, &unique("poll")).await.unwrap()
        })
    });
    let mut lengths = Vec::new();
    for poller in pollers {
        match poller.await.unwrap() {
            PollRecord::Recorded(after) => lengths.push(after.polls.len()),
            other => panic!("poll refused: {other:?}"),
        }
    }
    lengths.sort_unstable();
    assert_eq!(lengths, (1..=16).collect::<Vec<_>>(), "every append is seen exactly once, none lost");
}
