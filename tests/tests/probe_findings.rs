//! Regression tests for the probe's other findings (`security/probe-2026-11-22.md`), on both
//! stores: password guessing (F4), what an unauthenticated caller may store (F5, F11),
//! introspection and missing client authentication (F7), codes a failed check does not spend and
//! dialects (F8, F10), error shapes, token revocation, sign-off and consent revocation (F10).

use blackbox::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use serde_json::json;
use shared::flows::guard::{ACCOUNT_NETWORK_MAX_FAILURES, SIGN_ON_NETWORK_MAX_FAILURES, SIGN_ON_WINDOW_S};
use shared::Dialect;

const LOGIN: &str = "usernamePassword.check";
const P1: Dialect = Dialect::PingOne;
const PF: Dialect = Dialect::PingFederate;

async fn sign_on(s: &TestServer, browser: &reqwest::Client, username: &str, password: &str) -> Answer {
    let flow = s.start_flow_in(browser, None).await;
    s.flow_action(&flow, LOGIN, json!({"username": username, "password": password})).await
}

fn assert_bad_credentials(a: &Answer) {
    assert_eq!((a.status, a.json["details"][0]["code"].as_str()), (400, Some("INVALID_CREDENTIALS")), "{a:?}");
}

fn assert_locked(a: &Answer) {
    assert_eq!((a.status, a.json["code"].as_str()), (400, Some("INVALID_DATA")), "{a:?}");
    assert_eq!(a.json["details"][0]["code"], "PASSWORD_LOCKED_OUT", "{a:?}");
    let wait = a.json["details"][0]["innerError"]["secondsUntilUnlock"].as_i64().unwrap();
    assert!(wait > 0 && wait <= SIGN_ON_WINDOW_S, "{a:?}");
}

/// F4: wrong passwords lock an account for the guessing network only; unknown and disabled users
/// answer alike; one network cannot spray passwords over many accounts.
async fn password_guessing(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let now_s = shared::clock::Clock::now_s(&*s.clock);
    s.advance_s(SIGN_ON_WINDOW_S - now_s.rem_euclid(SIGN_ON_WINDOW_S));
    let attacker = browser_from("127.0.30.1");
    for i in 0..ACCOUNT_NETWORK_MAX_FAILURES {
        assert_bad_credentials(&sign_on(&s, &attacker, "demo", &format!("guess{i}")).await);
    }
    assert_locked(&sign_on(&s, &attacker, "demo", "demo-password").await);
    // Unknown usernames are counted and answered alike.
    for i in 0..ACCOUNT_NETWORK_MAX_FAILURES {
        assert_bad_credentials(&sign_on(&s, &attacker, "nobody", &format!("guess{i}")).await);
    }
    assert_locked(&sign_on(&s, &attacker, "nobody", "whatever").await);
    // The person, on a network that has not failed, signs on: nobody locks a known name out.
    let person = browser_from("127.0.31.1");
    assert_eq!(sign_on(&s, &person, "demo", "demo-password").await.json["status"], "DAG_USER_CODE_REQUIRED");
    // A disabled user gets a wrong password's answer.
    let mut disabled = demo::user();
    disabled.username = "gone".into();
    disabled.id = "00000000-0000-4000-8000-0000000000e9".into();
    disabled.enabled = false;
    s.app.store.put_user(&disabled).await.unwrap();
    let answer = sign_on(&s, &person, "gone", "demo-password").await;
    assert_bad_credentials(&answer);
    let wrong = sign_on(&s, &person, "demo", "wrong").await;
    assert_eq!(
        (answer.json["message"].clone(), answer.json["details"].clone()),
        (wrong.json["message"].clone(), wrong.json["details"].clone())
    );
    // Spraying: one network, many accounts.
    let sprayer = browser_from("127.0.32.1");
    for i in 0..SIGN_ON_NETWORK_MAX_FAILURES {
        assert_bad_credentials(&sign_on(&s, &sprayer, &format!("user{i}"), "Password1").await);
    }
    let limited = sign_on(&s, &sprayer, "demo", "demo-password").await;
    assert_eq!((limited.status, limited.json["code"].as_str()), (429, Some("REQUEST_LIMITED")), "{limited:?}");
    // The lock lasts the window.
    s.advance_s(SIGN_ON_WINDOW_S);
    assert_eq!(sign_on(&s, &attacker, "demo", "demo-password").await.json["status"], "DAG_USER_CODE_REQUIRED");
    s.stop().await;
}

