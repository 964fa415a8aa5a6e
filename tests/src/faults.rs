//! A fault-injecting HTTP layer under the DynamoDB client: the SDK (its retries, timeouts and
//! error classification) runs as in production, and the chosen request of a step meets the chosen
//! fault, on every attempt the SDK makes of it (retries resend the same body) unless the fault is
//! a one-off. It also counts every request the SDK sends, retries included.
//!
//! DynamoDB makes a `TransactWriteItems` retried with the same `ClientRequestToken` (the SDK sets
//! one per request) a no-op that answers as the first did; moto does not, so this layer answers
//! such a retry itself, with the first attempt's real answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::{HttpRequest, HttpResponse};
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// What happens to the targeted request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB throttles every attempt (400 `ThrottlingException`); nothing is written.
    Throttled,
    /// Every attempt times out before DynamoDB sees it; nothing is written.
    Timeout,
    /// Every attempt fails with 500; nothing is written.
    ServerError,
    /// Every attempt reaches DynamoDB (the write happens) and its answer is lost (500).
    AnswerLost,
    /// The first attempt is throttled; the SDK's retry goes through.
    ThrottledOnce,
    /// The first attempt's write happens and its answer is lost; the SDK's retry gets a real
    /// answer (for a transaction, DynamoDB's idempotent one).
    AnswerLostOnce,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::Throttled,
        Fault::Timeout,
        Fault::ServerError,
        Fault::AnswerLost,
        Fault::ThrottledOnce,
        Fault::AnswerLostOnce,
    ];

    /// Whether the SDK gives up on the request (the endpoint must answer 503), or absorbs it.
    pub fn persists(self) -> bool {
        !matches!(self, Fault::ThrottledOnce | Fault::AnswerLostOnce)
    }
}

#[derive(Default)]
struct State {
    /// Fresh requests to let through before the targeted one, and its fault.
    armed: Option<(usize, Fault)>,
    /// The targeted request (target and body) and how many attempts of it were seen.
    hit: Option<(String, Vec<u8>, Fault, u32)>,
    /// First real answers of transactions whose answer was lost (DynamoDB's idempotency).
    replies: HashMap<Vec<u8>, (u16, Vec<u8>)>,
    /// The operation of every request sent, retries included.
    sent: Vec<String>,
}

/// The shared switchboard: arm a fault, run a step, disarm.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<State>>);

impl Faults {
    /// The `index`-th fresh request from now (0 = the next) meets `fault`.
    pub fn arm(&self, index: usize, fault: Fault) {
        let mut state = self.0.lock().unwrap();
        state.armed = Some((index, fault));
        state.hit = None;
    }

    /// Stops injecting; the operation the armed fault met, if it met one.
    pub fn disarm(&self) -> Option<String> {
        let mut state = self.0.lock().unwrap();
        state.armed = None;
        state.hit.take().map(|(target, ..)| target.rsplit('.').next().unwrap_or_default().to_owned())
    }

    /// Operations sent since the last call (`UpdateItem`, ...), retries included.
    pub fn take_sent(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap().sent)
    }

    /// An HTTP client for the SDK that passes through `inner` except where a fault is armed.
    pub fn http_client(&self) -> SharedHttpClient {
        let inner = aws_smithy_http_client::Builder::new().build_http();
        SharedHttpClient::new(FaultyClient { inner, faults: self.clone() })
    }

    /// What to do with one attempt: `None` passes it through untouched.
    fn judge(&self, target: &str, body: &[u8], first_attempt: bool) -> Option<(Fault, u32)> {
        let mut state = self.0.lock().unwrap();
        state.sent.push(target.rsplit('.').next().unwrap_or(target).to_owned());
        if let Some((t, b, fault, attempts)) = state.hit.as_mut() {
            if t == target && b == body {
                *attempts += 1;
                return Some((*fault, *attempts));
            }
        }
        if !first_attempt {
            return None;
        }
        match state.armed {
            Some((0, fault)) => {
                state.armed = None;
                state.hit = Some((target.to_owned(), body.to_vec(), fault, 1));
                Some((fault, 1))
            }
            Some((n, fault)) => {
                state.armed = Some((n - 1, fault));
                None
            }
            None => None,
        }
    }
}

#[derive(Debug)]
struct FaultyClient {
    inner: SharedHttpClient,
    faults: Faults,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faults")
    }
}

impl HttpClient for FaultyClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let inner = self.inner.http_connector(settings, components);
        SharedHttpConnector::new(FaultyConnector { inner, faults: self.faults.clone() })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

fn answer(status: u16, body: &[u8]) -> HttpResponse {
    let mut response = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body.to_vec()));
    response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
    response
}

fn throttled() -> HttpResponse {
    answer(
        400,
        br#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
    )
}

fn server_error() -> HttpResponse {
    answer(500, br#"{"__type":"com.amazon.coral.service#InternalFailure","message":"injected"}"#)
}

async fn read(response: HttpResponse) -> (u16, Vec<u8>) {
    let status = u16::from(response.status());
    let bytes = response.into_body().collect().await.map(|c| c.to_bytes().to_vec()).unwrap_or_default();
    (status, bytes)
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").unwrap_or_default().to_owned();
        let body = request.body().bytes().unwrap_or_default().to_vec();
        let transaction = target.ends_with(".TransactWriteItems");
        // The SDK numbers the attempts of one request (`amz-sdk-request: attempt=2; max=3`).
        let attempt = request.headers().get("amz-sdk-request").unwrap_or_default();
        let verdict = self.faults.judge(&target, &body, attempt.starts_with("attempt=1;") || attempt.is_empty());
        let (inner, faults) = (self.inner.clone(), self.faults.clone());
        HttpConnectorFuture::new(async move {
            let Some((fault, attempt)) = verdict else {
                return inner.call(request).await;
            };
            match (fault, attempt) {
                (Fault::Throttled, _) | (Fault::ThrottledOnce, 1) => Ok(throttled()),
                (Fault::ServerError, _) => Ok(server_error()),
                (Fault::Timeout, _) => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(server_error())
                }
                (Fault::AnswerLost | Fault::AnswerLostOnce, _) if transaction && attempt > 1 => {
                    // DynamoDB: the same ClientRequestToken changes nothing and answers as before.
                    let first = faults.0.lock().unwrap().replies.get(&body).cloned();
                    match (fault, first) {
                        (Fault::AnswerLostOnce, Some((status, bytes))) => Ok(answer(status, &bytes)),
                        _ => Ok(server_error()),
                    }
                }
                (Fault::AnswerLost, _) | (Fault::AnswerLostOnce, 1) => {
                    let real = read(inner.call(request).await?).await;
                    if transaction {
                        faults.0.lock().unwrap().replies.insert(body, real);
                    }
                    Ok(server_error())
                }
                _ => inner.call(request).await,
            }
        })
    }
}
