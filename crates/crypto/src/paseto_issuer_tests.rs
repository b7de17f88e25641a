//! Tests of the PASETO issuer: claims, expiry, footers and the retired keys.

use std::time::Duration;

use portcullis_domain::model::{SessionId, UserId};

use super::*;

fn issuer(byte: u8) -> PasetoIssuer {
    PasetoIssuer::from_key_bytes(&[byte; 32]).unwrap()
}

fn claims() -> AccessClaims {
    let issued_at = Timestamp::from_unix_millis(1_772_945_185_344);
    AccessClaims {
        user_id: UserId::new_v7(),
        session_id: SessionId::new_v7(),
        issued_at,
        expires_at: issued_at.plus(Duration::from_secs(900)),
        aal: portcullis_domain::model::Aal::One,
        amr: vec![portcullis_domain::model::AuthMethod::Password],
    }
}

#[test]
fn the_assurance_level_and_methods_round_trip() {
    use portcullis_domain::model::{Aal, AuthMethod};
    let issuer = issuer(1);
    let strong = AccessClaims { aal: Aal::Two, amr: vec![AuthMethod::Password, AuthMethod::Totp], ..claims() };
    let token = issuer.issue(&strong).unwrap();
    assert_eq!(issuer.verify(&token, strong.issued_at).unwrap(), strong);
    // A token minted before second factors carried neither claim: a password sign-in.
    let old = claims();
    let minted = sealed_with(&issuer, &old, &[]);
    assert_eq!(issuer.verify(&minted, old.issued_at).unwrap(), old);
    // A level or method it does not know is a forgery, not a default.
    for (name, value) in [("aal", "3"), ("amr", "sms")] {
        let odd = sealed_with(&issuer, &old, &[(name, value)]);
        assert_eq!(issuer.verify(&odd, old.issued_at), Err(TokenError::Invalid), "{name}");
    }
}

#[test]
fn round_trip_keeps_every_claim() {
    let issuer = issuer(1);
    let claims = claims();
    let token = issuer.issue(&claims).unwrap();
    assert!(token.starts_with("v4.local."));
    let now = claims.issued_at.plus(Duration::from_secs(60));
    assert_eq!(issuer.verify(&token, now).unwrap(), claims);
}

#[test]
fn each_token_is_unique() {
    let issuer = issuer(1);
    let claims = claims();
    assert_ne!(issuer.issue(&claims).unwrap(), issuer.issue(&claims).unwrap());
}

#[test]
fn tampered_token_is_invalid() {
    let issuer = issuer(1);
    let claims = claims();
    let token = issuer.issue(&claims).unwrap();
    let mut bytes = token.into_bytes();
    // Somewhere inside the encrypted payload.
    let i = "v4.local.".len() + 40;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(issuer.verify(&tampered, claims.issued_at), Err(TokenError::Invalid));
    assert_eq!(issuer.verify("garbage", claims.issued_at), Err(TokenError::Invalid));
    assert_eq!(issuer.verify("", claims.issued_at), Err(TokenError::Invalid));
}

#[test]
fn expired_from_exp_on() {
    let issuer = issuer(1);
    let claims = claims();
    let token = issuer.issue(&claims).unwrap();
    let just_before = claims.expires_at.minus(Duration::from_millis(1));
    assert!(issuer.verify(&token, just_before).is_ok());
    assert_eq!(issuer.verify(&token, claims.expires_at), Err(TokenError::Expired));
    assert_eq!(issuer.verify(&token, claims.expires_at.plus(Duration::from_secs(3600))), Err(TokenError::Expired));
}

#[test]
fn token_from_another_key_is_invalid_even_when_expired() {
    let claims = claims();
    let token = issuer(2).issue(&claims).unwrap();
    assert_eq!(issuer(1).verify(&token, claims.issued_at), Err(TokenError::Invalid));
    assert_eq!(issuer(1).verify(&token, claims.expires_at), Err(TokenError::Invalid));
}

#[test]
fn wrong_footer_with_the_right_key_is_invalid() {
    // A token sealed with our key but announcing another key id (a future rotated key).
    let ours = issuer(1);
    let other_id = Id::from(&SymmetricKey::<V4>::from(&[2u8; 32]).unwrap());
    let mut footer = Footer::new();
    footer.key_id(&other_id);
    let payload = r#"{"sub":"x"}"#;
    let token = LocalToken::encrypt(
        &ours.current.key,
        payload.as_bytes(),
        Some(footer.to_string().unwrap().as_bytes()),
        Some(IMPLICIT_ASSERTION),
    )
    .unwrap();
    assert_eq!(ours.verify(&token, claims().issued_at), Err(TokenError::Invalid));
}

