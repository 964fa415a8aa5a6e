//! Lambda function for `Endpoint::DeviceStart` (its routes are in `shared::routes::ROUTES`).

functions::lambda_main!(DeviceStart, shared::endpoints::device::handle);
