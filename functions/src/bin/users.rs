//! Lambda function for `Endpoint::Users`, the management API's users (its routes are in
//! `shared::routes::ROUTES`).

functions::lambda_main!(Users, shared::management::users);