#[test]
fn sealed_values_open_only_as_sealed_values_with_their_binding() {
    let issuer = issuer(1);
    let sealed = issuer.seal("old-refresh-token", r#"{"refresh_token":"r"}"#).unwrap();
    assert!(!sealed.contains("refresh_token"));
    assert_eq!(issuer.unseal("old-refresh-token", &sealed).unwrap(), r#"{"refresh_token":"r"}"#);
    assert_eq!(issuer.unseal("another-token", &sealed), Err(TokenError::Invalid), "the binding is needed");
    assert_eq!(issuer.unseal("", &sealed), Err(TokenError::Invalid));
    assert_eq!(issuer.verify(&sealed, claims().issued_at), Err(TokenError::Invalid));
    let token = issuer.issue(&claims()).unwrap();
    assert_eq!(issuer.unseal("old-refresh-token", &token), Err(TokenError::Invalid));
    assert_eq!(self::issuer(2).unseal("old-refresh-token", &sealed), Err(TokenError::Invalid));
}

#[test]
fn the_issuer_key_alone_does_not_open_a_sealed_value() {
    // What a stolen key file gives: decrypting with the issuer key itself fails, because the
    // value was sealed under a key derived from it and the binding.
    let issuer = issuer(1);
    let sealed = issuer.seal("old-refresh-token", "secret pair").unwrap();
    let untrusted = UntrustedToken::<Local, V4>::try_from(sealed.as_str()).unwrap();
    let footer = untrusted.untrusted_footer().to_vec();
    assert!(LocalToken::decrypt(&issuer.current.key, &untrusted, Some(&footer), Some(SEAL_ASSERTION)).is_err());
}

#[test]
fn footer_carries_the_key_id() {
    let issuer = issuer(1);
    assert!(issuer.key_id().starts_with("k4.lid."));
    assert_ne!(issuer.key_id(), self::issuer(2).key_id());
    let token = issuer.issue(&claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 4, "v4.local.payload.footer");
    let footer = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[3]).unwrap()).unwrap();
    assert_eq!(footer, format!(r#"{{"kid":"{}"}}"#, issuer.key_id()));
    assert!(!format!("{issuer:?}").contains("key:"));
}

#[test]
fn rejects_short_keys_and_reuses_key_files() {
    assert!(matches!(PasetoIssuer::from_key_bytes(&[1u8; 16]), Err(CryptoError::KeyLength(16))));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paseto.key");
    let a = PasetoIssuer::from_key_file(&path).unwrap();
    let b = PasetoIssuer::from_key_file(&path).unwrap();
    assert_eq!(a.key_id(), b.key_id());
    let claims = claims();
    let token = a.issue(&claims).unwrap();
    assert_eq!(b.verify(&token, claims.issued_at).unwrap(), claims);
}

/// The footer of `token`, decoded.
fn footer_of(token: &str) -> String {
    let encoded = token.rsplit('.').next().unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
}

#[test]
fn retired_keys_verify_and_unseal_but_never_issue() {
    let old = issuer(1);
    let claims = claims();
    let old_token = old.issue(&claims).unwrap();
    let old_sealed = old.seal("binding", "kept for the grace window").unwrap();

    let rotated = PasetoIssuer::from_key_bytes(&[2; 32]).unwrap().with_retired_key(&[1; 32]).unwrap();
    assert_eq!(rotated.key_id(), issuer(2).key_id());
    assert_eq!(rotated.retired_key_ids().collect::<Vec<_>>(), vec![old.key_id()]);
    assert_eq!(rotated.verify(&old_token, claims.issued_at).unwrap(), claims);
    assert_eq!(rotated.verify(&old_token, claims.expires_at), Err(TokenError::Expired));
    assert_eq!(rotated.unseal("binding", &old_sealed).unwrap(), "kept for the grace window");

    let new_token = rotated.issue(&claims).unwrap();
    assert_eq!(footer_of(&new_token), format!(r#"{{"kid":"{}"}}"#, rotated.key_id()));
    assert_eq!(footer_of(&rotated.seal("b", "x").unwrap()), format!(r#"{{"kid":"{}"}}"#, rotated.key_id()));
    // The old key alone cannot read what the new one issued.
    assert_eq!(old.verify(&new_token, claims.issued_at), Err(TokenError::Invalid));
    assert_eq!(issuer(2).verify(&new_token, claims.issued_at).unwrap(), claims);
}

#[test]
fn a_kid_naming_no_held_key_is_invalid() {
    let claims = claims();
    let held = PasetoIssuer::from_key_bytes(&[2; 32]).unwrap().with_retired_key(&[1; 32]).unwrap();
    let stranger = issuer(3).issue(&claims).unwrap();
    assert_eq!(held.verify(&stranger, claims.issued_at), Err(TokenError::Invalid));
    assert_eq!(held.unseal("b", &issuer(3).seal("b", "x").unwrap()), Err(TokenError::Invalid));
}

#[test]
fn a_footer_naming_a_retired_key_does_not_open_a_token_of_another_key() {
    // Sealed with the current key but claiming to be from the retired one: the named key is
    // tried, and fails to authenticate it.
    let held = PasetoIssuer::from_key_bytes(&[2; 32]).unwrap().with_retired_key(&[1; 32]).unwrap();
    let retired_footer = issuer(1).current.footer.clone();
    let token =
        LocalToken::encrypt(&held.current.key, br#"{"sub":"x"}"#, Some(&retired_footer), Some(IMPLICIT_ASSERTION))
            .unwrap();
    assert_eq!(held.verify(&token, claims().issued_at), Err(TokenError::Invalid));
}

#[test]
fn a_key_is_held_once() {
    let issuer = PasetoIssuer::from_key_bytes(&[2; 32])
        .unwrap()
        .with_retired_key(&[2; 32])
        .unwrap()
        .with_retired_key(&[1; 32])
        .unwrap()
        .with_retired_key(&[1; 32])
        .unwrap();
    assert_eq!(issuer.retired_key_ids().count(), 1);
    assert!(matches!(issuer.with_retired_key(&[1; 31]), Err(CryptoError::KeyLength(31))));
}

/// A token sealed with the issuer's own key and footer, with `extra` claims over the usual
/// ones of `claims` (what an attacker holding the key, or a buggy issuer, could mint). The
/// payload is written by hand: pasetors' `Claims` would refuse a malformed `nbf`.
fn sealed_with(issuer: &PasetoIssuer, claims: &AccessClaims, extra: &[(&str, &str)]) -> String {
    let mut payload = format!(
        r#"{{"sub":"{}","sid":"{}","iat":"{}","exp":"{}","jti":"jti""#,
        claims.user_id,
        claims.session_id,
        claims.issued_at.to_rfc3339(),
        claims.expires_at.to_rfc3339()
    );
    for (name, value) in extra {
        payload.push_str(&format!(r#","{name}":"{value}""#));
    }
    payload.push('}');
    let held = &issuer.current;
    LocalToken::encrypt(&held.key, payload.as_bytes(), Some(&held.footer), Some(IMPLICIT_ASSERTION)).unwrap()
}

#[test]
fn a_token_is_not_valid_before_its_nbf() {
    let issuer = issuer(1);
    let claims = claims();
    let now = claims.issued_at;
    assert!(issuer.verify(&sealed_with(&issuer, &claims, &[]), now).is_ok(), "the hand-written payload is sound");
    let far = sealed_with(&issuer, &claims, &[("nbf", "2099-01-01T00:00:00.000Z")]);
    assert_eq!(issuer.verify(&far, now), Err(TokenError::Invalid));
    // Within the clock-skew allowance it is accepted; past it, not.
    let soon = now.plus(MAX_CLOCK_SKEW).to_rfc3339();
    assert!(issuer.verify(&sealed_with(&issuer, &claims, &[("nbf", &soon)]), now).is_ok());
    let later = now.plus(MAX_CLOCK_SKEW + Duration::from_millis(1)).to_rfc3339();
    assert_eq!(issuer.verify(&sealed_with(&issuer, &claims, &[("nbf", &later)]), now), Err(TokenError::Invalid));
    let past = now.minus(Duration::from_secs(1)).to_rfc3339();
    assert!(issuer.verify(&sealed_with(&issuer, &claims, &[("nbf", &past)]), now).is_ok());
    assert_eq!(issuer.verify(&sealed_with(&issuer, &claims, &[("nbf", "soon")]), now), Err(TokenError::Invalid));
}

#[test]
fn a_token_issued_in_the_future_is_invalid() {
    let issuer = issuer(1);
    let mut claims = claims();
    let now = claims.issued_at;
    claims.issued_at = now.plus(Duration::from_secs(3600));
    claims.expires_at = claims.issued_at.plus(Duration::from_secs(900));
    let token = issuer.issue(&claims).unwrap();
    assert_eq!(issuer.verify(&token, now), Err(TokenError::Invalid));
    assert!(issuer.verify(&token, claims.issued_at.minus(MAX_CLOCK_SKEW)).is_ok(), "within the skew");
    assert_eq!(
        issuer.verify(&token, claims.issued_at.minus(MAX_CLOCK_SKEW + Duration::from_millis(1))),
        Err(TokenError::Invalid)
    );
}
