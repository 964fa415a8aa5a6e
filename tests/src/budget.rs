//! The request budget of a whole device flow, measured through the counting store.

use serde_json::json;
use shared::store::counting::total;
use shared::Dialect;

use crate::{Auth, StoreKind, TestServer, DEVICE_APP_ID};

/// Store requests per step of one device flow.
#[derive(Debug)]
pub struct Budget {
    /// Queries a cold instance makes to load an environment's applications.
    pub cold_cache_queries: u64,
    pub device_authorization: u64,
    pub flow_start: u64,
    pub pending_polls: Vec<u64>,
    pub slow_down_poll: u64,
    pub login: u64,
    pub verify: u64,
    pub consent: u64,
    pub token_issue: u64,
    /// N: polls of the flow, including the successful one.
    pub polls: u64,
    pub whole_flow: u64,
}

impl Budget {
    pub fn report(&self, kind: StoreKind) -> String {
        format!(
            "{kind:?} store requests: device_authorization {}, flow start {}, login {}, code verification {}, \
             consent {}, pending poll {}, slow_down poll {}, successful poll {}; \
             whole flow with N = {} polls: {} = N + {} (cold instance: +{} application query)",
            self.device_authorization,
            self.flow_start,
            self.login,
            self.verify,
            self.consent,
            self.pending_polls.first().copied().unwrap_or_default(),
            self.slow_down_poll,
            self.token_issue,
            self.polls,
            self.whole_flow,
            self.whole_flow - self.polls,
            self.cold_cache_queries,
        )
    }
}

/// Runs one device flow (3 pending polls, 1 slow_down, 1 success) on a fresh server and counts.
pub async fn measure_request_budget(kind: StoreKind) -> Budget {
    let s = TestServer::start(kind).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let p1 = Dialect::PingOne;
    s.device_authorization(p1, auth, "openid").await;
    let cold_cache_queries = s.requests().get("list_applications").copied().unwrap_or_default();

    let grant = s.device_authorization(p1, auth, "openid").await;
    assert_eq!(grant.status, 200, "{grant:?}");
    let device_authorization = total(&s.requests());
    let flow = s.start_flow(None).await;
    let flow_start = total(&s.requests());

    let mut pending_polls = Vec::new();
    for _ in 0..3 {
        s.advance_s(5);
        let answer = s.poll(p1, auth, &grant.str("device_code")).await;
        assert_eq!(answer.json["error"], "authorization_pending", "{answer:?}");
        pending_polls.push(total(&s.requests()));
    }
    // A millisecond later (the same instant twice is one poll the SDK wrote twice).
    s.clock.advance_ms(1);
    let early = s.poll(p1, auth, &grant.str("device_code")).await;
    assert_eq!(early.json["error"], "slow_down", "{early:?}");
    let slow_down_poll = total(&s.requests());

    let login =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    assert_eq!(login.status, 200, "{login:?}");
    let login = total(&s.requests());
    let verify =
        s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": grant.str("user_code")})).await;
    assert_eq!(verify.status, 200, "{verify:?}");
    let verify = total(&s.requests());
    let consent = s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_eq!(consent.json["status"], "COMPLETED", "{consent:?}");
    let consent = total(&s.requests());

    s.advance_s(15);
    let tokens = s.poll(p1, auth, &grant.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let token_issue = total(&s.requests());
    s.stop().await;

    let polls = pending_polls.len() as u64 + 2;
    let whole_flow = device_authorization
        + flow_start
        + pending_polls.iter().sum::<u64>()
        + slow_down_poll
        + login
        + verify
        + consent
        + token_issue;
    Budget {
        cold_cache_queries,
        device_authorization,
        flow_start,
        pending_polls,
        slow_down_poll,
        login,
        verify,
        consent,
        token_issue,
        polls,
        whole_flow,
    }
}

/// Store requests of the authorization code flow's steps (warm instance).
#[derive(Debug)]
pub struct CodeBudget {
    pub authorize: u64,
    pub login: u64,
    pub consent: u64,
    pub resume: u64,
    pub token: u64,
    pub refresh: u64,
}

impl CodeBudget {
    pub fn report(&self, kind: StoreKind) -> String {
        format!(
            "{kind:?} store requests, code flow: authorize {}, sign-on {}, consent {}, resume {}, token {}, refresh {}",
            self.authorize, self.login, self.consent, self.resume, self.token, self.refresh
        )
    }
}

pub async fn measure_code_budget(kind: StoreKind) -> CodeBudget {
    use crate::{demo, WEB_APP_ID, WEB_APP_SECRET};
    let s = TestServer::start(kind).await;
    let web = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let p1 = Dialect::PingOne;
    // Warm the application cache.
    s.device_authorization(p1, Auth::Public(DEVICE_APP_ID), "openid").await;
    s.requests();
    let query = [
        ("response_type", "code"),
        ("client_id", WEB_APP_ID),
        ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
        ("scope", "openid"),
    ];
    let response = s.authorize(p1, &query).await;
    let authorize = total(&s.requests());
    let flow = TestServer::flow_of(&response);
    let login =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    // The demo web app has no consent step (PingOne): signing on completes the flow.
    assert_eq!(login.json["status"], "COMPLETED", "{login:?}");
    let login = total(&s.requests());
    let consent = 0;
    let back =
        s.browser_of(&flow).get(s.url(&format!("/{}/as/resume?flowId={flow}", crate::ENV))).send().await.unwrap();
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    let resume = total(&s.requests());
    let code = crate::query_value(&location, "code").unwrap();
    let tokens = s
        .post_form(
            &s.token_url(p1),
            web,
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", demo::WEB_APP_REDIRECT_URI)],
        )
        .await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let token = total(&s.requests());
    let refreshed = s
        .post_form(
            &s.token_url(p1),
            web,
            &[("grant_type", "refresh_token"), ("refresh_token", &tokens.str("refresh_token"))],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let refresh = total(&s.requests());
    s.stop().await;
    CodeBudget { authorize, login, consent, resume, token, refresh }
}
