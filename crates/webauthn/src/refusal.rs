//! The engine's errors sorted into what the client did wrong and what failed on our side.

use portcullis_domain::ports::{PasskeyError, PasskeyRefusal};
use webauthn_rs_core::error::WebauthnError as E;

/// Sorts an error of a ceremony's finish.
pub(crate) fn classify(e: E) -> PasskeyError {
    let refusal = match e {
        E::InvalidRPOrigin | E::CredentialCrossOrigin => PasskeyRefusal::Origin,
        E::InvalidRPIDHash => PasskeyRefusal::RpId,
        E::MismatchedChallenge => PasskeyRefusal::Challenge,
        E::InvalidClientDataType => PasskeyRefusal::CeremonyType,
        E::AuthenticationFailure | E::SignatureInvalid => PasskeyRefusal::Signature,
        E::UserNotVerified => PasskeyRefusal::UserNotVerified,
        E::UserNotPresent => PasskeyRefusal::UserNotPresent,
        E::CredentialPossibleCompromise => PasskeyRefusal::CounterWentBackwards,
        E::CredentialNotFound | E::CredentialAlteredAlgFromRequest | E::CredentialExcludedFromRequest => {
            PasskeyRefusal::UnknownCredential
        }
        E::ParseBase64Failure(_)
        | E::ParseCBORFailure(_)
        | E::ParseJSONFailure(_)
        | E::ParseNOMFailure
        | E::ParseInsufficientBytesAvailable
        | E::MissingAttestationCredentialData
        | E::AttestationStatementResponseMissing => return PasskeyError::Malformed(e.to_string()),
        E::Configuration | E::ChallengePersistenceError | E::CredentialPersistenceError => {
            return PasskeyError::Internal(e.to_string());
        }
        _ => PasskeyRefusal::Other,
    };
    PasskeyError::Refused(refusal)
}
