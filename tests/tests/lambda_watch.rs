//! The Lambda binaries under the real Lambda runtime interface and API Gateway v2 events:
//! `cargo lambda watch` (the local Lambda emulator, routes from the workspace's
//! `[workspace.metadata.lambda.watch.router]`) in front of every function, on DynamoDB (moto).
//! The test command starts the emulator and exports `LAMBDA_WATCH_URL`; the demo data is seeded
//! into its table with the same server secret (Secrets Manager on moto), whose signing keys the
//! seeding generated as a deployed stack's first start does.
//!
//! Path parameters, query strings, form and JSON bodies, cookies (the `ST` session, the pages'
//! browser key cookie) and redirects all cross the event translation here.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

const ENV: &str = shared::demo::ENVIRONMENT_ID;
const DEVICE_APP: &str = shared::demo::DEVICE_APP_ID;
const WEB_APP: &str = shared::demo::WEB_APP_ID;
const REDIRECT: &str = shared::demo::WEB_APP_REDIRECT_URI;

fn base() -> String {
    std::env::var("LAMBDA_WATCH_URL").expect(
        "LAMBDA_WATCH_URL is not set: run the README's test command, which starts `cargo lambda watch` in front of the functions",
    )
}

fn client() -> reqwest::Client {
    // A browser: it keeps its cookies (flows answer only the browser that started them).
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .unwrap()
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn flow_action(http: &reqwest::Client, flow: &str, action: &str, body: Value) -> (u16, Value, Option<String>) {
    let response = http
        .post(format!("{}/{ENV}/flows/{flow}", base()))
        .header(CONTENT_TYPE, format!("application/vnd.pingidentity.{action}+json"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let cookie =
        response.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    let (status, body) = json_of(response).await;
    (status, body, cookie)
}

#[tokio::test]
async fn device_flow_through_the_lambda_functions() {
    let http = client();
    let b = base();
    let (status, grant) = json_of(
        http.post(format!("{b}/{ENV}/as/device_authorization"))
            .form(&[("client_id", DEVICE_APP), ("scope", "openid profile offline_access")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["verification_uri"], format!("{b}/{ENV}/device/tv"));
    let device_code = grant["device_code"].as_str().unwrap();
    let user_code = grant["user_code"].as_str().unwrap();
    let token_form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
        ("client_id", DEVICE_APP),
    ];
    let (status, pending) =
        json_of(http.post(format!("{b}/{ENV}/as/token")).form(&token_form).send().await.unwrap()).await;
    assert_eq!((status, pending["error"].as_str()), (400, Some("authorization_pending")));

    // /device with a query string and a path parameter (devicePathId), then the flow API.
    let start = http.get(format!("{b}/{ENV}/device/tv?user_code={user_code}")).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let flow = location.split("flowId=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let (_, login, session) =
        flow_action(&http, &flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"}))
            .await;
    assert_eq!(login["status"], "DAG_USER_CODE_REQUIRED", "{login}");
    assert!(session.as_deref().is_some_and(|c| c.starts_with("ST=")), "the session cookie crosses the event");
    let (_, verified, _) =
        flow_action(&http, &flow, "deviceAuthGrant.userCode.verify", json!({"userCode": user_code})).await;
    assert_eq!(verified["status"], "DAG_CONSENT_REQUIRED", "{verified}");
    let (_, done, _) = flow_action(&http, &flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_eq!(done["status"], "COMPLETED");
    // The device waits its interval (real time: the emulator runs the real clock).
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;

    let (status, tokens) =
        json_of(http.post(format!("{b}/{ENV}/as/token")).form(&token_form).send().await.unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    let jwks: Value = http.get(format!("{b}/{ENV}/as/jwks")).send().await.unwrap().json().await.unwrap();
    let issuer = format!("{b}/{ENV}/as");
    // Signed by the token function, verified with the jwks function's keys.
    let (_, claims) = blackbox::verify_jwt(tokens["access_token"].as_str().unwrap(), &jwks, &issuer, &issuer);
    assert_eq!(claims["sub"], shared::demo::USER_ID);
    let (status, doc) =
        json_of(http.get(format!("{b}/{ENV}/as/.well-known/openid-configuration")).send().await.unwrap()).await;
    assert_eq!((status, doc["issuer"].as_str()), (200, Some(issuer.as_str())));
}

#[tokio::test]
async fn pages_and_code_flow_through_the_lambda_functions() {
    let http = client();
    let b = base();
    // Authorization request (query string) -> pages (cookies, form bodies) -> resume -> token.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let authorize = http
        .get(format!("{b}/{ENV}/as/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", WEB_APP),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile"),
            ("state", "s1"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 302);
    let signon = authorize.headers()["location"].to_str().unwrap().to_owned();
    let flow = signon.split("flowId=").nth(1).unwrap().to_owned();
    assert!(
        authorize.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("browser_key=")),
        "the browser key cookie crosses the event"
    );
    let page = http.get(&signon).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let login = http
        .post(format!("{b}/{ENV}/signon/?flowId={flow}"))
        .form(&[("csrf", token.as_str()), ("step", "login"), ("username", "demo"), ("password", "demo-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "sign-in through the signon function");
    // Consent once; a remembered consent (an earlier run on the same table) completes at sign-in.
    let (_, state) = json_of(http.get(format!("{b}/{ENV}/flows/{flow}")).send().await.unwrap()).await;
    if state["status"] == "CONSENT_REQUIRED" {
        let (_, consent, _) = flow_action(&http, &flow, "consent", json!({"accept": true})).await;
        assert_eq!(consent["status"], "COMPLETED", "{consent}");
    } else {
        assert_eq!(state["status"], "COMPLETED", "{state}");
    }
    let resume = http.get(format!("{b}/{ENV}/as/resume?flowId={flow}")).send().await.unwrap();
    let back = resume.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(REDIRECT) && back.contains("state=s1"), "{back}");
    let code = back.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let (status, tokens) = json_of(
        http.post(format!("{b}/{ENV}/as/token"))
            .basic_auth(WEB_APP, Some(shared::demo::WEB_APP_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let (status, info) = json_of(
        http.get(format!("{b}/{ENV}/as/userinfo"))
            .header(AUTHORIZATION, format!("Bearer {}", tokens["access_token"].as_str().unwrap()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, info["preferred_username"].as_str()), (200, Some("demo")), "{info}");
}

/// Seed 004 through the management functions: the worker token, an application, a population, a
/// user and its password, then the device flow for that user.
#[tokio::test]
async fn seed_004_through_the_lambda_functions() {
    let http = client();
    let b = base();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (status, token) = json_of(
        http.post(format!("{b}/{ENV}/as/token"))
            .basic_auth(shared::demo::ADMIN_APP_ID, Some(shared::demo::ADMIN_APP_SECRET))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let api = |method: reqwest::Method, path: String, media: &str, body: Value| {
        http.request(method, format!("{b}/v1/environments/{ENV}{path}"))
            .header(AUTHORIZATION, &bearer)
            .header(CONTENT_TYPE, media)
            .body(body.to_string())
            .send()
    };
    let path_id = format!("watch-{}", &tag[..12]);
    let app = json!({
        "enabled": true, "name": format!("Device-App-{tag}"), "type": "CUSTOM_APP", "protocol": "OPENID_CONNECT",
        "grantTypes": ["DEVICE_CODE"], "tokenEndpointAuthMethod": "NONE", "devicePathId": path_id
    });
    let (status, app) =
        json_of(api(reqwest::Method::POST, "/applications".into(), "application/json", app).await.unwrap()).await;
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let population = json!({ "name": format!("Device-Users-{tag}") });
    let (status, population) =
        json_of(api(reqwest::Method::POST, "/populations".into(), "application/json", population).await.unwrap()).await;
    assert_eq!(status, 201, "{population}");
    let username = format!("watch-{tag}");
    let user = json!({ "username": username, "email": format!("{tag}@example.com"), "population": { "id": population["id"] } });
    let (status, user) =
        json_of(api(reqwest::Method::POST, "/users".into(), "application/json", user).await.unwrap()).await;
    assert_eq!(status, 201, "{user}");
    let user_id = user["id"].as_str().unwrap().to_owned();
    let password = json!({ "value": "Watch-Pass1", "forceChange": false });
    let media = "application/vnd.pingidentity.password.set+json";
    let (status, state) =
        json_of(api(reqwest::Method::PUT, format!("/users/{user_id}/password"), media, password).await.unwrap()).await;
    assert_eq!((status, state["status"].as_str()), (200, Some("OK")), "{state}");
    // The device authorization function is another instance with its own cache of the
    // environment's applications: the new app reaches it within DIRECTORY_CACHE_SECONDS (10, as in
    // template.yaml), the bound the README states.
    let created = std::time::Instant::now();
    let (status, grant) = loop {
        let answer = json_of(
            http.post(format!("{b}/{ENV}/as/device_authorization"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("client_id={app_id}&scope=openid"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if answer.0 == 200 || created.elapsed() > std::time::Duration::from_secs(12) {
            break answer;
        }
        assert_eq!(answer.0, 401, "{}", answer.1);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(status, 200, "{grant}");
    // By then every other function's copy (loaded before the app existed) has expired too.
    tokio::time::sleep_until(tokio::time::Instant::from_std(created + std::time::Duration::from_millis(10_500))).await;
    let browser = client();
    let start = browser.get(format!("{b}/{ENV}/device/{path_id}")).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let flow = location.split("flowId=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let credentials = json!({ "username": username, "password": "Watch-Pass1" });
    let (_, login, _) = flow_action(&browser, &flow, "usernamePassword.check", credentials).await;
    assert_eq!(login["status"], "DAG_USER_CODE_REQUIRED", "{login}");
    let code = json!({ "userCode": grant["user_code"] });
    let (_, verify, _) = flow_action(&browser, &flow, "deviceAuthGrant.userCode.verify", code).await;
    assert_eq!(verify["status"], "DAG_CONSENT_REQUIRED", "{verify}");
    let (_, consent, _) = flow_action(&browser, &flow, "deviceAuthGrant.consent", json!({ "accept": true })).await;
    assert_eq!(consent["status"], "COMPLETED", "{consent}");
    let poll = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id={app_id}&device_code={}",
        grant["device_code"].as_str().unwrap()
    );
    let (status, tokens) = json_of(
        http.post(format!("{b}/{ENV}/as/token"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(poll)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = tokens["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], user_id.as_str(), "the new user's id");
}
