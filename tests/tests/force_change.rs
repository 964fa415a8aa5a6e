//! PingOne's `MUST_CHANGE_PASSWORD` step over HTTP, on both stores: a user whose password an admin
//! set with `forceChange: true` signs on, must change the password (`password.reset`) before
//! anything else proceeds, then goes on as after any sign-on; through the flow API and through the
//! hosted pages.

use blackbox::*;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use shared::clock::Clock;
use shared::store::{Applied, Expect, Record};
use shared::Dialect;

const OLD: &str = "demo-password";
const NEW: &str = "Changed-Passw0rd";
const WEAK: &str = "weakpass";

/// What an admin's `forceChange: true` leaves on the demo user (the management API's write).
async fn force_change(s: &TestServer) -> u64 {
    let old = s.app.store.find_user(ENV, "demo").await.unwrap().expect("the demo user");
    let mut updated = old.clone();
    updated.must_change_password = true;
    updated.revision = old.revision + 1;
    updated.updated_ms = s.clock.now_ms();
    let writes = Record::User(updated).replacing(Some(&Record::User(old.clone())), Expect::Revision(old.revision));
    assert_eq!(s.app.store.apply(&writes).await.unwrap(), Applied::Applied);
    old.revision + 1
}

fn sets_session(answer: &Answer) -> bool {
    answer.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap_or_default().starts_with("ST="))
}

fn assert_flow_error(answer: &Answer, status: u16, code: &str, detail: Option<(&str, &str)>) {
    assert_eq!((answer.status, answer.json["code"].as_str()), (status, Some(code)), "{answer:?}");
    if let Some((detail, target)) = detail {
        assert_eq!(answer.json["details"][0]["code"], detail, "{answer:?}");
        assert_eq!(answer.json["details"][0]["target"], target, "{answer:?}");
    }
}

async fn sign_on(s: &TestServer, flow: &str, password: &str) -> Answer {
    s.flow_action(flow, "usernamePassword.check", json!({"username": "demo", "password": password})).await
}

async fn reset(s: &TestServer, flow: &str, current: &str, new: &str) -> Answer {
    s.flow_action(flow, "password.reset", json!({"currentPassword": current, "newPassword": new})).await
}

