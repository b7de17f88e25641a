//! The SHA-1 both sources index passwords by, and the hex forms HIBP writes it in.

use portcullis_domain::model::Password;
use sha1::{Digest as _, Sha1};

/// The SHA-1 of `password`'s UTF-8 (as normalised by [`Password`], NFKC), the digest Have I
/// Been Pwned indexes its Pwned Passwords by.
///
/// The result is as secret as the password itself (an unsalted fast hash of a password is
/// one dictionary lookup away from it): never log or display it.
pub fn sha1_of(password: &Password) -> [u8; 20] {
    sha1_bytes(password.expose().as_bytes())
}

pub(crate) fn sha1_bytes(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The 40 upper-case hex digits of `sha1`, as HIBP writes them.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
    }
    out
}

/// The value of one hex digit (either case).
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// 40 hex digits (either case) as the 20 bytes of a SHA-1; `None` unless exactly that.
pub(crate) fn parse_sha1_hex(hex: &[u8]) -> Option<[u8; 20]> {
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // HIBP's own example: "P@ssw0rd" is 21BD12DC183F740EE76F27B78EB39C8AD972A757.
        let digest = sha1_of(&Password::new("P@ssw0rd"));
        assert_eq!(hex_upper(&digest), "21BD12DC183F740EE76F27B78EB39C8AD972A757");
        assert_eq!(parse_sha1_hex(b"21bd12dc183f740ee76f27b78eb39c8ad972a757"), Some(digest));
        assert_eq!(parse_sha1_hex(b"21BD12DC183F740EE76F27B78EB39C8AD972A75"), None);
        assert_eq!(parse_sha1_hex(b"21BD12DC183F740EE76F27B78EB39C8AD972A75G"), None);
    }
}
