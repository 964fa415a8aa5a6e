//! Lambda function for `Endpoint::Token` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Token, shared::endpoints::token::handle);