#[tokio::test]
async fn password_guessing_on_memory() {
    password_guessing(StoreKind::Memory).await;
}

#[tokio::test]
async fn password_guessing_on_dynamodb() {
    password_guessing(StoreKind::DynamoDb).await;
}

/// F4, at once: forty guesses of one account's password fired together from one network, the
/// right one among them. A sign-on checks the password before it counts, so every answer that
/// tells anything must have been judged within the limits: at most the account's limit for the
/// network of wrong-password answers, at most one success, and every other guess refused with
/// the locked-out answer, whether its password was right or not.
async fn simultaneous_password_guesses(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let now_s = shared::clock::Clock::now_s(&*s.clock);
    s.advance_s(SIGN_ON_WINDOW_S - now_s.rem_euclid(SIGN_ON_WINDOW_S));
    let attacker = browser_from("127.0.33.1");
    let mut flows = Vec::new();
    for _ in 0..40 {
        flows.push(s.start_flow_in(&attacker, None).await);
    }
    let guesses = flows.iter().enumerate().map(|(i, flow)| {
        let password = if i == 20 { "demo-password".to_owned() } else { format!("guess{i}") };
        s.flow_action_in(&attacker, flow, LOGIN, json!({"username": "demo", "password": password}))
    });
    let answers = futures::future::join_all(guesses).await;
    let code = |a: &Answer| a.json["details"][0]["code"].as_str().map(str::to_owned);
    let wrong = answers.iter().filter(|a| code(a).as_deref() == Some("INVALID_CREDENTIALS")).count();
    let locked = answers.iter().filter(|a| code(a).as_deref() == Some("PASSWORD_LOCKED_OUT")).count();
    let signed_on = answers.iter().filter(|a| a.status == 200).count();
    println!("{kind:?}: of 40 simultaneous guesses, {wrong} wrong, {signed_on} signed on, {locked} locked out");
    assert_eq!(wrong + locked + signed_on, 40, "only these answers: {answers:?}");
    assert!(wrong <= ACCOUNT_NETWORK_MAX_FAILURES as usize, "{wrong} wrong passwords were judged");
    assert!(wrong >= 1 && signed_on <= 1, "{wrong} wrong, {signed_on} signed on");
    // The account is now locked for this network, for the right password too.
    assert_locked(&sign_on(&s, &attacker, "demo", "demo-password").await);
    s.stop().await;
}

#[tokio::test]
async fn simultaneous_password_guesses_on_memory() {
    simultaneous_password_guesses(StoreKind::Memory).await;
}

#[tokio::test]
async fn simultaneous_password_guesses_on_dynamodb() {
    simultaneous_password_guesses(StoreKind::DynamoDb).await;
}

/// F5, F11: free parameters are bounded before anything is stored; device authorizations are
/// rate-limited per network; unknown environments do not pile up in the application cache.
async fn unauthenticated_callers_store_little(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    s.requests();
    let base = [("response_type", "code"), ("client_id", WEB_APP_ID), ("redirect_uri", demo::WEB_APP_REDIRECT_URI)];
    let big = "s".repeat(60_000);
    for (name, value, limit) in
        [("state", &big, 2048), ("nonce", &"n".repeat(513), 512), ("login_hint", &"h".repeat(321), 320)]
    {
        let mut query: Vec<(&str, &str)> = base.to_vec();
        query.push((name, value));
        if name != "state" {
            query.push(("state", "st"));
        }
        let response = s.authorize(P1, &query).await;
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(query_value(&location, "error").as_deref(), Some("invalid_request"), "{name}");
        let description = query_value(&location, "error_description").unwrap();
        assert!(description.contains(&limit.to_string()), "{description}");
        assert!(location.len() < 1000, "an oversized value is not echoed");
    }
    assert!(!s.requests().contains_key("create_flow"), "nothing was stored");

    // Device authorizations: 20 a minute from one network, then 429 with Retry-After.
    let device = |ip: &str| {
        let client = browser_from(ip);
        let url = s.device_authorization_url(P1);
        async move {
            let response =
                client.post(url).form(&[("client_id", DEVICE_APP_ID), ("scope", "openid")]).send().await.unwrap();
            Answer::read(response).await
        }
    };
    let now_s = shared::clock::Clock::now_s(&*s.clock);
    s.advance_s(60 - now_s.rem_euclid(60));
    for _ in 0..shared::config::DeviceAuthorizationLimits::default().per_network.unwrap() {
        assert_eq!(device("127.0.40.1").await.status, 200);
    }
    let limited = device("127.0.40.1").await;
    assert_eq!((limited.status, limited.json["error"].as_str()), (429, Some("temporarily_unavailable")), "{limited:?}");
    let retry: i64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(device("127.0.40.2").await.status, 200, "another network is not limited");
    s.advance_s(60);
    assert_eq!(device("127.0.40.1").await.status, 200, "a new minute");

    // Any UUID routes; the application cache keeps a bounded number of environments.
    let cached = s.app.cached_environments();
    for _ in 0..(shared::app::MAX_CACHED_ENVIRONMENTS + 50) {
        let env = uuid::Uuid::new_v4();
        let unknown = s.http.get(s.url(&format!("/{env}/device/tv"))).send().await.unwrap();
        assert_eq!(unknown.status(), 404);
    }
    assert!(s.app.cached_environments() > cached, "the lookups went through the cache");
    assert!(s.app.cached_environments() <= shared::app::MAX_CACHED_ENVIRONMENTS);
    s.stop().await;
}

