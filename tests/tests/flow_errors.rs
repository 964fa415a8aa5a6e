//! The PingOne flow API's refusals (PING-COMPAT §1.6, §4.6) on both stores: unknown and expired
//! flows, wrong credentials, wrong media types, actions out of order, bad codes.

use blackbox::*;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

const LOGIN: &str = "usernamePassword.check";
const VERIFY: &str = "deviceAuthGrant.userCode.verify";
const CONSENT: &str = "deviceAuthGrant.consent";

fn demo_login() -> serde_json::Value {
    json!({"username": "demo", "password": "demo-password"})
}

async fn flow_errors(kind: StoreKind) {
    let s = TestServer::start(kind).await;

    // Unknown or forged flow ids are not found, in the PingOne error shape.
    for id in ["nope", "AQGh_lBNFSrHWGiNzSJhgO8AAAAAAABAAIAAAAAAAADR5sDn_fXgRXTJmcq5veQT5Q"] {
        let answer = s.get_flow(id).await;
        assert_eq!((answer.status, answer.json["code"].as_str()), (404, Some("NOT_FOUND")), "{answer:?}");
        assert!(answer.json["id"].is_string() && answer.json["message"].is_string());
        assert_eq!(s.flow_action(id, LOGIN, demo_login()).await.status, 404);
    }

    let flow = s.start_flow(None).await;
    let fresh = s.get_flow(&flow).await;
    assert_eq!(fresh.json["status"], "USERNAME_PASSWORD_REQUIRED");
    assert!(fresh.json["_links"][LOGIN]["href"].as_str().unwrap().ends_with(&flow));

    // Consent before anything else is out of order.
    let consent_first = s.flow_action(&flow, CONSENT, json!({"accept": true})).await;
    assert_eq!(consent_first.json["code"], "INVALID_REQUEST", "{consent_first:?}");
    assert_eq!(
        consent_first.json["message"],
        "The action deviceAuthGrant.consent is not allowed while the flow status is USERNAME_PASSWORD_REQUIRED."
    );

    // The code may come first (PingFederate's order): the flow still asks for the sign-on, then
    // goes straight to consent.
    let grant = s.device_authorization(shared::Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let code_first = s.start_flow(None).await;
    let early = s.flow_action(&code_first, VERIFY, json!({"userCode": grant.str("user_code")})).await;
    assert_eq!(early.json["status"], "USERNAME_PASSWORD_REQUIRED", "{early:?}");
    assert_eq!(early.json["_embedded"]["application"]["name"], "Demo TV");
    let twice = s.flow_action(&code_first, VERIFY, json!({"userCode": grant.str("user_code")})).await;
    assert_eq!(twice.json["code"], "INVALID_REQUEST", "one code per flow: {twice:?}");
    let then_login = s.flow_action(&code_first, LOGIN, demo_login()).await;
    assert_eq!(then_login.json["status"], "DAG_CONSENT_REQUIRED", "{then_login:?}");

    // Wrong password, unknown user: the same answer.
    for (username, password) in [("demo", "wrong"), ("nobody", "demo-password")] {
        let bad = s.flow_action(&flow, LOGIN, json!({"username": username, "password": password})).await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.json["code"], "INVALID_DATA");
        assert_eq!(bad.json["details"][0]["code"], "INVALID_CREDENTIALS");
    }
    let missing = s.flow_action(&flow, LOGIN, json!({"username": "demo"})).await;
    assert_eq!(
        (missing.json["code"].as_str(), missing.json["details"][0]["target"].as_str()),
        (Some("INVALID_DATA"), Some("password"))
    );

    // Media types: a missing action, an unknown one, a body that is not JSON.
    let url = s.url(&format!("/{ENV}/flows/{flow}"));
    let browser = s.browser_of(&flow);
    let plain =
        Answer::read(browser.post(&url).header(CONTENT_TYPE, "application/json").body("{}").send().await.unwrap())
            .await;
    assert_eq!((plain.status, plain.json["code"].as_str()), (400, Some("INVALID_REQUEST")));
    let unknown = s.flow_action(&flow, "otp.check", json!({"otp": "123"})).await;
    assert_eq!(unknown.json["message"], "The flow action 'otp.check' is not supported.");
    let not_json = Answer::read(
        browser
            .post(&url)
            .header(CONTENT_TYPE, format!("application/vnd.pingidentity.{LOGIN}+json"))
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(not_json.json["message"], "The request body must be a JSON object.");

    // Sign on, then the code: malformed and unknown codes name the field.
    let login = s.flow_action(&flow, LOGIN, demo_login()).await;
    assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED");
    let cookie = login.header("set-cookie").expect("ST cookie at sign-on");
    assert!(cookie.starts_with("ST=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let again = s.flow_action(&flow, LOGIN, demo_login()).await;
    assert_eq!(again.json["code"], "INVALID_REQUEST", "sign-on happens once per flow");
    for code in ["12345678", "BCDF-GHJK"] {
        let bad = s.flow_action(&flow, VERIFY, json!({"userCode": code})).await;
        assert_eq!(bad.json["details"][0]["code"], "INVALID_VALUE", "{bad:?}");
        assert_eq!(bad.json["details"][0]["target"], "userCode");
    }
    let grant = s.device_authorization(shared::Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
    let typed = grant.str("user_code").to_lowercase().replace('-', " ");
    let verified = s.flow_action(&flow, VERIFY, json!({"userCode": typed})).await;
    assert_eq!(verified.json["status"], "DAG_CONSENT_REQUIRED", "lower case with a space is accepted: {verified:?}");
    assert_eq!(verified.json["_embedded"]["application"]["name"], "Demo TV");
    assert_eq!(verified.json["_embedded"]["deviceAuthorization"]["scopes"], json!(["openid"]));
    let not_bool = s.flow_action(&flow, CONSENT, json!({"accept": "yes"})).await;
    assert_eq!(not_bool.json["details"][0]["target"], "accept");

    // A flow started for one application refuses another application's code.
    let bound = s.start_flow(Some("tv")).await;
    s.flow_action(&bound, LOGIN, demo_login()).await;
    let web_grant =
        s.device_authorization(shared::Dialect::PingOne, Auth::Basic(WEB_APP_ID, WEB_APP_SECRET), "openid").await;
    let foreign = s.flow_action(&bound, VERIFY, json!({"userCode": web_grant.str("user_code")})).await;
    assert_eq!(foreign.json["details"][0]["code"], "INVALID_VALUE", "{foreign:?}");
    assert_eq!(s.get_flow(&bound).await.json["_embedded"]["application"]["id"], DEVICE_APP_ID);

    // An unknown application identifier does not start a flow.
    let missing_app = s.http.get(s.url(&format!("/{ENV}/device/no-such-app"))).send().await.unwrap();
    assert_eq!(missing_app.status(), 404);

    // Flows expire after 15 minutes without interaction.
    s.advance_s(15 * 60);
    assert_eq!(s.get_flow(&flow).await.status, 404);
    assert_eq!(s.flow_action(&flow, CONSENT, json!({"accept": true})).await.status, 404);
    let unused = s.start_flow(None).await;
    s.advance_s(15 * 60);
    assert_eq!(s.flow_action(&unused, LOGIN, demo_login()).await.status, 404);
    s.stop().await;
}

#[tokio::test]
async fn flow_errors_on_memory() {
    flow_errors(StoreKind::Memory).await;
}

#[tokio::test]
async fn flow_errors_on_dynamodb() {
    flow_errors(StoreKind::DynamoDb).await;
}

/// Two people verify the same code; the first answer wins and the second is told so.
#[tokio::test]
async fn a_code_is_decided_once() {
    for kind in BOTH_STORES {
        let s = TestServer::start(kind).await;
        let grant = s.device_authorization(shared::Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid").await;
        let mut flows = Vec::new();
        for _ in 0..2 {
            let flow = s.start_flow(None).await;
            s.flow_action(&flow, LOGIN, demo_login()).await;
            let verified = s.flow_action(&flow, VERIFY, json!({"userCode": grant.str("user_code")})).await;
            assert_eq!(verified.json["status"], "DAG_CONSENT_REQUIRED");
            flows.push(flow);
        }
        assert_eq!(s.flow_action(&flows[0], CONSENT, json!({"accept": true})).await.json["status"], "COMPLETED");
        let second = s.flow_action(&flows[1], CONSENT, json!({"accept": false})).await;
        assert_eq!(second.status, 400, "{second:?}");
        let tokens = s.poll(shared::Dialect::PingOne, Auth::Public(DEVICE_APP_ID), &grant.str("device_code")).await;
        assert_eq!(tokens.status, 200, "the first decision stands: {tokens:?}");
        s.stop().await;
    }
}
