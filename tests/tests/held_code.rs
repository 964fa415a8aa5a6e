//! A verified user code the browser holds until consent (`flows::verified`; the hosted pages
//! always, the flow API with `FLOW_API_HOLDS_VERIFIED_CODES`): the verification writes nothing,
//! and the cookie that carries the code's grant is worth nothing anywhere but on its own flow, in
//! its own browser, unaltered. On both stores, through the flow API.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use blackbox::*;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};
use shared::Dialect;

const LOGIN: &str = "usernamePassword.check";
const VERIFY: &str = "deviceAuthGrant.userCode.verify";
const CONSENT: &str = "deviceAuthGrant.consent";

/// A browser whose cookies the test can read and change: every `Set-Cookie` is kept by name
/// (`Max-Age=0` removes), and sent back as one `Cookie` header.
struct Jar<'a> {
    s: &'a TestServer,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl<'a> Jar<'a> {
    fn new(s: &'a TestServer) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { s, http, cookies: BTreeMap::new() }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let header = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let answer = Answer::read(request.header(COOKIE, header).send().await.expect("send")).await;
        for set in answer.headers.get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        answer
    }

    async fn start(&mut self) -> String {
        let start = self.send(self.http.get(self.s.url(&format!("/{ENV}/device")))).await;
        let location = start.headers.get(LOCATION).expect("a redirect").to_str().unwrap().to_owned();
        location.split("flowId=").nth(1).expect("flowId").to_owned()
    }

    async fn act(&mut self, flow: &str, action: &str, body: Value) -> Answer {
        let request = self
            .http
            .post(self.s.url(&format!("/{ENV}/flows/{flow}")))
            .header(CONTENT_TYPE, format!("application/vnd.pingidentity.{action}+json"))
            .body(body.to_string());
        self.send(request).await
    }

    async fn status(&mut self, flow: &str) -> String {
        let answer = self.send(self.http.get(self.s.url(&format!("/{ENV}/flows/{flow}")))).await;
        answer.json["status"].as_str().unwrap_or_default().to_owned()
    }

    /// A signed-on flow of this browser (after the first, its session signs the flow on).
    async fn signed_on(&mut self) -> String {
        let flow = self.start().await;
        if self.status(&flow).await == "USERNAME_PASSWORD_REQUIRED" {
            let login = self.act(&flow, LOGIN, json!({"username": "demo", "password": "demo-password"})).await;
            assert_eq!(login.json["status"], "DAG_USER_CODE_REQUIRED", "{login:?}");
        }
        assert_eq!(self.status(&flow).await, "DAG_USER_CODE_REQUIRED");
        flow
    }

    /// Verifies `user_code` on `flow`: the name and value of the cookie that holds it.
    async fn verify(&mut self, flow: &str, user_code: &str) -> (String, String) {
        let before = self.cookies.clone();
        let verified = self.act(flow, VERIFY, json!({"userCode": user_code})).await;
        assert_eq!(
            (verified.status, verified.json["status"].as_str()),
            (200, Some("DAG_CONSENT_REQUIRED")),
            "{verified:?}"
        );
        let set = verified.header("set-cookie").expect("the code goes to the browser");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Max-Age=900"), "{set}");
        let held = self.cookies.iter().find(|(k, v)| before.get(*k) != Some(v)).expect("a new cookie");
        (held.0.clone(), held.1.clone())
    }
}

async fn device_grant(s: &TestServer) -> (String, String) {
    let grant = s.device_authorization(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), "openid profile").await;
    (grant.str("user_code"), grant.str("device_code"))
}

fn assert_refused_while(answer: &Answer, action: &str, status: &str) {
    assert_eq!((answer.status, answer.json["code"].as_str()), (400, Some("INVALID_REQUEST")), "{answer:?}");
    let message = format!("The action {action} is not allowed while the flow status is {status}.");
    assert_eq!(answer.json["message"], message.as_str(), "{answer:?}");
}