async fn flow_api(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let revision = force_change(&s).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let grant = s.device_authorization(Dialect::PingOne, auth, "openid profile").await;
    let (user_code, device_code) = (grant.str("user_code"), grant.str("device_code"));

    // The right password leads to the change, not to a session.
    let flow = s.start_flow(None).await;
    let signed = sign_on(&s, &flow, OLD).await;
    assert_eq!((signed.status, signed.json["status"].as_str()), (200, Some("MUST_CHANGE_PASSWORD")), "{signed:?}");
    assert!(signed.json["_links"]["password.reset"]["href"].as_str().unwrap().ends_with(&format!("/flows/{flow}")));
    assert!(signed.json["_links"].get("deviceAuthGrant.userCode.verify").is_none());
    assert_eq!(signed.json["_embedded"]["user"]["username"], "demo");
    assert!(signed.json.get("session").is_none() && !sets_session(&signed), "no session before the change");
    let shown = s.get_flow(&flow).await;
    assert_eq!(shown.json["status"], "MUST_CHANGE_PASSWORD");
    assert_eq!(shown.json["_links"], signed.json["_links"]);

    // Nothing else proceeds meanwhile, and a second sign-on does not get round it.
    let verify = s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": user_code})).await;
    assert_flow_error(&verify, 400, "INVALID_REQUEST", None);
    assert!(verify.json["message"].as_str().unwrap().contains("MUST_CHANGE_PASSWORD"), "{verify:?}");
    let consent = s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_flow_error(&consent, 400, "INVALID_REQUEST", None);
    assert_flow_error(&sign_on(&s, &flow, OLD).await, 400, "INVALID_REQUEST", None);

    // Wrong current password; weak, missing or unchanged new one.
    let wrong = reset(&s, &flow, "not-the-password", NEW).await;
    assert_flow_error(&wrong, 400, "INVALID_DATA", Some(("INVALID_CREDENTIALS", "currentPassword")));
    let weak = reset(&s, &flow, OLD, WEAK).await;
    assert_flow_error(&weak, 400, "INVALID_DATA", Some(("INVALID_VALUE", "newPassword")));
    let message = weak.json["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("upper-case letter") && message.contains("digit"), "{message}");
    assert!(!message.contains("lower-case"), "only the unmet rules: {message}");
    let missing = s.flow_action(&flow, "password.reset", json!({"currentPassword": OLD})).await;
    assert_flow_error(&missing, 400, "INVALID_DATA", Some(("REQUIRED_VALUE", "newPassword")));
    assert_eq!(s.get_flow(&flow).await.json["status"], "MUST_CHANGE_PASSWORD", "refusals change nothing");
    let user = s.app.store.find_user(ENV, "demo").await.unwrap().unwrap();
    assert!(user.must_change_password && user.revision == revision);

    // The change: the user is written, the session begins, the device flow goes on.
    let changed = reset(&s, &flow, OLD, NEW).await;
    assert_eq!((changed.status, changed.json["status"].as_str()), (200, Some("DAG_USER_CODE_REQUIRED")), "{changed:?}");
    assert!(sets_session(&changed) && changed.json["session"]["id"].is_string(), "{changed:?}");
    let user = s.app.store.find_user(ENV, "demo").await.unwrap().unwrap();
    assert!(!user.must_change_password, "changed");
    assert_eq!((user.revision, user.password_changed_ms), (revision + 1, Some(s.clock.now_ms())));
    assert_flow_error(&reset(&s, &flow, NEW, "Another-Passw0rd").await, 400, "INVALID_REQUEST", None);
    let verify = s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": user_code})).await;
    assert_eq!(verify.json["status"], "DAG_CONSENT_REQUIRED", "{verify:?}");
    let consent = s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_eq!(consent.json["status"], "COMPLETED", "{consent:?}");
    s.advance_s(5);
    let tokens = s.poll(Dialect::PingOne, auth, &device_code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    assert!(tokens.json["access_token"].is_string() && tokens.json["id_token"].is_string());

    // Audited, without a password anywhere.
    let events = s.audit.take();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| format!("{} {:?}", serde_json::to_value(e.action.kind).unwrap().as_str().unwrap(), e.result.status))
        .collect();
    assert!(kinds.contains(&"PASSWORD.RESET Success".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"PASSWORD.RESET Failed".to_owned()), "{kinds:?}");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(OLD) && !all.contains(NEW) && !all.contains(WEAK), "no password in an audit event");

    // The old password is gone; the new one signs on and goes straight on.
    let again = s.start_flow(None).await;
    assert_flow_error(&sign_on(&s, &again, OLD).await, 400, "INVALID_DATA", Some(("INVALID_CREDENTIALS", "password")));
    let signed = sign_on(&s, &again, NEW).await;
    assert_eq!(signed.json["status"], "DAG_USER_CODE_REQUIRED", "{signed:?}");
    assert!(sets_session(&signed));
    assert_flow_error(&reset(&s, &again, NEW, "Another-Passw0rd").await, 400, "INVALID_REQUEST", None);
    s.stop().await;
}

/// An authorization request waits for the change too: `/as/resume` sends the browser back to the
/// sign-on pages until it is done, and then gives the code.
async fn code_flow(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    force_change(&s).await;
    let query = [
        ("response_type", "code"),
        ("client_id", WEB_APP_ID),
        ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let started = s.authorize(Dialect::PingOne, &query).await;
    assert_eq!(started.status(), 302);
    let flow = TestServer::flow_of(&started);
    assert_eq!(sign_on(&s, &flow, OLD).await.json["status"], "MUST_CHANGE_PASSWORD");
    let resume_url = s.url(&format!("/{ENV}/as/resume?flowId={flow}"));
    let early = s.browser_of(&flow).get(&resume_url).send().await.unwrap();
    let location = early.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/signon/?flowId=") && !location.contains("code="), "{location}");
    let changed = reset(&s, &flow, OLD, NEW).await;
    assert_eq!(changed.json["status"], "COMPLETED", "{changed:?}");
    let back = s.browser_of(&flow).get(&resume_url).send().await.unwrap();
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    let code = query_value(&location, "code").expect("a code once the password is changed");
    let tokens = s.redeem(Dialect::PingOne, Auth::Basic(WEB_APP_ID, WEB_APP_SECRET), &code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    s.stop().await;
}

/// The CSRF token of the form on a page.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"").nth(1).expect("a form with a CSRF token").split('"').next().unwrap().to_owned()
}

/// Posts a form of the sign-on page at `url` (with the page's CSRF token); the answer.
async fn post_step(person: &reqwest::Client, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = person.get(url).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&page);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    person.post(url).header(CONTENT_TYPE, "application/x-www-form-urlencoded").form(&form).send().await.unwrap()
}

fn session_cookie(response: &reqwest::Response) -> bool {
    response.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap_or_default().starts_with("ST="))
}

