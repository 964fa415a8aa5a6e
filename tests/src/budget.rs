//! The request budget of a whole device flow and of a code flow, step by step.
//!
//! On DynamoDB a step costs the requests the SDK sends (retries included), counted under the
//! client by the HTTP layer of `faults` with nothing armed; beside them, the store trait's calls
//! over the same step, as a cross-check (each store call should be one request). The embedded
//! store has no wire: there a step costs its store calls.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;
use shared::store::counting::total;
use shared::Dialect;

use crate::faults::Faults;
use shared::config::Settings;

use crate::{Auth, StoreKind, TestServer, DEVICE_APP_ID};

/// How the steps are counted.
pub enum Meter {
    /// The store trait's calls (the embedded store).
    StoreCalls,
    /// Every request the DynamoDB SDK sends, seen under the client.
    Wire(Faults),
}

/// A fresh server on `kind` and the meter that counts its requests, reset.
pub async fn metered_server(kind: StoreKind) -> (TestServer, Meter) {
    metered_server_with(kind, |_| {}).await
}

/// `metered_server` with settings changed by `configure`.
pub async fn metered_server_with(kind: StoreKind, configure: impl FnOnce(&mut Settings)) -> (TestServer, Meter) {
    let (s, meter) = match kind {
        StoreKind::Memory => (TestServer::start_with(kind, configure).await, Meter::StoreCalls),
        StoreKind::DynamoDb => {
            let wire = Faults::default();
            (TestServer::start_metered_with(&wire, configure).await, Meter::Wire(wire))
        }
    };
    meter.take(&s);
    (s, meter)
}

impl Meter {
    /// What was sent since the last `take`.
    pub fn take(&self, s: &TestServer) -> Step {
        let store_calls = s.requests();
        let operations: Vec<String> = match self {
            Meter::StoreCalls => {
                store_calls.iter().flat_map(|(call, n)| std::iter::repeat_n(call.to_string(), *n as usize)).collect()
            }
            Meter::Wire(wire) => wire.take_sent(),
        };
        Step { requests: operations.len() as u64, operations, store_calls }
    }

    /// What a step's requests are.
    pub fn unit(&self) -> &'static str {
        match self {
            Meter::StoreCalls => "store calls",
            Meter::Wire(_) => "DynamoDB requests sent (retries included)",
        }
    }
}

/// What one step cost.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// As the meter counts them.
    pub requests: u64,
    /// Where they went: DynamoDB operations in the order sent (`Query`, `UpdateItem`, ...) on
    /// the wire; the store calls, by name, on the embedded store.
    pub operations: Vec<String>,
    /// The store trait's calls over the same step.
    pub store_calls: BTreeMap<&'static str, u64>,
}

impl Step {
    pub fn operations(&self) -> Vec<&str> {
        self.operations.iter().map(String::as_str).collect()
    }

    /// The step's store calls, where they are not one request each.
    pub fn disagreement(&self) -> Option<String> {
        let calls = total(&self.store_calls);
        (calls != self.requests).then(|| {
            format!("{} requests {:?}, {calls} store calls {:?}", self.requests, self.operations, self.store_calls)
        })
    }
}

/// The per-step lines of a report: each step's requests and operations, then (on DynamoDB)
/// whether the store calls agree with them.
fn step_lines(kind: StoreKind, steps: &[(String, &Step)]) -> String {
    let mut out = String::new();
    for (name, step) in steps {
        let _ = write!(out, "\n  {name}: {} {:?}", step.requests, step.operations());
    }
    if kind == StoreKind::Memory {
        return out;
    }
    let disagreements: Vec<String> =
        steps.iter().filter_map(|(name, step)| Some(format!("{name}: {}", step.disagreement()?))).collect();
    if disagreements.is_empty() {
        out.push_str("\n  every step: one request per store call (store trait and wire agree)");
    } else {
        let _ = write!(out, "\n  store calls and requests DISAGREE: {}", disagreements.join("; "));
    }
    out
}

