//! Lambda function for `Endpoint::Populations`, the management API's populations (its routes are in
//! `shared::routes::ROUTES`).

functions::lambda_main!(Populations, shared::management::populations);
