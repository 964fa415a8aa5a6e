//! The fault matrix: every store request of every step of the device flow, the code flow and
//! refresh, and of the management API's user steps, meets each fault of `blackbox::faults::Fault` (throttling, timeout, 500, a write whose
//! answer is lost; persistent, or once so that the SDK's retry absorbs it) on DynamoDB. For each:
//! the step answers in its endpoint's own error shape (503 `temporarily_unavailable` with
//! `Retry-After` on OAuth routes, PingOne's error object with 503 on the flow API, a 503 page) or
//! succeeds; the client's retry completes the flow; and exactly one token answer comes out of one
//! code, its tokens alive. Prints the table of outcomes.

use std::future::Future;

use blackbox::faults::{Fault, Faults};
use blackbox::*;
use serde_json::json;
use shared::Dialect;

const P1: Dialect = Dialect::PingOne;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    DeviceAuthorization,
    PendingPoll,
    SignOn,
    UserCode,
    Consent,
    Redemption,
    Authorize,
    CodeSignOn,
    Resume,
    CodeToken,
    Refresh,
    CreateUser,
    SetPassword,
    RenameUser,
    DeleteUser,
}

const DEVICE_STEPS: [Step; 6] =
    [Step::DeviceAuthorization, Step::PendingPoll, Step::SignOn, Step::UserCode, Step::Consent, Step::Redemption];
const CODE_STEPS: [Step; 5] = [Step::Authorize, Step::CodeSignOn, Step::Resume, Step::CodeToken, Step::Refresh];
const MANAGEMENT_STEPS: [Step; 4] = [Step::CreateUser, Step::SetPassword, Step::RenameUser, Step::DeleteUser];

#[derive(Clone, Copy, Debug)]
struct Case {
    step: Step,
    index: usize,
    fault: Fault,
}

/// One walk of a flow, with at most one fault.
struct Walk<'a> {
    s: &'a TestServer,
    faults: &'a Faults,
    case: Option<Case>,
    /// Requests each step sent (the dry run's measure).
    sent: Vec<(Step, Vec<String>)>,
    /// The targeted step's first answer: status, and the operation the fault hit.
    first: Option<(u16, String)>,
    token_answers: usize,
}

impl<'a> Walk<'a> {
    fn new(s: &'a TestServer, faults: &'a Faults, case: Option<Case>) -> Self {
        // A new hour: every rate window of the earlier walks is over.
        s.advance_s(3600);
        faults.take_sent();
        Self { s, faults, case, sent: Vec::new(), first: None, token_answers: 0 }
    }

    /// Sends a step (with the fault when it is the targeted one); on a 503 checks its shape.
    async fn step<F, Fut>(&mut self, step: Step, call: F) -> Answer
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Answer>,
    {
        let targeted = self.case.filter(|c| c.step == step);
        self.faults.take_sent();
        if let Some(c) = targeted {
            self.faults.arm(c.index, c.fault);
        }
        let answer = call().await;
        let sent = self.faults.take_sent();
        if let Some(c) = targeted {
            let hit = self.faults.disarm();
            let hit = hit.unwrap_or_else(|| panic!("{c:?}: the step sent fewer requests than the dry run ({sent:?})"));
            self.first = Some((answer.status, hit));
            if answer.status >= 500 {
                assert_unavailable(step, &answer, c);
            }
        }
        self.sent.push((step, sent));
        answer
    }
}

/// The endpoint's own answer to a store that failed.
fn assert_unavailable(step: Step, answer: &Answer, case: Case) {
    assert_eq!(answer.status, 503, "{case:?}: {answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"), "{case:?}: {answer:?}");
    match step {
        Step::DeviceAuthorization | Step::PendingPoll | Step::Redemption | Step::CodeToken | Step::Refresh => {
            assert_eq!(answer.json["error"], "temporarily_unavailable", "{case:?}: {answer:?}")
        }
        Step::SignOn
        | Step::UserCode
        | Step::Consent
        | Step::CodeSignOn
        | Step::CreateUser
        | Step::SetPassword
        | Step::RenameUser
        | Step::DeleteUser => {
            assert_eq!(answer.json["code"], "UNEXPECTED_ERROR", "{case:?}: {answer:?}");
            assert!(answer.json["id"].is_string(), "PingOne's error object: {answer:?}");
        }
        Step::Authorize | Step::Resume => {
            assert!(answer.header("content-type").unwrap_or_default().starts_with("text/html"), "{answer:?}")
        }
    }
}

