//! Flows belong to the browser that started them (probe finding F1), and nothing tells whether a
//! user code exists without paying the guessing limits (F2), on both stores. Each test runs the
//! probe's attack: an attacker holding a flow id, a victim who merely opens a link.

use blackbox::*;
use reqwest::header::LOCATION;
use serde_json::json;
use shared::Dialect;

const LOGIN: &str = "usernamePassword.check";
const VERIFY: &str = "deviceAuthGrant.userCode.verify";
const CONSENT: &str = "deviceAuthGrant.consent";

fn demo_login() -> serde_json::Value {
    json!({"username": "demo", "password": "demo-password"})
}

/// A browser that has signed on (it holds an `ST` cookie).
async fn signed_in_browser(s: &TestServer) -> reqwest::Client {
    let browser = browser();
    let flow = s.start_flow_in(&browser, None).await;
    let login = s.flow_action(&flow, LOGIN, demo_login()).await;
    assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED", "{login:?}");
    browser
}

async fn page(browser: &reqwest::Client, url: String) -> (u16, Option<String>, String) {
    let response = browser.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
    (status, location, response.text().await.unwrap())
}

/// The device flow attack: the attacker attaches his code to a flow of his, the victim opens the
/// flow's link, the attacker consents. The victim's session never reaches his flow.
async fn device_flow_attack(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let victim = signed_in_browser(&s).await;
    let attacker = browser();
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid profile").await;
    let flow = s.start_flow_in(&attacker, None).await;
    let attached = s.flow_action(&flow, VERIFY, json!({"userCode": grant.str("user_code")})).await;
    assert_eq!(attached.json["status"], "USERNAME_PASSWORD_REQUIRED", "{attached:?}");

    // The victim opens the link: another browser's flow starts afresh for the victim.
    let (status, location, _) = page(&victim, s.url(&format!("/{ENV}/signon/?flowId={flow}"))).await;
    assert_eq!((status, location.as_deref()), (303, Some(format!("/{ENV}/device").as_str())));
    let (status, _, html) = page(&victim, s.url(&format!("/{ENV}/signon/?flowId={flow}&user_code=BCDF-GHJK"))).await;
    assert_eq!(status, 303, "{html}");
    // The victim's flow API calls on it are refused, and show nothing.
    let theirs = s.flow_action_in(&victim, &flow, CONSENT, json!({"accept": true})).await;
    assert_eq!((theirs.status, theirs.json["code"].as_str()), (403, Some("ACCESS_FAILED")), "{theirs:?}");

    // The attacker's consent finds no person on his flow.
    let consent = s.flow_action(&flow, CONSENT, json!({"accept": true})).await;
    assert_eq!(consent.json["code"], "INVALID_REQUEST", "{consent:?}");
    assert_eq!(s.get_flow(&flow).await.json["status"], "USERNAME_PASSWORD_REQUIRED");
    s.advance_s(5);
    let poll = s.poll(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), &grant.str("device_code")).await;
    assert_eq!(poll.json["error"], "authorization_pending", "the attacker's device gets nothing: {poll:?}");

    // Nobody else reads or drives the victim's flows; the victim's own flow shows the victim.
    let victims_flow = s.start_flow_in(&victim, None).await;
    let own = s.get_flow(&victims_flow).await;
    assert_eq!(own.json["_embedded"]["user"]["username"], "demo", "signed on from the session at start: {own:?}");
    for other in [&attacker, &s.http] {
        let read = Answer::read(other.get(s.url(&format!("/{ENV}/flows/{victims_flow}"))).send().await.unwrap()).await;
        assert_eq!((read.status, read.json["code"].as_str()), (403, Some("ACCESS_FAILED")), "{read:?}");
        let text = read.json.to_string();
        assert!(!text.contains("demo") && !text.contains(demo::USER_ID), "nothing of the person: {text}");
        let act = s.flow_action_in(other, &victims_flow, VERIFY, json!({"userCode": grant.str("user_code")})).await;
        assert_eq!(act.status, 403, "{act:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn device_flow_attack_on_memory() {
    device_flow_attack(StoreKind::Memory).await;
}

#[tokio::test]
async fn device_flow_attack_on_dynamodb() {
    device_flow_attack(StoreKind::DynamoDb).await;
}

/// The code flow attack: the attacker's authorization request (his PKCE verifier), the victim's
/// browser on its pages, the attacker consenting and resuming. No code comes out.
async fn code_flow_attack(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let victim = signed_in_browser(&s).await;
    // The victim is signed in, and the app has no consent step: his own request goes straight
    // back with a code (so a GET alone used to complete any flow his browser opened).
    let earlier = s.authorize_in(&victim, Dialect::PingOne, &authorize_query("openid profile email")).await;
    let back = earlier.headers()["location"].to_str().unwrap();
    assert!(query_value(back, "code").is_some(), "{back}");

    let attacker = browser();
    for prompt in [None, Some("consent")] {
        let mut query = authorize_query("openid profile email");
        query.extend(prompt.map(|p| ("prompt", p)));
        let response = s.authorize_in(&attacker, Dialect::PingOne, &query).await;
        let flow = TestServer::flow_of(&response);
        // The victim opens the link: told to sign in from the application, nothing else.
        let (status, _, html) = page(&victim, s.url(&format!("/{ENV}/signon/?flowId={flow}"))).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("<title>Sign in again here</title>"), "{html}");
        let resumed = victim.get(s.url(&format!("/{ENV}/as/resume?flowId={flow}"))).send().await.unwrap();
        assert_eq!(resumed.status(), 403, "no code to another browser");
        // The attacker's flow has no person: consent is out of order, resume sends him to sign in.
        let consent = s.flow_action(&flow, "consent", json!({"accept": true})).await;
        assert_eq!(consent.json["code"], "INVALID_REQUEST", "{consent:?}");
        let (status, location, _) = page(&attacker, s.url(&format!("/{ENV}/as/resume?flowId={flow}"))).await;
        assert_eq!(status, 302);
        assert!(location.unwrap().contains("/signon/?flowId="), "back to sign-in, no code");
    }
    s.stop().await;
}

