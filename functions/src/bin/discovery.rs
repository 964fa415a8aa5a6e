//! Lambda function for `Endpoint::Discovery` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Discovery, shared::endpoints::discovery::handle);