#[tokio::test]
async fn unauthenticated_callers_store_little_on_memory() {
    unauthenticated_callers_store_little(StoreKind::Memory).await;
}

#[tokio::test]
async fn unauthenticated_callers_store_little_on_dynamodb() {
    unauthenticated_callers_store_little(StoreKind::DynamoDb).await;
}

/// F7, and two `Authorization` headers: introspection answers confidential clients only; no
/// client authentication is `invalid_client` everywhere.
async fn client_authentication(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let code = s.code_for(P1, WEB_APP_ID, "openid").await;
    let tokens = s.redeem(P1, Auth::Basic(WEB_APP_ID, WEB_APP_SECRET), &code).await;
    let introspect = s.url(&format!("/{ENV}/as/introspect"));
    let public = s.post_form(&introspect, Auth::Public(DEVICE_APP_ID), &[("token", &tokens.str("access_token"))]).await;
    public.assert_oauth_error(401, "invalid_client", "Invalid client or client credentials.");
    for url in [
        s.token_url(P1),
        introspect.clone(),
        s.url(&format!("/{ENV}/as/revoke")),
        s.device_authorization_url(P1),
        s.url("/as/token.oauth2"),
    ] {
        let nobody = s.post_form(&url, Auth::Public(""), &[("grant_type", "client_credentials"), ("token", "x")]).await;
        nobody.assert_oauth_error(401, "invalid_client", "Invalid client or client credentials.");
    }
    let basic = format!("Basic {}", base64_pair(WEB_APP_ID, WEB_APP_SECRET));
    let twice = s
        .http
        .post(s.token_url(P1))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(AUTHORIZATION, &basic)
        .header(AUTHORIZATION, "Basic Zm9vOmJhcg==")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    Answer::read(twice).await.assert_oauth_error(400, "invalid_request", "Send one Authorization header.");
    let userinfo = s
        .http
        .get(s.url(&format!("/{ENV}/as/userinfo")))
        .header(AUTHORIZATION, format!("Bearer {}", tokens.str("access_token")))
        .header(AUTHORIZATION, "Bearer other")
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 400);
    s.stop().await;
}

fn base64_pair(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

#[tokio::test]
async fn client_authentication_on_memory() {
    client_authentication(StoreKind::Memory).await;
}

#[tokio::test]
async fn client_authentication_on_dynamodb() {
    client_authentication(StoreKind::DynamoDb).await;
}

/// F8 and dialects: a redemption that fails a check spends nothing; a code redeems only at its
/// own dialect's token endpoint, a device code likewise.
/// Redeems `code` for the SPA at `dialect`'s token endpoint.
async fn redeem_spa(s: &TestServer, dialect: Dialect, code: &str, redirect: &str, verifier: Option<&str>) -> Answer {
    let mut fields = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect)];
    fields.extend(verifier.map(|v| ("code_verifier", v)));
    s.post_form(&s.token_url(dialect), Auth::Public(SPA_APP_ID), &fields).await
}

