//! Middleware: counts every request by method, route pattern and status, and times it.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::metrics::{Metrics, labels};

/// Records the request in the app's [`Metrics`] (a no-op when metrics are disabled). The
/// route is the matched pattern, read after routing; the time runs to the response head
/// (the body is streamed afterwards).
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(metrics) = req.app_data::<web::Data<Metrics>>().cloned() else {
        return next.call(req).await;
    };
    let method = labels::method(req.method());
    let started = Instant::now();
    let result = next.call(req).await;
    let elapsed = started.elapsed();
    match &result {
        Ok(res) => {
            let route = labels::route(res.request().match_pattern());
            metrics.observe_request(method, &route, res.status().as_u16(), elapsed);
        }
        // Handlers turn their errors into responses, so this is an error of a middleware,
        // and the request (with its pattern) is gone.
        Err(e) => {
            metrics.observe_request(method, labels::UNMATCHED, e.as_response_error().status_code().as_u16(), elapsed);
        }
    }
    result
}
