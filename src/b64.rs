//! Standard padded Base64 (RFC 4648 §4), strict as the `base64` crate's `STANDARD` engine:
//! padding required, no whitespace or URL-safe letters, zero trailing bits. It is all KMS
//! bodies and the signing public key need; the crate cost ~2 KB gzip of the wasm package.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Not canonical padded standard Base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBase64;

/// Encode with `=` padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

fn value(c: u8) -> Result<u32, InvalidBase64> {
    Ok(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return Err(InvalidBase64),
    }))
}

/// Decode into `out`, which must hold at least `input.len() / 4 * 3` bytes; returns how many
/// were written. Writes into the caller's buffer so a secret is never reallocated.
///
/// # Errors
/// [`InvalidBase64`] for a length that is not a multiple of 4, a byte outside the alphabet,
/// misplaced padding, non-zero trailing bits or a too-small `out`.
pub fn decode_slice(input: &[u8], out: &mut [u8]) -> Result<usize, InvalidBase64> {
    if !input.len().is_multiple_of(4) || out.len() < input.len() / 4 * 3 {
        return Err(InvalidBase64);
    }
    let mut written = 0;
    let quads = input.len() / 4;
    for (q, quad) in input.chunks_exact(4).enumerate() {
        // Padding only at the end of the last quad: "xx==" or "xxx=".
        let pad = if q + 1 == quads {
            quad.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return Err(InvalidBase64);
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let len = 3 - pad;
        // The bits a padded quad does not use must be zero (one encoding per byte string).
        if bytes[len..].iter().any(|&b| b != 0) {
            return Err(InvalidBase64);
        }
        out[written..written + len].copy_from_slice(&bytes[..len]);
        written += len;
    }
    Ok(written)
}

/// Decode to a new vector.
///
/// # Errors
/// As [`decode_slice`].
pub fn decode(input: &str) -> Result<Vec<u8>, InvalidBase64> {
    let mut out = vec![0u8; input.len() / 4 * 3];
    let n = decode_slice(input.as_bytes(), &mut out)?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn encodes_as_the_base64_crate() {
        let data: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for n in 0..70 {
            for start in [0, 100, 300] {
                let s = &data[start..start + n];
                assert_eq!(encode(s), STANDARD.encode(s));
                assert_eq!(decode(&encode(s)).as_deref(), Ok(s));
            }
        }
    }

    #[test]
    fn accepts_and_refuses_exactly_what_the_base64_crate_does() {
        // Every string of up to 4 symbols over letters that matter (padding, bits set in
        // positions that a padded quad drops, non-alphabet bytes), plus longer prefixes.
        let symbols: &[u8] = b"AQBg/+=-_ \n\xc3";
        let mut strings: Vec<Vec<u8>> = vec![Vec::new()];
        let mut longest = strings.clone();
        for _ in 0..4 {
            longest = longest
                .iter()
                .flat_map(|s| {
                    symbols.iter().map(move |&c| {
                        let mut t = s.clone();
                        t.push(c);
                        t
                    })
                })
                .collect();
            strings.extend(longest.iter().cloned());
        }
        for s in &strings {
            for prefix in [&b""[..], b"AAAA", b"AA=="] {
                let mut t = prefix.to_vec();
                t.extend_from_slice(s);
                let mut buf = vec![0u8; t.len()];
                let ours = decode_slice(&t, &mut buf).map(|n| buf[..n].to_vec()).ok();
                let theirs = STANDARD.decode(&t).ok();
                assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&t));
            }
        }
        assert_eq!(decode(""), Ok(Vec::new()));
        assert_eq!(decode("+/8="), Ok(vec![0xfb, 0xff]));
        assert!(decode_slice(b"AAAA", &mut [0u8; 2]).is_err());
    }
}