async fn failed_checks_spend_nothing(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let code = s.code_for(P1, SPA_APP_ID, "openid").await;
    let redirect = demo::WEB_APP_REDIRECT_URI;
    redeem_spa(&s, P1, &code, redirect, None).await.assert_oauth_error(
        400,
        "invalid_grant",
        "The code_verifier does not match the code_challenge.",
    );
    redeem_spa(&s, P1, &code, redirect, Some("a-wrong-verifier-a-wrong-verifier-a-wrong-verifier"))
        .await
        .assert_oauth_error(400, "invalid_grant", "The code_verifier does not match the code_challenge.");
    redeem_spa(&s, P1, &code, "http://127.0.0.1:8400/callback/", Some(PKCE_VERIFIER)).await.assert_oauth_error(
        400,
        "invalid_grant",
        "The redirect_uri does not match the authorization request.",
    );
    let elsewhere = redeem_spa(&s, PF, &code, redirect, Some(PKCE_VERIFIER)).await;
    assert_eq!(elsewhere.json["error"], "invalid_grant", "a PingOne code at PingFederate's endpoint: {elsewhere:?}");
    let tokens = redeem_spa(&s, P1, &code, redirect, Some(PKCE_VERIFIER)).await;
    assert_eq!(tokens.status, 200, "the right request still works: {tokens:?}");
    // Tokens are good only at their own issuer's endpoints.
    let at_pf = s
        .http
        .get(s.url("/idp/userinfo.openid"))
        .header(AUTHORIZATION, format!("Bearer {}", tokens.str("access_token")))
        .send()
        .await
        .unwrap();
    assert_eq!(at_pf.status(), 401);

    // A device code asked for at PingOne redeems at PingOne only.
    let device = Auth::Public(DEVICE_APP_ID);
    let grant = s.device_authorization(P1, device, "openid").await;
    s.approve(&grant.str("user_code"), true).await;
    s.advance_s(5);
    let crossed = s.poll(PF, device, &grant.str("device_code")).await;
    crossed.assert_oauth_error(400, "invalid_grant", "Device code not found, expired or invalid");
    s.advance_s(5);
    let own = s.poll(P1, device, &grant.str("device_code")).await;
    assert_eq!(own.status, 200, "{own:?}");
    let (_, claims) = verify_jwt(
        &own.str("access_token"),
        &s.http.get(s.jwks_url(P1)).send().await.unwrap().json().await.unwrap(),
        &s.issuer(P1),
        &s.issuer(P1),
    );
    assert_eq!(claims["iss"], s.issuer(P1));
    s.stop().await;
}

#[tokio::test]
async fn failed_checks_spend_nothing_on_memory() {
    failed_checks_spend_nothing(StoreKind::Memory).await;
}

#[tokio::test]
async fn failed_checks_spend_nothing_on_dynamodb() {
    failed_checks_spend_nothing(StoreKind::DynamoDb).await;
}

