//! Lambda function for `Endpoint::Applications`, the management API's applications (its routes are in
//! `shared::routes::ROUTES`).

functions::lambda_main!(Applications, shared::management::applications);