async fn pages(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    force_change(&s).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let grant = s.device_authorization(Dialect::PingOne, auth, "openid").await;
    let (user_code, device_code) = (grant.str("user_code"), grant.str("device_code"));

    let person = browser();
    let start = person.get(s.url(&format!("/{ENV}/device?user_code={user_code}"))).send().await.unwrap();
    let flow = TestServer::flow_of(&start);
    s.remember_flow(&flow, &person);
    let url = s.url(&format!("/{ENV}/signon/?flowId={flow}"));
    assert_eq!(post_step(&person, &url, &[("step", "code"), ("user_code", &user_code)]).await.status(), 303);
    let login = post_step(&person, &url, &[("step", "login"), ("username", "demo"), ("password", OLD)]).await;
    assert_eq!(login.status(), 303);
    assert!(!session_cookie(&login), "no session before the change");

    // The change page: three password fields, the rules, a CSRF token.
    let page = person.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<h1>Change your password</h1>"), "{html}");
    for field in ["current_password", "new_password", "confirm_password"] {
        assert!(html.contains(&format!("type=\"password\" id=\"{field}\" name=\"{field}\"")), "{field}: {html}");
    }
    assert!(html.contains("<li>8 to 255 characters</li>") && html.contains("<li>a digit (0-9)</li>"), "{html}");
    assert!(!html.contains("Allow this device?"), "nothing of the device request yet");
    assert_eq!(s.get_flow(&flow).await.json["status"], "MUST_CHANGE_PASSWORD");

    // Errors are shown on the page, which asks again.
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let (person, url) = (person.clone(), url.clone());
        async move {
            let fields = [
                ("step", "password"),
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ];
            post_step(&person, &url, &fields).await
        }
    };
    for (current, new, confirm, says) in [
        (OLD, NEW, "Changed-Passw0rd!", "The new passwords do not match."),
        ("not-the-password", NEW, NEW, "The current password is not correct."),
        (OLD, WEAK, WEAK, "The password must contain an upper-case letter."),
    ] {
        let refused = change(current, new, confirm).await;
        assert_eq!(refused.status(), 400, "{says}");
        assert!(!session_cookie(&refused));
        let html = refused.text().await.unwrap();
        assert!(html.contains("id=\"error\"") && html.contains(says), "{says}: {html}");
        assert!(html.contains("<h1>Change your password</h1>") && !html.contains(new), "{html}");
    }
    let forged = person
        .post(&url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .form(&[("step", "password"), ("current_password", OLD), ("new_password", NEW), ("confirm_password", NEW)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token");
    assert!(forged.text().await.unwrap().contains("Change your password"));
    assert_eq!(s.get_flow(&flow).await.json["status"], "MUST_CHANGE_PASSWORD");

    // The change starts the session; the approval follows.
    let changed = change(OLD, NEW, NEW).await;
    assert_eq!(changed.status(), 303);
    assert!(session_cookie(&changed));
    let approval = person.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(approval.contains("Allow this device?"), "{approval}");
    let allowed = post_step(&person, &url, &[("step", "consent"), ("decision", "allow")]).await;
    assert_eq!(allowed.status(), 303);
    assert!(person.get(&url).send().await.unwrap().text().await.unwrap().contains("Device connected"));
    s.advance_s(5);
    let tokens = s.poll(Dialect::PingOne, auth, &device_code).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");

    // In another browser the new password signs on straight to the next step.
    let grant = s.device_authorization(Dialect::PingOne, auth, "openid").await;
    let other = browser();
    let start = other.get(s.url(&format!("/{ENV}/device?user_code={}", grant.str("user_code")))).send().await.unwrap();
    let url = s.url(&format!("/{ENV}/signon/?flowId={}", TestServer::flow_of(&start)));
    assert_eq!(
        post_step(&other, &url, &[("step", "code"), ("user_code", &grant.str("user_code"))]).await.status(),
        303
    );
    let login = post_step(&other, &url, &[("step", "login"), ("username", "demo"), ("password", NEW)]).await;
    assert!(session_cookie(&login));
    assert!(other.get(&url).send().await.unwrap().text().await.unwrap().contains("Allow this device?"));
    s.stop().await;
}

#[tokio::test]
async fn flow_api_on_memory() {
    flow_api(StoreKind::Memory).await;
    code_flow(StoreKind::Memory).await;
}

#[tokio::test]
async fn flow_api_on_dynamodb() {
    flow_api(StoreKind::DynamoDb).await;
    code_flow(StoreKind::DynamoDb).await;
}

#[tokio::test]
async fn pages_on_memory() {
    pages(StoreKind::Memory).await;
}

#[tokio::test]
async fn pages_on_dynamodb() {
    pages(StoreKind::DynamoDb).await;
}