/// A flow API step as a PingOne client takes it: on an error, once more; if the first try was
/// applied after all, the flow shows the status it led to.
async fn flow_step(w: &mut Walk<'_>, step: Step, flow: &str, action: &str, body: serde_json::Value, next: &str) {
    let s = w.s;
    let first = w.step(step, || s.flow_action(flow, action, body.clone())).await;
    if first.status == 200 && first.json["status"] == next {
        return;
    }
    let again = s.flow_action(flow, action, body.clone()).await;
    if again.status == 200 && again.json["status"] == next {
        return;
    }
    let current = s.get_flow(flow).await;
    let sent = w.sent.last();
    assert_eq!(current.json["status"], next, "{:?}: first {first:?} ({sent:?}), retried {again:?}", w.case);
}

/// Polls as a device does (waiting the interval, more after `slow_down`, retrying a 503) until
/// the answer is not `authorization_pending` (or, for the pending step, until it is).
async fn poll(w: &mut Walk<'_>, step: Step, device_code: &str, auth: Auth<'_>) -> Answer {
    let s = w.s;
    let mut interval = 5;
    let mut targeted = true;
    let mut seen = Vec::new();
    for _ in 0..6 {
        s.advance_s(interval);
        let answer = if targeted {
            targeted = false;
            w.step(step, || s.poll(P1, auth, device_code)).await
        } else {
            s.poll(P1, auth, device_code).await
        };
        if answer.status == 200 {
            w.token_answers += 1;
        }
        seen.push(format!("{} {}", answer.status, answer.json["error"]));
        match answer.json["error"].as_str() {
            Some("temporarily_unavailable") => continue,
            Some("slow_down") => interval += 5,
            Some("authorization_pending") if step == Step::PendingPoll => return answer,
            Some("authorization_pending") => continue,
            _ => return answer,
        }
    }
    panic!("{:?}: the device never got an answer: {seen:?}", w.case);
}

async fn device_flow(w: &mut Walk<'_>) {
    let s = w.s;
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let mut grant =
        w.step(Step::DeviceAuthorization, || s.device_authorization(P1, auth, "openid offline_access")).await;
    if grant.status != 200 {
        grant = s.device_authorization(P1, auth, "openid offline_access").await;
    }
    assert_eq!(grant.status, 200, "{:?}: {grant:?}", w.case);
    let device_code = grant.str("device_code");
    let pending = poll(w, Step::PendingPoll, &device_code, auth).await;
    assert_eq!(pending.json["error"], "authorization_pending", "{:?}: {pending:?}", w.case);
    let flow = s.start_flow(None).await;
    let credentials = json!({"username": demo::USERNAME, "password": demo::PASSWORD});
    flow_step(w, Step::SignOn, &flow, "usernamePassword.check", credentials, "DAG_USER_CODE_REQUIRED").await;
    let code = json!({"userCode": grant.str("user_code")});
    flow_step(w, Step::UserCode, &flow, "deviceAuthGrant.userCode.verify", code, "DAG_CONSENT_REQUIRED").await;
    flow_step(w, Step::Consent, &flow, "deviceAuthGrant.consent", json!({"accept": true}), "COMPLETED").await;
    let tokens = poll(w, Step::Redemption, &device_code, auth).await;
    assert_eq!(tokens.status, 200, "{:?}: the device gets its tokens: {tokens:?}", w.case);
    assert_eq!(w.token_answers, 1, "{:?}: one token answer for one device code", w.case);
    assert_alive(s, &tokens).await;
}