async fn held_code(kind: StoreKind) {
    // Off (the default), the flow API writes a verified code on the flow and sets no cookie.
    let s = TestServer::start(kind).await;
    let mut plain = Jar::new(&s);
    let flow = plain.signed_on().await;
    let (code, _) = device_grant(&s).await;
    let verified = plain.act(&flow, VERIFY, json!({"userCode": code})).await;
    assert_eq!((verified.json["status"].as_str(), verified.header("set-cookie")), (Some("DAG_CONSENT_REQUIRED"), None));
    plain.cookies.retain(|name, _| name == "browser_key");
    assert_eq!(
        plain.act(&flow, CONSENT, json!({"accept": true})).await.json["status"],
        "COMPLETED",
        "no cookie needed"
    );
    s.stop().await;

    let s = TestServer::start_with(kind, |c| c.flow_api_holds_verified_codes = true).await;
    let mut person = Jar::new(&s);
    let (code1, device1) = device_grant(&s).await;
    let (code2, device2) = device_grant(&s).await;
    let (code3, device3) = device_grant(&s).await;

    // Two flows of one browser, each holding its own code in a cookie of its own.
    let first = person.signed_on().await;
    let second = person.signed_on().await;
    let (name1, value1) = person.verify(&first, &code1).await;
    let (name2, value2) = person.verify(&second, &code2).await;
    assert_ne!(name1, name2, "each flow has its own cookie");
    let raw = URL_SAFE_NO_PAD.decode(&value1).expect("base64url");
    assert!(!String::from_utf8_lossy(&raw).contains(DEVICE_APP_ID), "the held grant is encrypted");
    assert_eq!(person.status(&first).await, "DAG_CONSENT_REQUIRED");
    // A flow that holds a code takes no other.
    assert_refused_while(&person.act(&first, VERIFY, json!({"userCode": code3})).await, VERIFY, "DAG_CONSENT_REQUIRED");

    // The first flow's cookie under the second flow's name opens for nothing; nor does an
    // altered one. Without a code it holds, the flow asks for one and takes no consent.
    person.cookies.insert(name2.clone(), value1.clone());
    assert_eq!(person.status(&second).await, "DAG_USER_CODE_REQUIRED");
    let moved = person.act(&second, CONSENT, json!({"accept": true})).await;
    assert_refused_while(&moved, CONSENT, "DAG_USER_CODE_REQUIRED");
    let mut altered = value2.clone().into_bytes();
    let at = altered.len() / 2;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    person.cookies.insert(name2.clone(), String::from_utf8(altered).unwrap());
    assert_refused_while(
        &person.act(&second, CONSENT, json!({"accept": true})).await,
        CONSENT,
        "DAG_USER_CODE_REQUIRED",
    );

    // Another browser holding a copy of every cookie but the browser key gets nothing.
    let mut thief = Jar::new(&s);
    thief.start().await;
    let own_key = thief.cookies.get("browser_key").cloned().unwrap();
    thief.cookies = person.cookies.clone();
    thief.cookies.insert("browser_key".into(), own_key);
    let stolen = thief.act(&first, CONSENT, json!({"accept": true})).await;
    assert_eq!((stolen.status, stolen.json["code"].as_str()), (403, Some("ACCESS_FAILED")), "{stolen:?}");

    // A dropped cookie: the code is typed again (it is still live), then decided.
    person.cookies.remove(&name2);
    assert_eq!(person.status(&second).await, "DAG_USER_CODE_REQUIRED");
    person.verify(&second, &code2).await;
    let denied = person.act(&second, CONSENT, json!({"accept": false})).await;
    assert_eq!(denied.json["status"], "FAILED", "{denied:?}");

    // The first flow's consent decides its own grant, once, and the held cookie then means
    // nothing: the flow is completed whatever the browser holds.
    let approved = person.act(&first, CONSENT, json!({"accept": true})).await;
    assert_eq!(approved.json["status"], "COMPLETED", "{approved:?}");
    assert_refused_while(&person.act(&first, CONSENT, json!({"accept": true})).await, CONSENT, "COMPLETED");
    person.cookies.insert(name1.clone(), value1.clone());
    assert_eq!(person.status(&first).await, "COMPLETED");

    s.advance_s(5);
    let poll = |device: String| {
        let s = &s;
        async move { s.poll(Dialect::PingOne, Auth::Public(DEVICE_APP_ID), &device).await }
    };
    let tokens = poll(device1).await;
    assert_eq!(tokens.status, 200, "the approved grant: {tokens:?}");
    assert_eq!(poll(device2).await.json["error"], "access_denied", "the denied grant");
    assert_eq!(poll(device3).await.json["error"], "authorization_pending", "a code a full flow refused");

    s.stop().await;
}

#[tokio::test]
async fn held_code_on_memory() {
    held_code(StoreKind::Memory).await;
}

#[tokio::test]
async fn held_code_on_dynamodb() {
    held_code(StoreKind::DynamoDb).await;
}