fn authorize_query(scope: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", WEB_APP_ID),
        ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
        ("scope", scope),
        ("state", "att"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

#[tokio::test]
async fn code_flow_attack_on_memory() {
    code_flow_attack(StoreKind::Memory).await;
}

#[tokio::test]
async fn code_flow_attack_on_dynamodb() {
    code_flow_attack(StoreKind::DynamoDb).await;
}

/// A page shows a flow and changes nothing: a browser that signed on after starting a flow
/// still sees that flow's sign-in page, and the flow stays unsigned.
#[tokio::test]
async fn a_get_never_changes_a_flow() {
    for kind in BOTH_STORES {
        let s = TestServer::start(kind).await;
        let person = browser();
        let earlier = s.start_flow_in(&person, None).await;
        let other = s.start_flow_in(&person, None).await;
        assert_eq!(s.flow_action(&other, LOGIN, demo_login()).await.status, 200);
        let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
        assert_eq!(s.flow_action(&earlier, VERIFY, json!({"userCode": grant.str("user_code")})).await.status, 200);
        let (status, _, html) = page(&person, s.url(&format!("/{ENV}/signon/?flowId={earlier}"))).await;
        assert_eq!(status, 200);
        assert!(html.contains("<title>Sign in</title>"), "{html}");
        assert_eq!(s.get_flow(&earlier).await.json["status"], "USERNAME_PASSWORD_REQUIRED");
        s.stop().await;
    }
}

/// F2: the QR endpoint and the pre-filled sign-on page answer alike for live, unknown and
/// expired codes, and look nothing up.
async fn no_code_oracles(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let live = grant.str("user_code");
    s.requests();
    let qr = |code: String| {
        let http = s.http.clone();
        let url = s.url(&format!("/{ENV}/device/qr?user_code={code}"));
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let kind =
                response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
            (status, kind, response.text().await.unwrap())
        }
    };
    let (live_status, live_type, _) = qr(live.clone()).await;
    for other in ["BCDF-GHJK", "ZZZZ-ZZZZ"] {
        assert_eq!(qr(other.into()).await.0, live_status, "{other}");
    }
    assert_eq!((live_status, live_type.as_str()), (200, "image/svg+xml"));
    assert_eq!(qr("not-a-code".into()).await.0, 404, "a malformed code is refused by its form alone");

    let person = browser();
    let flow = s.start_flow_in(&person, None).await;
    let confirm = |code: &str| page(&person, s.url(&format!("/{ENV}/signon/?flowId={flow}&user_code={code}")));
    let (_, _, live_page) = confirm(&live).await;
    let (_, _, unknown_page) = confirm("BCDF-GHJK").await;
    assert!(live_page.contains("<title>Confirm the code</title>"), "{live_page}");
    assert_eq!(live_page.replace(&live, "CODE"), unknown_page.replace("BCDF-GHJK", "CODE"), "the same page");
    assert!(!live_page.contains("Demo TV"), "what the code is for shows only after a counted try");
    s.advance_s(601);
    assert_eq!(qr(live.clone()).await.0, live_status, "an expired code looks the same");
    let looked_up = s.requests();
    assert!(!looked_up.contains_key("attempt_user_code"), "no code was looked up: {looked_up:?}");
    assert_eq!(looked_up.get("get_flow").copied().unwrap_or_default(), 2, "the pages read their flow only");
    s.stop().await;
}

#[tokio::test]
async fn no_code_oracles_on_memory() {
    no_code_oracles(StoreKind::Memory).await;
}

#[tokio::test]
async fn no_code_oracles_on_dynamodb() {
    no_code_oracles(StoreKind::DynamoDb).await;
}

/// "Bypass Activation Code Confirmation": a code in the link is taken when the flow starts,
/// through the guessing limits; a wrong one says so on the code page.
#[tokio::test]
async fn bypassed_confirmation_takes_the_code_at_the_start() {
    let s = TestServer::start_with(StoreKind::Memory, |c| c.bypass_activation_code_confirmation = true).await;
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let person = browser();
    let start = person.get(s.url(&format!("/{ENV}/device?user_code={}", grant.str("user_code")))).send().await.unwrap();
    let flow = TestServer::flow_of(&start);
    s.remember_flow(&flow, &person);
    assert!(s.get_flow(&flow).await.json["_embedded"]["deviceAuthorization"].is_object(), "taken at the start");
    let wrong = person.get(s.url(&format!("/{ENV}/device?user_code=BCDF-GHJK"))).send().await.unwrap();
    let location = wrong.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("&notice=invalid_code"), "{location}");
    let (_, _, html) = page(&person, location.clone()).await;
    assert!(html.contains("not valid"), "{html}");
    s.stop().await;
}
