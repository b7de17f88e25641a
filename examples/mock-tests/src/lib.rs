//! "Tea Club", an imaginary application that signs its members up with Portcullis: the code
//! under test in this example. Its test suite (`tests/`) shows how an application tests such
//! code with nothing but `portcullis-testing`: a controllable clock, a capturing mailer that
//! hands over sent messages and the codes in them, builders for users and sessions, and the
//! port mocks.

use portcullis_domain::model::{Email, OneTimeCode, RequestContext};
use portcullis_domain::ports::Ports;
use portcullis_domain::{Portcullis, RedeemCodeError, RegisterError, RegisterUser};

/// What the application tells a would-be member.
#[derive(Debug, PartialEq, Eq)]
pub enum Joining {
    /// Check your inbox for the code.
    CodeSent,
    /// The form needs fixing; the fields to fix.
    FixFields(Vec<String>),
    /// Something is down; try again later.
    TryLater,
}

/// What the application tells a member confirming their address.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirming {
    /// Welcome to the club.
    Welcome,
    /// The code is wrong or was replaced by a newer one.
    WrongCode,
    /// The code is too old: ask for a new one.
    Expired,
    /// Something is down, or too many tries; try again later.
    TryLater,
}

/// Signs a would-be member up: Portcullis validates, stores and mails the code.
pub async fn join<P: Ports>(
    auth: &Portcullis<P>,
    name: &str,
    email: &str,
    password: &str,
    ctx: &RequestContext,
) -> Joining {
    let form = match RegisterUser::parse(name, email, password, auth.policy().password) {
        Ok(form) => form,
        Err(errors) => return Joining::FixFields(errors.into_iter().map(|e| e.field).collect()),
    };
    match auth.register(form, ctx).await {
        // The same answer for a new address and a taken one: Portcullis mails the owner of a
        // taken address instead, so the form never reveals who is a member.
        Ok(_) => Joining::CodeSent,
        // Portcullis's error enums are `#[non_exhaustive]`: outcomes added later land here.
        Err(RegisterError::RateLimited { .. } | RegisterError::Infra(_) | _) => Joining::TryLater,
    }
}

/// Confirms a member's address with the code they typed.
pub async fn confirm<P: Ports>(auth: &Portcullis<P>, email: &str, code: &str, ctx: &RequestContext) -> Confirming {
    let (Ok(email), Ok(code)) = (Email::parse(email), OneTimeCode::parse(code)) else {
        return Confirming::WrongCode;
    };
    match auth.verify_email(&email, &code, ctx).await {
        Ok(()) => Confirming::Welcome,
        Err(RedeemCodeError::InvalidCode) => Confirming::WrongCode,
        Err(RedeemCodeError::CodeExpired) => Confirming::Expired,
        Err(_) => Confirming::TryLater,
    }
}
