//! Lambda function for `Endpoint::Flow` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Flow, shared::endpoints::flows::handle);