async fn code_flow(w: &mut Walk<'_>) {
    let s = w.s;
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    let query = [
        ("response_type", "code"),
        ("client_id", WEB_APP_ID),
        ("redirect_uri", demo::WEB_APP_REDIRECT_URI),
        ("scope", "openid offline_access"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let person = browser();
    let authorize = || async { Answer::read(s.authorize_in(&person, P1, &query).await).await };
    let mut to_pages = w.step(Step::Authorize, authorize).await;
    if to_pages.status != 302 {
        to_pages = authorize().await;
    }
    let location = to_pages.header("location").unwrap_or_default().to_owned();
    let flow = location.split("flowId=").nth(1).unwrap_or_else(|| panic!("{:?}: {to_pages:?}", w.case)).to_owned();
    let credentials = json!({"username": demo::USERNAME, "password": demo::PASSWORD});
    flow_step(w, Step::CodeSignOn, &flow, "usernamePassword.check", credentials, "COMPLETED").await;
    let resume_url = s.url(&format!("/{ENV}/as/resume?flowId={flow}"));
    let resume = || async { Answer::read(person.get(&resume_url).send().await.unwrap()).await };
    let mut back = w.step(Step::Resume, resume).await;
    if back.status != 302 {
        back = resume().await;
    }
    let location = back.header("location").unwrap_or_default().to_owned();
    let code = query_value(&location, "code").unwrap_or_else(|| panic!("{:?}: resumed {back:?}", w.case));
    let mut tokens = w.step(Step::CodeToken, || s.redeem(P1, auth, &code)).await;
    let mut token_answers = usize::from(tokens.status == 200);
    if tokens.status != 200 {
        tokens = s.redeem(P1, auth, &code).await;
        token_answers += usize::from(tokens.status == 200);
    }
    assert_eq!(tokens.status, 200, "{:?}: {tokens:?}", w.case);
    assert_eq!(token_answers, 1, "{:?}", w.case);
    assert_alive(s, &tokens).await;
    let refresh_token = tokens.str("refresh_token");
    let token_url = s.token_url(P1);
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
    let mut refreshed = w.step(Step::Refresh, || s.post_form(&token_url, auth, &form)).await;
    if refreshed.status != 200 {
        refreshed = s.post_form(&token_url, auth, &form).await;
    }
    assert_eq!(refreshed.status, 200, "{:?}: a retried refresh completes: {refreshed:?}", w.case);
    assert_alive(s, &refreshed).await;
}

/// The tokens of a flow are alive: nothing the faults caused revoked them.
async fn assert_alive(s: &TestServer, tokens: &Answer) {
    let introspect = s.url(&format!("/{ENV}/as/introspect"));
    let auth = Auth::Basic(WEB_APP_ID, WEB_APP_SECRET);
    for token in [tokens.str("access_token"), tokens.str("refresh_token")] {
        let answer = s.post_form(&introspect, auth, &[("token", &token)]).await;
        assert_eq!(answer.json["active"], true, "{answer:?}");
    }
}

/// Runs the matrix for one flow: a dry run measures each step's requests, then every (step,
/// request, fault) runs on its own walk. Returns the table rows.
async fn matrix<'a, W, Fut>(steps: &[Step], walk: W) -> Vec<String>
where
    W: Fn(Walk<'a>) -> Fut,
    Fut: Future<Output = Walk<'a>> + 'a,
{
    // Two matrices at a time: three walking at once load the one test server past its timeouts.
    static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let _slot = RUNNING.acquire().await.expect("the semaphore stays open");
    let faults: &'static Faults = Box::leak(Box::default());
    let start = || async { &*Box::leak(Box::new(TestServer::start_with_faults(faults).await)) };
    let dry = walk(Walk::new(start().await, faults, None)).await;
    let mut rows = Vec::new();
    for &step in steps {
        // A fresh table per step: moto copies a whole table for every transaction.
        let s: &'static TestServer = start().await;
        let requests = dry.sent.iter().find(|(st, _)| *st == step).map(|(_, r)| r.clone()).unwrap_or_default();
        assert!(!requests.is_empty() || step == Step::PendingPoll, "{step:?} sends no store request");
        for (index, operation) in requests.iter().enumerate() {
            for fault in Fault::ALL {
                let case = Case { step, index, fault };
                let done = walk(Walk::new(s, faults, Some(case))).await;
                let (status, hit) = done.first.clone().unwrap_or_default();
                assert_eq!(&hit, operation, "{case:?}: the same request as in the dry run");
                // The step's own success (a pending poll's is `authorization_pending`), or 503.
                let success = match step {
                    Step::PendingPoll => 400,
                    Step::Authorize | Step::Resume => 302,
                    Step::CreateUser => 201,
                    Step::DeleteUser => 204,
                    _ => 200,
                };
                if fault.persists() {
                    assert!(status == 503 || status == success, "{case:?}: answered {status}");
                } else {
                    assert_eq!(status, success, "{case:?}: the SDK's retry absorbs a one-off fault");
                }
                rows.push(format!("| {step:?} | {} {operation} | {fault:?} | {status} | completed |", index + 1));
            }
        }
    }
    rows
}

/// The users named `username` (the list filtered).
async fn users_named(s: &TestServer, token: &str, username: &str) -> Vec<serde_json::Value> {
    let filter = shared::http::encode_query_value(&format!("username eq \"{username}\""));
    let path = format!("/environments/{ENV}/users?filter={filter}");
    let list = s.api(reqwest::Method::GET, &path, Some(token), None).await;
    assert_eq!(list.status, 200, "{list:?}");
    list.json["_embedded"]["users"].as_array().unwrap().clone()
}

/// A management step as a client takes it: on a 5xx, once more. `settled` says whether an answer
/// shows the change was made (by the retry, or by the first try after all).
async fn management_step<F, Fut>(w: &mut Walk<'_>, step: Step, call: F, settled: impl Fn(&Answer) -> bool) -> Answer
where
    F: Fn() -> Fut,
    Fut: Future<Output = Answer>,
{
    let first = w.step(step, &call).await;
    if settled(&first) {
        return first;
    }
    assert!(first.status >= 500, "{:?}: {first:?}", w.case);
    let again = call().await;
    assert!(settled(&again), "{:?}: first {first:?}, retried {again:?}", w.case);
    again
}

/// Seed 004's user steps and their undoing: create, set the password, rename, delete. Whatever
/// the fault, the change is made once and whole: one user of the name, who signs on with the
/// password, under the new name only, and is then gone with its name free.
async fn management(w: &mut Walk<'_>) {
    let s = w.s;
    let token = s.admin_token().await;
    let name = format!("fault-{}", uuid::Uuid::new_v4().simple());
    let users = format!("/environments/{ENV}/users");
    let body = json!({"username": name, "email": format!("{name}@example.com")});
    let create = || s.api(reqwest::Method::POST, &users, Some(&token), Some(body.clone()));
    // A retry of a create whose first try was applied meets its own username.
    let created = management_step(w, Step::CreateUser, create, |a| {
        a.status == 201 || (a.status == 400 && a.json["details"][0]["code"] == "UNIQUENESS_VIOLATION")
    })
    .await;
    let found = users_named(s, &token, &name).await;
    assert_eq!(found.len(), 1, "{:?}: one user of the name: {created:?}", w.case);
    let id = found[0]["id"].as_str().unwrap().to_owned();

    let password = format!("{users}/{id}/password");
    let media = "application/vnd.pingidentity.password.set+json";
    let set =
        || s.api_as(reqwest::Method::PUT, &password, Some(&token), Some((media, json!({"value": "Fault-Pass1"}))));
    management_step(w, Step::SetPassword, set, |a| a.status == 200).await;

    let renamed = format!("{name}-2");
    let user = format!("{users}/{id}");
    let rename = || s.api(reqwest::Method::PATCH, &user, Some(&token), Some(json!({"username": renamed})));
    management_step(w, Step::RenameUser, rename, |a| a.status == 200).await;
    assert!(users_named(s, &token, &name).await.is_empty(), "{:?}: the old name is gone", w.case);
    let flow = s.start_flow(None).await;
    let credentials = json!({"username": renamed, "password": "Fault-Pass1"});
    let signed = s.flow_action(&flow, "usernamePassword.check", credentials).await;
    assert_eq!(signed.json["status"], "DAG_USER_CODE_REQUIRED", "{:?}: {signed:?}", w.case);

    let delete = || s.api(reqwest::Method::DELETE, &user, Some(&token), None);
    // A retry of a delete whose first try was applied finds nothing to delete.
    management_step(w, Step::DeleteUser, delete, |a| a.status == 204 || a.status == 404).await;
    assert_eq!(s.api(reqwest::Method::GET, &user, Some(&token), None).await.status, 404, "{:?}", w.case);
    let again = s
        .api(reqwest::Method::POST, &users, Some(&token), Some(json!({"username": renamed, "email": "x@example.com"})))
        .await;
    assert_eq!(again.status, 201, "{:?}: the name is free again: {again:?}", w.case);
}

fn print(rows: &[String]) {
    println!("| step | request | fault | first answer | after the client's retry |\n| --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}

#[tokio::test]
async fn device_flow_survives_every_store_fault() {
    let rows = matrix(&DEVICE_STEPS, |mut w| async move {
        device_flow(&mut w).await;
        w
    })
    .await;
    print(&rows);
}

#[tokio::test]
async fn management_changes_survive_every_store_fault() {
    let rows = matrix(&MANAGEMENT_STEPS, |mut w| async move {
        management(&mut w).await;
        w
    })
    .await;
    print(&rows);
}

#[tokio::test]
async fn code_flow_and_refresh_survive_every_store_fault() {
    let rows = matrix(&CODE_STEPS, |mut w| async move {
        code_flow(&mut w).await;
        w
    })
    .await;
    print(&rows);
}