/// Requests per step of one device flow.
#[derive(Debug)]
pub struct Budget {
    pub kind: StoreKind,
    /// Whether the flow API hands a verified code to the client to hold
    /// (`FLOW_API_HOLDS_VERIFIED_CODES`; the hosted pages always do).
    pub holds_codes: bool,
    pub unit: &'static str,
    /// The first device authorization of a cold instance, which loads the environment's
    /// applications.
    pub cold_device_authorization: Step,
    pub device_authorization: Step,
    pub flow_start: Step,
    pub pending_polls: Vec<Step>,
    pub slow_down_poll: Step,
    pub login: Step,
    pub verify: Step,
    pub consent: Step,
    pub token_issue: Step,
}

impl Budget {
    /// N: polls of the flow, including the successful one.
    pub fn polls(&self) -> u64 {
        self.pending_polls.len() as u64 + 2
    }

    /// What a cold instance adds (the application query).
    pub fn cold_cache_requests(&self) -> u64 {
        self.cold_device_authorization.requests - self.device_authorization.requests
    }

    /// Every step, named, in the order of the flow.
    pub fn steps(&self) -> Vec<(String, &Step)> {
        let mut steps = vec![
            ("device authorization, cold instance".to_owned(), &self.cold_device_authorization),
            ("device authorization".to_owned(), &self.device_authorization),
            ("flow start".to_owned(), &self.flow_start),
        ];
        for (i, poll) in self.pending_polls.iter().enumerate() {
            steps.push((format!("pending poll {}", i + 1), poll));
        }
        steps.extend([
            ("slow_down poll".to_owned(), &self.slow_down_poll),
            ("sign-on".to_owned(), &self.login),
            ("code verification".to_owned(), &self.verify),
            ("consent".to_owned(), &self.consent),
            ("successful poll".to_owned(), &self.token_issue),
        ]);
        steps
    }

    /// The whole flow (warm instance): every step but the cold one.
    pub fn whole_flow(&self) -> u64 {
        self.steps().iter().skip(1).map(|(_, step)| step.requests).sum()
    }

    pub fn report(&self) -> String {
        format!(
            "{:?}{}, {}: device_authorization {}, flow start {}, login {}, code verification {}, consent {}, \
             pending poll {}, slow_down poll {}, successful poll {}; whole flow with N = {} polls: {} = N + {} \
             (cold instance: +{} for the applications){}",
            self.kind,
            if self.holds_codes { " (the client holds the verified code)" } else { "" },
            self.unit,
            self.device_authorization.requests,
            self.flow_start.requests,
            self.login.requests,
            self.verify.requests,
            self.consent.requests,
            self.pending_polls.first().map(|p| p.requests).unwrap_or_default(),
            self.slow_down_poll.requests,
            self.token_issue.requests,
            self.polls(),
            self.whole_flow(),
            self.whole_flow() - self.polls(),
            self.cold_cache_requests(),
            step_lines(self.kind, &self.steps()),
        )
    }
}

/// Runs one device flow (3 pending polls, 1 slow_down, 1 success) on the flow API of a fresh
/// server and counts; `holds_codes`: with `FLOW_API_HOLDS_VERIFIED_CODES` on.
pub async fn measure_request_budget(kind: StoreKind, holds_codes: bool) -> Budget {
    let (s, meter) = metered_server_with(kind, |c| c.flow_api_holds_verified_codes = holds_codes).await;
    let auth = Auth::Public(DEVICE_APP_ID);
    let p1 = Dialect::PingOne;
    let cold = s.device_authorization(p1, auth, "openid").await;
    assert_eq!(cold.status, 200, "{cold:?}");
    let cold_device_authorization = meter.take(&s);

    let grant = s.device_authorization(p1, auth, "openid").await;
    assert_eq!(grant.status, 200, "{grant:?}");
    let device_authorization = meter.take(&s);
    let flow = s.start_flow(None).await;
    let flow_start = meter.take(&s);

    let mut pending_polls = Vec::new();
    for _ in 0..3 {
        s.advance_s(5);
        let answer = s.poll(p1, auth, &grant.str("device_code")).await;
        assert_eq!(answer.json["error"], "authorization_pending", "{answer:?}");
        pending_polls.push(meter.take(&s));
    }
    // A millisecond later (the same instant twice is one poll the SDK wrote twice).
    s.clock.advance_ms(1);
    let early = s.poll(p1, auth, &grant.str("device_code")).await;
    assert_eq!(early.json["error"], "slow_down", "{early:?}");
    let slow_down_poll = meter.take(&s);

    let login =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    assert_eq!(login.status, 200, "{login:?}");
    let login = meter.take(&s);
    let verify =
        s.flow_action(&flow, "deviceAuthGrant.userCode.verify", json!({"userCode": grant.str("user_code")})).await;
    assert_eq!(verify.status, 200, "{verify:?}");
    let verify = meter.take(&s);
    let consent = s.flow_action(&flow, "deviceAuthGrant.consent", json!({"accept": true})).await;
    assert_eq!(consent.json["status"], "COMPLETED", "{consent:?}");
    let consent = meter.take(&s);

    s.advance_s(15);
    let tokens = s.poll(p1, auth, &grant.str("device_code")).await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let token_issue = meter.take(&s);
    s.stop().await;

    Budget {
        holds_codes,
        kind,
        unit: meter.unit(),
        cold_device_authorization,
        device_authorization,
        flow_start,
        pending_polls,
        slow_down_poll,
        login,
        verify,
        consent,
        token_issue,
    }
}

