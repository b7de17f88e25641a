//! Codes and tokens from the operating system's CSPRNG.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_domain::ports::RandomSource;

/// Bytes of entropy in a URL token (256 bits, as the port requires).
const URL_TOKEN_BYTES: usize = 32;
/// Number of six-digit codes.
const CODES: u32 = 1_000_000;
/// The largest multiple of [`CODES`] that fits in a `u32`: draws at or above it are
/// rejected, so every code keeps exactly the same number of preimages (no modulo bias).
const ACCEPT_BELOW: u32 = (u32::MAX / CODES) * CODES;
// Checked by the compiler: the rejected tail is shorter than one full run of codes.
const _: () = assert!(ACCEPT_BELOW.is_multiple_of(CODES) && u32::MAX - ACCEPT_BELOW < CODES);

/// [`RandomSource`] backed by `getrandom` (the kernel's CSPRNG).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl OsRandom {
    /// Fills `buf` from the OS.
    ///
    /// The port is infallible, and there is no safe fallback: a code or token from a weaker
    /// source could be guessed. The kernel CSPRNG failing after start-up means the machine
    /// is broken, so this stops the request loudly instead of handing out a weak secret.
    fn fill(buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            panic!("operating system randomness failed: {e}");
        }
    }
}

impl RandomSource for OsRandom {
    fn six_digits(&self) -> String {
        loop {
            let mut bytes = [0u8; 4];
            Self::fill(&mut bytes);
            let draw = u32::from_le_bytes(bytes);
            // Rejects fewer than 0.03 % of draws, so the loop almost never repeats.
            if draw < ACCEPT_BELOW {
                return format!("{:06}", draw % CODES);
            }
        }
    }

    fn url_token(&self) -> String {
        let mut bytes = [0u8; URL_TOKEN_BYTES];
        Self::fill(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn fill_bytes(&self, out: &mut [u8]) {
        Self::fill(out);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn six_digits_are_six_ascii_digits_and_roughly_uniform() {
        let mut first_digit = [0u32; 10];
        let mut last_digit = [0u32; 10];
        for _ in 0..20_000 {
            let code = OsRandom.six_digits();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            let bytes = code.as_bytes();
            first_digit[usize::from(bytes[0] - b'0')] += 1;
            last_digit[usize::from(bytes[5] - b'0')] += 1;
        }
        // Expected 2000 each; the bounds are about 11 standard deviations wide.
        for count in first_digit.iter().chain(&last_digit) {
            assert!((1500..=2500).contains(count), "{first_digit:?} {last_digit:?}");
        }
    }

    #[test]
    fn url_tokens_are_url_safe_256_bit_and_unique() {
        let tokens: HashSet<String> = (0..1_000).map(|_| OsRandom.url_token()).collect();
        assert_eq!(tokens.len(), 1_000);
        for token in &tokens {
            assert_eq!(token.len(), 43, "32 bytes in unpadded base64");
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(URL_SAFE_NO_PAD.decode(token).unwrap().len(), URL_TOKEN_BYTES);
        }
    }

    #[test]
    fn filled_bytes_are_unique_and_every_bit_varies() {
        let draws: HashSet<[u8; 20]> = (0..1_000)
            .map(|_| {
                let mut seed = [0u8; 20];
                OsRandom.fill_bytes(&mut seed);
                seed
            })
            .collect();
        assert_eq!(draws.len(), 1_000);
        // Each of the 160 bit positions is set in about half the draws (500 expected; the
        // bounds are about 9.5 standard deviations wide).
        for bit in 0..160 {
            let set = draws.iter().filter(|d| d[bit / 8] & (1 << (bit % 8)) != 0).count();
            assert!((350..=650).contains(&set), "bit {bit}: {set}");
        }
    }
}
