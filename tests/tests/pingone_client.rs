//! A client written against PingOne's flow API only (seed 003): it knows the statuses and
//! actions PingOne documents and nothing of ours. For the demo web app (no consent step, as in
//! PingOne) it signs on, sees `COMPLETED`, follows `resumeUrl` and gets its code and tokens, on
//! both stores. An app that asks for consent (`requireConsent`, ours) adds `CONSENT_REQUIRED`.

use blackbox::*;
use serde_json::json;
use shared::Dialect;

const P1: Dialect = Dialect::PingOne;
/// What PingOne's authorization code flow may answer (PING-COMPAT §1.6, §2.2).
const PINGONE_STATUSES: [&str; 3] = ["USERNAME_PASSWORD_REQUIRED", "COMPLETED", "FAILED"];

fn authorize_query(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
        ("scope", "openid profile"),
        ("state", "xyz"),
        // RFC 7636 Appendix B.
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        ("code_challenge_method", "S256"),
    ]
}

/// Drives the flow knowing only PingOne's statuses; returns the redirect `/as/resume` answers.
async fn pingone_client(s: &TestServer, flow: &str) -> String {
    let mut seen = Vec::new();
    let mut current = s.get_flow(flow).await;
    loop {
        assert_eq!(current.status, 200, "{current:?}");
        let status = current.str("status");
        assert!(PINGONE_STATUSES.contains(&status.as_str()), "a status PingOne does not have: {current:?}");
        seen.push(status.clone());
        match status.as_str() {
            "USERNAME_PASSWORD_REQUIRED" => {
                assert!(current.json["_links"]["usernamePassword.check"]["href"].is_string(), "{current:?}");
                let credentials = json!({"username": demo::USERNAME, "password": demo::PASSWORD});
                current = s.flow_action(flow, "usernamePassword.check", credentials).await;
            }
            "COMPLETED" => break,
            _ => panic!("the flow failed: {current:?}"),
        }
    }
    assert_eq!(seen, ["USERNAME_PASSWORD_REQUIRED", "COMPLETED"]);
    let links: Vec<&String> = current.json["_links"].as_object().unwrap().keys().collect();
    assert_eq!(links, ["self"], "a completed flow offers no action");
    let resume_url = current.str("resumeUrl");
    assert_eq!(resume_url, s.url(&format!("/{ENV}/as/resume?flowId={flow}")));
    let resumed = s.browser_of(flow).get(&resume_url).send().await.unwrap();
    assert_eq!(resumed.status(), 302);
    resumed.headers()["location"].to_str().unwrap().to_owned()
}

async fn web_app_completes_without_consent(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let to_pages = s.authorize(P1, &authorize_query(WEB_APP_ID)).await;
    assert_eq!(to_pages.status(), 302);
    let flow = TestServer::flow_of(&to_pages);
    let back = pingone_client(&s, &flow).await;
    assert!(back.starts_with(demo::WEB_APP_REDIRECT_URI), "{back}");
    assert_eq!(query_value(&back, "state").as_deref(), Some("xyz"));
    let code = query_value(&back, "code").expect("a code");
    let tokens = s
        .post_form(
            &s.token_url(P1),
            Auth::Basic(WEB_APP_ID, WEB_APP_SECRET),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
                ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            ],
        )
        .await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let jwks: serde_json::Value = s.http.get(s.jwks_url(P1)).send().await.unwrap().json().await.unwrap();
    let (_, claims) = verify_jwt(&tokens.str("id_token"), &jwks, &s.issuer(P1), WEB_APP_ID);
    assert_eq!(claims["sub"], demo::USER_ID);
    // Resuming again gives no second code.
    let again = s.browser_of(&flow).get(s.url(&format!("/{ENV}/as/resume?flowId={flow}"))).send().await.unwrap();
    assert_eq!(again.status(), 400);

    // An app that asks for consent (ours) stops at CONSENT_REQUIRED with the `consent` action,
    // and only an accepted consent completes it.
    let to_pages = s.authorize(P1, &authorize_query(SPA_APP_ID)).await;
    let flow = TestServer::flow_of(&to_pages);
    let credentials = json!({"username": demo::USERNAME, "password": demo::PASSWORD});
    let signed_on = s.flow_action(&flow, "usernamePassword.check", credentials).await;
    assert_eq!(signed_on.str("status"), "CONSENT_REQUIRED", "{signed_on:?}");
    assert!(signed_on.json["_links"]["consent"]["href"].is_string(), "{signed_on:?}");
    let early = s.browser_of(&flow).get(s.url(&format!("/{ENV}/as/resume?flowId={flow}"))).send().await.unwrap();
    let early_to = early.headers()["location"].to_str().unwrap();
    assert!(early_to.contains("/signon/") && !early_to.contains("code="), "no code before consent: {early_to}");
    let consented = s.flow_action(&flow, "consent", json!({"accept": true})).await;
    assert_eq!(consented.str("status"), "COMPLETED", "{consented:?}");
    s.stop().await;
}

#[tokio::test]
async fn pingone_client_completes_the_code_flow_on_memory() {
    web_app_completes_without_consent(StoreKind::Memory).await;
}

#[tokio::test]
async fn pingone_client_completes_the_code_flow_on_dynamodb() {
    web_app_completes_without_consent(StoreKind::DynamoDb).await;
}
