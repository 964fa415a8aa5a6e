//! Lambda function for `Endpoint::UserAuthorization` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(UserAuthorization, shared::endpoints::user_authorization::handle);