/// F10: error shapes at the edge of the flow API, no echo of long input, `nosniff` on JSON.
#[tokio::test]
async fn error_shapes() {
    let s = TestServer::start(StoreKind::Memory).await;
    let flow_url = s.url(&format!("/{ENV}/flows/x"));
    let put = s.http.put(&flow_url).send().await.unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET, HEAD, POST");
    let put = Answer::read(put).await;
    assert_eq!(put.json["code"], "METHOD_NOT_ALLOWED", "PingOne's shape: {put:?}");
    assert!(put.json["id"].is_string() && put.json.get("error").is_none());
    let large = s.http.post(&flow_url).header(CONTENT_TYPE, "application/json").body(vec![b' '; 70_000]).send().await;
    let large = Answer::read(large.unwrap()).await;
    assert_eq!((large.status, large.json["code"].as_str()), (413, Some("INVALID_REQUEST")), "{large:?}");
    let token_large = Answer::read(
        s.http
            .post(s.token_url(P1))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(vec![b'a'; 70_000])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((token_large.status, token_large.json["error"].as_str()), (413, Some("invalid_request")));
    let long = "g".repeat(60_000);
    let echoed = s.post_form(&s.token_url(P1), Auth::Basic(WEB_APP_ID, WEB_APP_SECRET), &[("grant_type", &long)]).await;
    echoed.assert_oauth_error(400, "unsupported_grant_type", "The grant type is not supported.");
    assert_eq!(echoed.header("x-content-type-options"), Some("nosniff"));
    s.stop().await;
}

/// F10: client credentials tokens can be revoked; signing off ends the session for good;
/// removing a remembered consent revokes the tokens issued under it.
async fn revocation_and_sign_off(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let worker = Auth::Basic(WORKER_APP_ID, WORKER_APP_SECRET);
    let cc = s.post_form(&s.token_url(P1), worker, &[("grant_type", "client_credentials")]).await;
    let introspect = s.url(&format!("/{ENV}/as/introspect"));
    let token = cc.str("access_token");
    assert_eq!(s.post_form(&introspect, worker, &[("token", &token)]).await.json["active"], true);
    assert_eq!(s.post_form(&s.url(&format!("/{ENV}/as/revoke")), worker, &[("token", &token)]).await.status, 200);
    assert_eq!(s.post_form(&introspect, worker, &[("token", &token)]).await.json, json!({"active": false}));

    // Sign-off: back to a registered URI with state; the old cookie signs nothing on any more.
    let person = browser();
    let flow = s.start_flow_in(&person, None).await;
    let login = s.flow_action(&flow, LOGIN, json!({"username": "demo", "password": "demo-password"})).await;
    let st = login.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let signoff = s.url(&format!("/{ENV}/as/signoff"));
    let refused = person.get(&signoff).query(&[("post_logout_redirect_uri", "https://evil.example/")]).send().await;
    assert_eq!(refused.unwrap().status(), 400, "an unregistered post_logout_redirect_uri is not followed");
    let out = person
        .get(&signoff)
        .query(&[("post_logout_redirect_uri", demo::WEB_APP_POST_LOGOUT_URI), ("state", "bye")])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 302);
    assert_eq!(out.headers()["location"], format!("{}?state=bye", demo::WEB_APP_POST_LOGOUT_URI));
    assert!(out.headers()["set-cookie"].to_str().unwrap().starts_with("ST=;"), "the cookie is expired");
    let replayed = browser();
    let start = replayed.get(s.url(&format!("/{ENV}/device"))).header(COOKIE, &st).send().await.unwrap();
    let again = TestServer::flow_of(&start);
    s.remember_flow(&again, &replayed);
    assert_eq!(
        s.get_flow(&again).await.json["status"],
        "USERNAME_PASSWORD_REQUIRED",
        "an ended session signs nothing on"
    );
    let page = Answer::read(person.get(&signoff).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "without a return URI: the signed-out page");

    // Removing a consent on the connected-apps page revokes what was issued under it.
    let device = Auth::Public(DEVICE_APP_ID);
    let grant = s.device_authorization(P1, device, "openid offline_access").await;
    let approver = browser();
    let flow = s.start_flow_in(&approver, None).await;
    s.flow_action(&flow, LOGIN, json!({"username": "demo", "password": "demo-password"})).await;
    s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": grant.str("user_code")})).await;
    s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    s.advance_s(5);
    let tokens = s.poll(P1, device, &grant.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let grants_url = s.url(&format!("/{ENV}/signon/grants"));
    let html = approver.get(&grants_url).send().await.unwrap().text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let removed =
        approver.post(&grants_url).form(&[("csrf", csrf.as_str()), ("client_id", DEVICE_APP_ID)]).send().await;
    assert_eq!(removed.unwrap().status(), 303);
    let refreshed = s
        .post_form(
            &s.token_url(P1),
            device,
            &[("grant_type", "refresh_token"), ("refresh_token", &tokens.str("refresh_token"))],
        )
        .await;
    refreshed.assert_oauth_error(400, "invalid_grant", "The refresh token is invalid, expired or revoked.");
    let userinfo = s
        .http
        .get(s.url(&format!("/{ENV}/as/userinfo")))
        .header(AUTHORIZATION, format!("Bearer {}", tokens.str("access_token")))
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401, "the access token is revoked too");
    s.stop().await;
}

#[tokio::test]
async fn revocation_and_sign_off_on_memory() {
    revocation_and_sign_off(StoreKind::Memory).await;
}

#[tokio::test]
async fn revocation_and_sign_off_on_dynamodb() {
    revocation_and_sign_off(StoreKind::DynamoDb).await;
}
