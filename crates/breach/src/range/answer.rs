//! Reading a range answer: one `SUFFIX:COUNT` line per hash that shares the prefix.

use portcullis_domain::ports::{BreachLookupError, Exposure};

use crate::hash::hex_value;

/// Hex digits of a suffix: a SHA-1's 40 less the 5 of the prefix.
pub(crate) const SUFFIX_LEN: usize = 35;

/// What the answer `body` says about the hash whose last 35 hex digits are `suffix`.
///
/// Lines are `SUFFIX:COUNT`, ended by CRLF or LF (the last one may be unended); blank lines
/// are skipped. A line with count 0 is padding (`Add-Padding: true` mixes in fake suffixes so
/// the answer's size does not tell the prefix's real population) and never counts, even
/// when its suffix is ours. Every line is checked: an answer with one broken line is not a
/// range answer (a captive portal, an error page with a 200), and a partial reading of it
/// could claim "unlisted" for a listed password.
///
/// # Errors
/// [`BreachLookupError::Malformed`] naming the first bad line by number (never its text).
pub(crate) fn exposure_in(body: &[u8], suffix: &[u8]) -> Result<Exposure, BreachLookupError> {
    let mut found: Option<u64> = None;
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let (line_suffix, count) = parse_line(line)
            .ok_or_else(|| BreachLookupError::Malformed(format!("line {} is not SUFFIX:COUNT", index + 1)))?;
        if count > 0 && line_suffix.eq_ignore_ascii_case(suffix) {
            // HIBP lists a suffix once; a mirror that repeats one is taken at its highest count.
            found = Some(found.map_or(count, |seen| seen.max(count)));
        }
    }
    Ok(found.map_or(Exposure::Unlisted, |times| Exposure::Seen { times }))
}

/// `SUFFIX:COUNT` → (suffix, count), with 35 hex digits and a decimal count that fits a u64.
fn parse_line(line: &[u8]) -> Option<(&[u8], u64)> {
    if line.len() < SUFFIX_LEN + 2 || line[SUFFIX_LEN] != b':' {
        return None;
    }
    let (suffix, rest) = line.split_at(SUFFIX_LEN);
    if !suffix.iter().all(|&c| hex_value(c).is_some()) {
        return None;
    }
    Some((suffix, parse_count(&rest[1..])?))
}

/// Decimal digits only (no sign, no spaces), at most `u64::MAX`.
pub(crate) fn parse_count(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &c| {
        let digit = u64::from(c.checked_sub(b'0').filter(|d| *d <= 9)?);
        n.checked_mul(10)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &[u8] = b"2DC183F740EE76F27B78EB39C8AD972A757";

    fn exposure(body: &str) -> Result<Exposure, BreachLookupError> {
        exposure_in(body.as_bytes(), OURS)
    }

    #[test]
    fn finds_the_suffix_in_either_case_and_line_ending() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n2DC183F740EE76F27B78EB39C8AD972A757:52579\r\n";
        assert_eq!(exposure(body).unwrap(), Exposure::Seen { times: 52579 });
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\n2dc183f740ee76f27b78eb39c8ad972a757:3";
        assert_eq!(exposure(body).unwrap(), Exposure::Seen { times: 3 });
        assert_eq!(exposure("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n").unwrap(), Exposure::Unlisted);
        assert_eq!(exposure("").unwrap(), Exposure::Unlisted);
    }

    #[test]
    fn padding_never_counts() {
        let body = "2DC183F740EE76F27B78EB39C8AD972A757:0\r\n0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n";
        assert_eq!(exposure(body).unwrap(), Exposure::Unlisted);
    }

    #[test]
    fn a_broken_line_is_malformed_and_named_by_number_only() {
        for body in [
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n<html>2DC183F740EE76F27B78EB39C8AD972A757</html>\r\n",
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n2DC183F740EE76F27B78EB39C8AD972A757:\r\n",
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n2DC183F740EE76F27B78EB39C8AD972A757:-1\r\n",
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n2DC183F740EE76F27B78EB39C8AD972A757:99999999999999999999\r\n",
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n2DC183F740EE76F27B78EB39C8AD972A75G:1\r\n",
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n2DC183F740EE76F27B78EB39C8AD972A757 :1\r\n",
        ] {
            match exposure(body) {
                Err(BreachLookupError::Malformed(message)) => {
                    assert_eq!(message, "line 2 is not SUFFIX:COUNT");
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count(b"0"), Some(0));
        assert_eq!(parse_count(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_count(b"18446744073709551616"), None);
        assert_eq!(parse_count(b""), None);
        assert_eq!(parse_count(b"+1"), None);
        assert_eq!(parse_count(b"1 "), None);
    }
}
