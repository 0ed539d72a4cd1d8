//! Two-factor authentication: TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step
//! of clock skew either way), its enrolment QR code, and single-use backup codes.

use std::io::Write as _;

use hmac::Mac as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;
const SKEW_STEPS: i64 = 1;
const SECRET_BYTES: usize = 20;
const BACKUP_CODES: usize = 10;
const RFC4648: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// A new random TOTP secret (160 bits, as RFC 4226 recommends).
pub fn new_totp_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// Base32 without padding, as authenticator apps expect it.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(RFC4648[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(RFC4648[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The time step of a Unix time.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

#[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
fn hotp(secret: &[u8], counter: i64, digits: u32) -> u32 {
    let mut mac =
        <HmacSha1 as hmac::KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(digits)
}

/// The code for a step, zero-padded.
pub fn code_at(secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step, DIGITS),
        width = DIGITS as usize
    )
}

/// Checks a code against the steps around `unix_seconds`; returns the step it matched. The
/// caller must refuse steps at or before the last one accepted (no replay).
pub fn verify_totp(secret: &[u8], code: &str, unix_seconds: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not tell which one matched.
    for step in (now - SKEW_STEPS)..=(now + SKEW_STEPS) {
        if bool::from(code_at(secret, step).as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

/// Percent-encodes everything but the unreserved characters (RFC 3986): for a URI's query
/// values and labels.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `otpauth://` URI an authenticator app imports.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(issuer),
        percent_encode(account),
        base32(secret),
        percent_encode(issuer),
    )
}

/// The URI as an SVG QR code.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .build(),
    )
}

/// The URI as a PNG QR code (8-bit greyscale, 6 pixels a module, 4-module quiet zone).
pub fn qr_png(uri: &str) -> Option<Vec<u8>> {
    const SCALE: usize = 6;
    const QUIET: usize = 4;
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut raw = Vec::with_capacity(side * (side + 1));
    for y in 0..side {
        raw.push(0); // filter: none
        for x in 0..side {
            let (mx, my) = (
                (x / SCALE).checked_sub(QUIET),
                (y / SCALE).checked_sub(QUIET),
            );
            let dark = match (mx, my) {
                (Some(mx), Some(my)) if mx < modules && my < modules => {
                    colors[my * modules + mx] == qrcode::Color::Dark
                }
                _ => false,
            };
            raw.push(if dark { 0 } else { 255 });
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw).ok()?;
    let idat = zlib.finish().ok()?;
    let side = u32::try_from(side).ok()?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit, greyscale, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        png.extend_from_slice(&u32::try_from(data.len()).ok()?.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    Some(png)
}

/// Ten new single-use backup codes (80 random bits each, `xxxx-xxxx-xxxx-xxxx`) with the hashes
/// that are stored in their place.
pub fn new_backup_codes() -> Vec<(String, [u8; 32])> {
    let alphabet = b"abcdefghijkmnpqrstuvwxyz23456789";
    (0..BACKUP_CODES)
        .map(|_| {
            let mut bytes = [0u8; 16];
            rand::rng().fill_bytes(&mut bytes);
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(alphabet[usize::from(b & 31)]))
                .collect();
            let code = chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-");
            let hash = backup_code_hash(&code);
            (code, hash)
        })
        .collect()
}

/// The stored form of a backup code, forgiving about case, spaces and dashes.
pub fn backup_code_hash(code: &str) -> [u8; 32] {
    let normalised: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(normalised.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits.
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
        ] {
            assert_eq!(hotp(secret, step_at(time), 8), expected, "t={time}");
        }
        assert_eq!(code_at(secret, step_at(59)), "287082");
    }

    #[test]
    fn accepts_one_step_of_skew_and_no_more() {
        let secret = new_totp_secret();
        let now = 1_800_000_000;
        let step = step_at(now);
        assert_eq!(
            verify_totp(&secret, &code_at(&secret, step), now),
            Some(step)
        );
        assert_eq!(
            verify_totp(&secret, &code_at(&secret, step - 1), now),
            Some(step - 1)
        );
        assert_eq!(
            verify_totp(&secret, &code_at(&secret, step + 1), now),
            Some(step + 1)
        );
        assert_eq!(verify_totp(&secret, &code_at(&secret, step - 2), now), None);
        assert_eq!(verify_totp(&secret, "12345", now), None);
        assert_eq!(verify_totp(&secret, "abcdef", now), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn the_uri_and_qr_codes_are_well_formed() {
        let secret = new_totp_secret();
        let uri = otpauth_uri(&secret, "jobpilot", "ada@example.org");
        assert!(
            uri.starts_with("otpauth://totp/jobpilot:ada%40example.org?secret="),
            "{uri}"
        );
        assert!(uri.contains(&base32(&secret)));
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg"));
        let png = qr_png(&uri).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]), "IEND CRC");
    }

    #[test]
    fn backup_codes_are_unique_and_forgiving_to_type() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), 10);
        let (code, hash) = &codes[0];
        assert_eq!(code.len(), 19);
        assert_eq!(
            backup_code_hash(&code.to_uppercase().replace('-', " ")),
            *hash
        );
        let unique: std::collections::HashSet<_> = codes.iter().map(|(c, _)| c).collect();
        assert_eq!(unique.len(), 10);
    }
}
