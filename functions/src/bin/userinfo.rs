//! Lambda function for `Endpoint::Userinfo` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(Userinfo, shared::endpoints::userinfo::handle);
