//! Recovery codes: the ten single-use codes a user keeps on paper for a lost authenticator.
//!
//! Each is 60 random bits written as twelve characters of Crockford's base32 in three groups
//! (`7kq2-m9xd-4hfw`): no `i`, `l`, `o` or `u` to misread, and typing is forgiving (case,
//! spaces and dashes do not matter; `i`/`l` read as `1` and `o` as `0`). The store keeps only
//! a keyed hash of the normalised form ([`RECOVERY_CODE_PURPOSE`]).

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Codes a user gets at once.
pub const RECOVERY_CODES: usize = 10;
/// Random bits per code (the contract asks for at least 50).
pub const RECOVERY_CODE_BITS: u32 = 60;
/// The [`SecretHasher`](crate::ports::SecretHasher) purpose of a recovery code's digest.
pub const RECOVERY_CODE_PURPOSE: &str = "recovery-code";

/// Crockford's base32 alphabet, lower case.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters per code, without the dashes.
const CHARS: usize = 12;

/// One recovery code, normalised (twelve alphabet characters, no dashes). Never printed by
/// `Debug`; zeroed when dropped.
#[derive(Clone)]
pub struct RecoveryCode(Zeroizing<String>);

/// Constant-time, like every comparison of a secret (production compares digests; this keeps
/// a later `==` from leaking timing).
impl PartialEq for RecoveryCode {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

impl Eq for RecoveryCode {}

/// The text is not a recovery code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a recovery code is 12 letters and digits, as in 7kq2-m9xd-4hfw")]
pub struct RecoveryCodeFormatError;

impl RecoveryCode {
    /// The code made of `bits`' low [`RECOVERY_CODE_BITS`] bits (draw eight random bytes).
    pub fn from_random(bits: [u8; 8]) -> Self {
        let value = u64::from_be_bytes(bits);
        let mut code = Zeroizing::new(String::with_capacity(CHARS));
        for i in (0..CHARS).rev() {
            let index = (value >> (5 * i)) & 31;
            code.push(char::from(ALPHABET[usize::try_from(index).unwrap_or(0)]));
        }
        Self(code)
    }

    /// Reads a code as a user typed it.
    ///
    /// # Errors
    /// [`RecoveryCodeFormatError`] unless twelve alphabet characters remain once case,
    /// spaces and dashes are set aside.
    pub fn parse(raw: &str) -> Result<Self, RecoveryCodeFormatError> {
        let mut code = Zeroizing::new(String::with_capacity(CHARS));
        // ASCII, en and em dashes: a code copied from a rendered page may carry either.
        for c in raw.chars().filter(|c| !c.is_whitespace() && !matches!(c, '-' | '\u{2013}' | '\u{2014}')) {
            let c = match c.to_ascii_lowercase() {
                'i' | 'l' => '1',
                'o' => '0',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return Err(RecoveryCodeFormatError),
            };
            if code.len() == CHARS {
                return Err(RecoveryCodeFormatError);
            }
            code.push(c);
        }
        if code.len() == CHARS { Ok(Self(code)) } else { Err(RecoveryCodeFormatError) }
    }

    /// The normalised code, to hash.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The code as shown to the user, once: three groups of four (zeroed when dropped too).
    pub fn display(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}-{}-{}", &self.0[0..4], &self.0[4..8], &self.0[8..12]))
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn sixty_bits_make_twelve_characters_in_three_groups() {
        let code = RecoveryCode::from_random([0xff; 8]);
        assert_eq!(code.expose(), "zzzzzzzzzzzz");
        assert_eq!(code.display().as_str(), "zzzz-zzzz-zzzz");
        assert_eq!(RecoveryCode::from_random([0; 8]).expose(), "000000000000");
        // The top four bits of the draw are not used: 60 bits, not 64.
        assert_eq!(RecoveryCode::from_random([0xf0, 0, 0, 0, 0, 0, 0, 0]).expose(), "000000000000");
        // Every 5-bit group maps to its own character.
        let ascending = (0..12u64).fold(0u64, |acc, i| (acc << 5) | (i + 20));
        assert_eq!(RecoveryCode::from_random(ascending.to_be_bytes()).expose(), "mnpqrstvwxyz");
        assert_eq!(RECOVERY_CODE_BITS, 5 * 12);
    }

    #[test]
    fn distinct_draws_give_distinct_codes() {
        let codes: HashSet<String> = (0u64..1000)
            .map(|n| RecoveryCode::from_random((n * 0x9e37_79b9).to_be_bytes()).expose().to_owned())
            .collect();
        assert_eq!(codes.len(), 1000);
    }

    #[test]
    fn typing_is_forgiving_and_round_trips() {
        let code = RecoveryCode::from_random(0x0123_4567_89ab_cdef_u64.to_be_bytes());
        assert_eq!(RecoveryCode::parse(&code.display()), Ok(code.clone()));
        assert_eq!(RecoveryCode::parse(&code.display().to_uppercase()), Ok(code.clone()));
        assert_eq!(RecoveryCode::parse(&format!(" {} ", code.display().replace('-', " "))), Ok(code.clone()));
        assert_eq!(RecoveryCode::parse(&code.display().replace('-', "\u{2013}")), Ok(code.clone()));
        // Misread letters read as the digits they look like.
        assert_eq!(RecoveryCode::parse("OIL0-0000-0000").unwrap().expose(), "011000000000");
    }

    #[test]
    fn anything_else_is_refused() {
        for raw in ["", "7kq2-m9xd-4hf", "7kq2-m9xd-4hfwx", "7kq2-m9xd-4hfu", "7kq2-m9xd-4hf!", "7kq2-m9xd-4hfé"] {
            assert_eq!(RecoveryCode::parse(raw), Err(RecoveryCodeFormatError), "{raw:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_code() {
        assert_eq!(format!("{:?}", RecoveryCode::from_random([1; 8])), "RecoveryCode([REDACTED])");
    }
}
