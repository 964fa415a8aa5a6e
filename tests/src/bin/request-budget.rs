//! Prints the requests of each step of a device flow and of a code flow: on the embedded store
//! (its store calls), and on DynamoDB when `DYNAMODB_ENDPOINT_URL` names a DynamoDB-compatible
//! server (the requests the SDK sends, retries included, with the operations of each step).
//!
//! `cargo run -p blackbox --bin request-budget`

use blackbox::budget::{measure_code_budget, measure_request_budget};
use blackbox::StoreKind;

#[tokio::main]
async fn main() {
    let mut kinds = vec![StoreKind::Memory];
    if std::env::var_os("DYNAMODB_ENDPOINT_URL").is_some() {
        kinds.push(StoreKind::DynamoDb);
    } else {
        eprintln!("(set DYNAMODB_ENDPOINT_URL to measure on DynamoDB too)");
    }
    for kind in kinds {
        for holds_codes in [false, true] {
            println!("{}", measure_request_budget(kind, holds_codes).await.report());
        }
        println!("{}", measure_code_budget(kind).await.report());
    }
}
