//! Prints the store requests of each step of a device flow: on the embedded store, and on
//! DynamoDB when `DYNAMODB_ENDPOINT_URL` names a DynamoDB-compatible server.
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
        println!("{}", measure_request_budget(kind).await.report(kind));
        println!("{}", measure_code_budget(kind).await.report(kind));
    }
}
