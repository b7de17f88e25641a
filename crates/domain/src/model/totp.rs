//! TOTP (RFC 6238) as every authenticator app reads it from an `otpauth://` URI: HMAC-SHA-1,
//! six digits, 30-second steps. The algorithm is `totp-rs`'s; what is ours is the replay
//! rule: a code is accepted only for a time step later than the last one the factor accepted,
//! so the same code (or an older one) never signs in twice (RFC 6238 §5.2).

use std::fmt;

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use super::{OneTimeCode, Timestamp};

/// Seconds per time step.
pub const TOTP_STEP_SECS: u64 = 30;
/// Steps of clock drift accepted on either side of the current one.
pub const TOTP_DRIFT_STEPS: u64 = 1;
/// Bytes of a generated secret: 160 bits, the size RFC 4226 recommends and the contract's
/// minimum.
pub const TOTP_SECRET_BYTES: usize = 20;

/// A TOTP factor's shared secret. Zeroed when dropped; `Debug` never shows it.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

/// Constant-time, like every comparison of a secret.
impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_slice().ct_eq(other.0.as_slice()))
    }
}

impl Eq for TotpSecret {}

/// The secret is shorter than [`TOTP_SECRET_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a TOTP secret needs at least {TOTP_SECRET_BYTES} bytes, got {0}")]
pub struct TotpSecretTooShort(pub usize);

impl TotpSecret {
    /// Takes `bytes` as the secret (a generated one, or one opened from the store).
    ///
    /// # Errors
    /// [`TotpSecretTooShort`] below 160 bits.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpSecretTooShort> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < TOTP_SECRET_BYTES {
            return Err(TotpSecretTooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The raw bytes, to seal for storage.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, as authenticator apps take it typed in.
    pub fn to_base32(&self) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::with_capacity(self.0.len().div_ceil(5) * 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &byte in self.0.iter() {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The `otpauth://totp/` URI an authenticator app scans (Key Uri Format): the label
    /// `issuer:account`, then the secret, the issuer again and the parameters spelled out.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period={TOTP_STEP_SECS}",
            account = percent_encode(account),
            secret = self.to_base32(),
        )
    }

    /// The code of `step`: what an authenticator app shows during it. Tests and software
    /// authenticators use it; the server only checks codes ([`Self::matching_step`]).
    pub fn code_at(&self, step: TotpStep) -> String {
        self.totp().generate(step.0.saturating_mul(TOTP_STEP_SECS)).to_string()
    }

    /// The step `code` was made for, when it is one of the steps around `now` (±
    /// [`TOTP_DRIFT_STEPS`]) *and* later than `last_used`, the step this factor last accepted.
    /// The earliest such step wins, so a code is never spent on a later step than it was
    /// shown for. The comparison is constant-time (`totp-rs`'s token equality).
    pub fn matching_step(&self, code: &OneTimeCode, now: Timestamp, last_used: Option<TotpStep>) -> Option<TotpStep> {
        let totp = self.totp();
        let current = TotpStep::at(now).0;
        let first = current.saturating_sub(TOTP_DRIFT_STEPS);
        (first..=current.saturating_add(TOTP_DRIFT_STEPS))
            .filter(|&step| last_used.is_none_or(|used| step > used.0))
            .find(|&step| totp.check(code.expose(), step.saturating_mul(TOTP_STEP_SECS)).is_some())
            .map(TotpStep)
    }

    /// The algorithm with no drift of its own: [`Self::matching_step`] walks the window
    /// itself, to skip steps already used.
    fn totp(&self) -> Totp {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(0)
            .with_step_duration(TOTP_STEP_SECS)
            .with_secret(self.0.as_slice())
            // Compliant by construction (160 bits or more, six digits, a non-zero step), so
            // the unchecked build cannot make anything the checked one would refuse.
            .build_noncompliant()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([REDACTED])")
    }
}

/// A TOTP time step: seconds since the Unix epoch divided by [`TOTP_STEP_SECS`]. A factor
/// stores the last one it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TotpStep(pub u64);

impl TotpStep {
    /// The step `at` falls in (0 before the epoch).
    pub fn at(at: Timestamp) -> Self {
        let secs = u64::try_from(at.unix_millis().div_euclid(1000)).unwrap_or(0);
        Self(secs / TOTP_STEP_SECS)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    fn at_secs(secs: i64) -> Timestamp {
        Timestamp::from_unix_millis(secs * 1000)
    }

    fn code(digits: &str) -> OneTimeCode {
        OneTimeCode::parse(digits).unwrap()
    }

    /// RFC 6238 appendix B, SHA-1 rows: the eight-digit values' last six digits (the
    /// truncation is the same number modulo 10^digits).
    #[test]
    fn rfc_6238_sha1_vectors() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let secret = rfc_secret();
        for (secs, eight) in vectors {
            let six = &eight[2..];
            assert_eq!(secret.code_at(TotpStep::at(at_secs(secs))), six, "T = {secs}");
            assert_eq!(secret.matching_step(&code(six), at_secs(secs), None), Some(TotpStep::at(at_secs(secs))));
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let secret = rfc_secret();
        let now = at_secs(1_234_567_890);
        let current = TotpStep::at(now).0;
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = TotpStep(current.checked_add_signed(offset).unwrap());
            let found = secret.matching_step(&code(&secret.code_at(step)), now, None);
            assert_eq!(found, accepted.then_some(step), "offset {offset}");
        }
    }

