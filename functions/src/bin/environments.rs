//! Lambda function for `Endpoint::Environments`, the management API's environments (its routes are in
//! `shared::routes::ROUTES`).

functions::lambda_main!(Environments, shared::management::environments);
