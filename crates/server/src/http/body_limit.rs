//! The 16 KiB body limit of every route, enforced before routing: a route that takes no body
//! (`POST /auth/logout`, `POST /notifications/read-all`, any `GET`) must not act on a request
//! that carries a body past the limit, and must not read a body it has no use for.
//!
//! A declared `Content-Length` over the limit is answered 413 without reading a byte. A body
//! of unknown length (`Transfer-Encoding: chunked`) is read here up to the limit, within the
//! body timeout (408 past it), and handed on to the route as it arrived; one byte more is 413.
//! That costs at most 16 KiB of buffer, which a route that takes a body reads anyway.

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;

use super::json_body::{MAX_BODY_BYTES, body_timeout, read_body, too_large};
use super::problem::ApiError;

/// What the request's framing says about its body.
#[derive(Debug, PartialEq, Eq)]
enum Declared {
    /// No body, or one of a length within the limit: nothing to do here.
    Within,
    /// A `Content-Length` over the limit.
    TooLarge,
    /// Chunked: the length is known only once it is read.
    Unknown,
}

/// Reads `req`'s framing headers. actix-http has already refused a malformed or duplicated
/// `Content-Length` and a `Transfer-Encoding` other than chunked, so only these remain.
fn declared(req: &ServiceRequest) -> Declared {
    let headers = req.headers();
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        let length = length.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
        return match length {
            Some(n) if n <= MAX_BODY_BYTES as u64 => Declared::Within,
            _ => Declared::TooLarge,
        };
    }
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked { Declared::Unknown } else { Declared::Within }
}

/// Answers 413 (or 408) for a request whose body is over [`MAX_BODY_BYTES`], whatever its
/// route; lets every other request through with its body intact.
pub async fn limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match declared(&req) {
        Declared::Within => {}
        Declared::TooLarge => return Ok(refuse(req, too_large())),
        Declared::Unknown => {
            let timeout = body_timeout(req.request());
            match read_body(req.take_payload(), timeout).await {
                Ok(body) => req.set_payload(Bytes::from(body).into()),
                Err(problem) => return Ok(refuse(req, problem)),
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn refuse<B>(req: ServiceRequest, problem: ApiError) -> ServiceResponse<EitherBody<B>> {
    let response = actix_web::ResponseError::error_response(&problem);
    req.into_response(response).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn reads_the_framing() {
        let req = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::post();
            for (k, v) in headers {
                r = r.insert_header((*k, *v));
            }
            declared(&r.to_srv_request())
        };
        assert_eq!(req(&[]), Declared::Within);
        assert_eq!(req(&[("content-length", "16384")]), Declared::Within);
        assert_eq!(req(&[("content-length", "16385")]), Declared::TooLarge);
        assert_eq!(req(&[("content-length", "99999999999999999999999")]), Declared::TooLarge);
        assert_eq!(req(&[("transfer-encoding", "chunked")]), Declared::Unknown);
        assert_eq!(req(&[("transfer-encoding", "Chunked")]), Declared::Unknown);
    }
}