    #[test]
    fn a_used_step_and_every_earlier_one_are_refused() {
        let secret = rfc_secret();
        let now = at_secs(1_234_567_890);
        let current = TotpStep::at(now);
        let this = code(&secret.code_at(current));
        assert_eq!(secret.matching_step(&this, now, None), Some(current));
        // The same code again, within its window: refused.
        assert_eq!(secret.matching_step(&this, now, Some(current)), None);
        assert_eq!(secret.matching_step(&this, at_secs(1_234_567_890 + 30), Some(current)), None);
        // The previous step's code after the current one was used: refused too.
        let previous = code(&secret.code_at(TotpStep(current.0 - 1)));
        assert_eq!(secret.matching_step(&previous, now, Some(current)), None);
        // The next step's code is still good (the phone's clock runs ahead).
        let next = TotpStep(current.0 + 1);
        assert_eq!(secret.matching_step(&code(&secret.code_at(next)), now, Some(current)), Some(next));
    }

    #[test]
    fn a_wrong_code_matches_nothing() {
        let secret = rfc_secret();
        let now = at_secs(59);
        let right = secret.code_at(TotpStep::at(now));
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(secret.matching_step(&code(&wrong), now, None), None);
    }

    #[test]
    fn secrets_below_160_bits_are_refused() {
        assert_eq!(TotpSecret::from_bytes(vec![7; 19]), Err(TotpSecretTooShort(19)));
        assert!(TotpSecret::from_bytes(vec![7; 20]).is_ok());
        assert!(TotpSecret::from_bytes(vec![7; 32]).is_ok());
    }

    #[test]
    fn base32_is_rfc_4648_without_padding() {
        // Twenty bytes make 32 characters exactly; a 21st byte leaves 3 bits over, padded
        // with zero bits into a last character, and no `=` follows.
        let secret = TotpSecret::from_bytes(b"foobarfoobarfoobarfo".to_vec()).unwrap();
        assert_eq!(secret.to_base32(), "MZXW6YTBOJTG633CMFZGM33PMJQXEZTP");
        assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let longer = TotpSecret::from_bytes(b"12345678901234567890a".to_vec()).unwrap();
        assert_eq!(longer.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQME");
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters_and_encodes_them() {
        let uri = rfc_secret().otpauth_uri("Portcullis Dev", "laura+mfa@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Portcullis%20Dev:laura%2Bmfa%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Portcullis%20Dev&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", rfc_secret());
        assert_eq!(shown, "TotpSecret([REDACTED])");
    }

    #[test]
    fn steps_count_from_the_epoch() {
        assert_eq!(TotpStep::at(at_secs(0)), TotpStep(0));
        assert_eq!(TotpStep::at(at_secs(29)), TotpStep(0));
        assert_eq!(TotpStep::at(at_secs(30)), TotpStep(1));
        assert_eq!(TotpStep::at(at_secs(-5)), TotpStep(0));
    }
}
