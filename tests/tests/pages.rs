//! The pages over HTTP on both stores: PingFederate's user authorization endpoint, CSRF, security
//! headers, and the QR code endpoint.

use blackbox::*;
use reqwest::header::CONTENT_TYPE;
use shared::Dialect;

async fn pages(kind: StoreKind) {
    let s = TestServer::start(kind).await;
    let grant = s.device_authorization(Dialect::PingFederate, Auth::Public(DEVICE_APP_ID), "openid").await;
    let code = grant.str("user_code");

    // GET and POST /as/user_authz.oauth2 lead to the sign-on pages with the code, and give the
    // browser its key: an HttpOnly, SameSite=Lax cookie.
    let person = browser();
    let get =
        person.get(s.url(&format!("/as/user_authz.oauth2?user_code={}", code.to_lowercase()))).send().await.unwrap();
    assert_eq!(get.status(), 303);
    let key_cookie = get.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(key_cookie.starts_with("browser_key="), "{key_cookie}");
    assert!(key_cookie.contains("HttpOnly") && key_cookie.contains("SameSite=Lax"), "{key_cookie}");
    assert!(!key_cookie.contains("Secure"), "plain-http loopback only relaxes Secure");
    let location = get.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("/{ENV}/signon/?flowId=")) && location.ends_with(&format!("&user_code={code}"))
    );
    let post = s
        .http
        .post(s.url("/as/user_authz.oauth2"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("user_code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 303);

    // The confirmation page: security headers and the code (what it is for shows once it has been
    // tried under the guessing limits, on the approval page).
    let page = person.get(s.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-security-policy"].to_str().unwrap().split(';').next(), Some("default-src 'self'"));
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.get("set-cookie").is_none(), "the browser has its key already");
    let html = page.text().await.unwrap();
    assert!(html.contains(&code) && !html.contains("Demo TV"), "{html}");

    // A form post from another browser starts afresh there; one without the CSRF token is
    // refused. Neither changes the flow.
    let flow_id = location.split("flowId=").nth(1).unwrap().split('&').next().unwrap();
    s.remember_flow(flow_id, &person);
    let forged = s
        .http
        .post(s.url(&format!("/{ENV}/signon/?flowId={flow_id}")))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("step=code&user_code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303);
    assert_eq!(forged.headers()["location"], format!("/{ENV}/device"));
    let with_cookie_wrong_token = person
        .post(s.url(&format!("/{ENV}/signon/?flowId={flow_id}")))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("step=code&user_code={code}&csrf=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie_wrong_token.status(), 403);
    assert_eq!(s.get_flow(flow_id).await.json["status"], "USERNAME_PASSWORD_REQUIRED");
    assert!(s.get_flow(flow_id).await.json["_embedded"]["deviceAuthorization"].is_null(), "no code was taken");

    // A QR code of the verification URI with the code, for any well-formed code (it looks
    // nothing up); nothing for malformed ones.
    let qr = s.http.get(s.url(&format!("/{ENV}/device/qr?user_code={code}"))).send().await.unwrap();
    assert_eq!((qr.status().as_u16(), qr.headers()["content-type"].to_str().unwrap()), (200, "image/svg+xml"));
    assert!(qr.text().await.unwrap().starts_with("<?xml"));
    for other in ["not-a-code", ""] {
        let missing = s.http.get(s.url(&format!("/{ENV}/device/qr?user_code={other}"))).send().await.unwrap();
        assert_eq!(missing.status(), 404, "{other}");
        assert!(missing.text().await.unwrap().is_empty());
    }

    let css = s.http.get(s.url(&format!("/{ENV}/signon/style.css"))).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    s.stop().await;
}

#[tokio::test]
async fn pages_on_memory() {
    pages(StoreKind::Memory).await;
}

#[tokio::test]
async fn pages_on_dynamodb() {
    pages(StoreKind::DynamoDb).await;
}