/// Requests of the authorization code flow's steps (warm instance).
#[derive(Debug)]
pub struct CodeBudget {
    pub kind: StoreKind,
    pub unit: &'static str,
    pub authorize: Step,
    pub login: Step,
    /// The demo web app has no consent step (PingOne): nothing is sent.
    pub consent: Step,
    pub resume: Step,
    pub token: Step,
    pub refresh: Step,
}

impl CodeBudget {
    pub fn steps(&self) -> Vec<(String, &Step)> {
        [
            ("authorize", &self.authorize),
            ("sign-on", &self.login),
            ("consent", &self.consent),
            ("resume", &self.resume),
            ("token", &self.token),
            ("refresh", &self.refresh),
        ]
        .into_iter()
        .map(|(name, step)| (name.to_owned(), step))
        .collect()
    }

    pub fn report(&self) -> String {
        format!(
            "{:?}, {}, code flow: authorize {}, sign-on {}, consent {}, resume {}, token {}, refresh {}{}",
            self.kind,
            self.unit,
            self.authorize.requests,
            self.login.requests,
            self.consent.requests,
            self.resume.requests,
            self.token.requests,
            self.refresh.requests,
            step_lines(self.kind, &self.steps()),
        )
    }
}

pub async fn measure_code_budget(kind: StoreKind) -> CodeBudget {
    use crate::{demo, WEB_APP_ID, WEB_APP_SECRET};
    let (s, meter) = metered_server(kind).await;
    let web = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let p1 = Dialect::PingOne;
    // Warm the application cache.
    s.device_authorization(p1, Auth::Public(DEVICE_APP_ID), "openid").await;
    meter.take(&s);
    let query = [
        ("response_type", "code"),
        ("client_id", WEB_APP_ID),
        ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
        ("scope", "openid"),
    ];
    let response = s.authorize(p1, &query).await;
    assert_eq!(response.status(), 302, "{response:?}");
    let authorize = meter.take(&s);
    let flow = TestServer::flow_of(&response);
    let login =
        s.flow_action(&flow, "usernamePassword.check", json!({"username": "demo", "password": "demo-password"})).await;
    // The demo web app has no consent step (PingOne): signing on completes the flow.
    assert_eq!(login.json["status"], "COMPLETED", "{login:?}");
    let login = meter.take(&s);
    let consent = Step::default();
    let back =
        s.browser_of(&flow).get(s.url(&format!("/{}/as/resume?flowId={flow}", crate::ENV))).send().await.unwrap();
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    let resume = meter.take(&s);
    let code = crate::query_value(&location, "code").unwrap();
    let tokens = s
        .post_form(
            &s.token_url(p1),
            web,
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", demo::WEB_APP_REDIRECT_URI)],
        )
        .await;
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let token = meter.take(&s);
    let refreshed = s
        .post_form(
            &s.token_url(p1),
            web,
            &[("grant_type", "refresh_token"), ("refresh_token", &tokens.str("refresh_token"))],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let refresh = meter.take(&s);
    s.stop().await;
    CodeBudget { kind, unit: meter.unit(), authorize, login, consent, resume, token, refresh }
}
