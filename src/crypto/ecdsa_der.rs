//! The DER form of an ECDSA signature, `SEQUENCE { INTEGER r, INTEGER s }` (RFC 3279 §2.2.3),
//! for exactly the fixed-size scalars of one curve. As strict as `ecdsa`'s `Signature::from_der`
//! (minimal lengths and integers, no trailing bytes); replaces the `der` crate in the wasm
//! package (~3 KB gzip). Range checks of r and s stay with the curve's `Signature`.

/// `r ‖ s`, each left-padded to `N` bytes, or `None` when `der` is not a canonical DER
/// signature with integers of at most `N` bytes.
pub fn decode<const N: usize>(der: &[u8]) -> Option<Vec<u8>> {
    // Two integers of at most N + 1 bytes fit a short-form length for the curves used here
    // (N ≤ 48: at most 102 bytes); a long form would be non-minimal or too long for them.
    let body = short_form(der, 0x30)?;
    if body.len() != der.len() - 2 {
        return None;
    }
    let (r, rest) = integer::<N>(body)?;
    let (s, rest) = integer::<N>(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = vec![0u8; 2 * N];
    out[N - r.len()..N].copy_from_slice(r);
    out[2 * N - s.len()..].copy_from_slice(s);
    Some(out)
}

/// The value of a tag-`tag` element with a short-form length at the start of `b` (the slice
/// may go on after it).
fn short_form(b: &[u8], tag: u8) -> Option<&[u8]> {
    match b {
        [t, len, rest @ ..] if *t == tag && *len < 0x80 => rest.get(..usize::from(*len)),
        _ => None,
    }
}

/// A non-negative minimal INTEGER: its magnitude without the sign byte, and what follows.
fn integer<const N: usize>(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let v = short_form(b, 0x02)?;
    let rest = &b[2 + v.len()..];
    let magnitude = match v {
        [] => return None,
        [first, ..] if first & 0x80 != 0 => return None, // negative
        [0, next, ..] if next & 0x80 == 0 => return None, // non-minimal
        [0, tail @ ..] => tail,
        _ => v,
    };
    (magnitude.len() <= N).then_some((magnitude, rest))
}

/// DER of `r ‖ s` (each `N` bytes, big-endian): minimal integers, short-form lengths.
pub fn encode<const N: usize>(rs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * N + 8);
    out.extend_from_slice(&[0x30, 0]);
    for half in rs.chunks(N).take(2) {
        let zeros = half.iter().take_while(|&&b| b == 0).count();
        let mut magnitude = &half[zeros.min(half.len().saturating_sub(1))..];
        if magnitude.is_empty() {
            magnitude = &[0];
        }
        let pad = magnitude[0] & 0x80 != 0;
        out.push(0x02);
        out.push((magnitude.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(magnitude);
    }
    out[1] = (out.len() - 2) as u8;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type P384Sig = p384::ecdsa::Signature;

    fn theirs(der: &[u8]) -> Option<Vec<u8>> {
        P384Sig::from_der(der).ok().map(|s| s.to_bytes().to_vec())
    }

    fn ours(der: &[u8]) -> Option<Vec<u8>> {
        decode::<48>(der)
            .and_then(|rs| P384Sig::from_slice(&rs).ok().map(|s| s.to_bytes().to_vec()))
    }

    /// Signatures with r and s of every interesting shape: short, high bit set, leading zeros.
    fn samples() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (r0, rlead) in [
            (0x7f, 0),
            (0x80, 0),
            (0x01, 0),
            (0x7f, 5),
            (0xff, 47),
            (0x00, 0),
        ] {
            for (s0, slead) in [(0x12, 0), (0x80, 3), (0x01, 47), (0x55, 1)] {
                let mut rs = vec![0x5au8; 96];
                rs[..rlead].fill(0);
                rs[rlead] = r0;
                rs[48..48 + slead].fill(0);
                rs[48 + slead] = s0;
                out.push(rs);
            }
        }
        out
    }

    #[test]
    fn encode_matches_the_ecdsa_crate_and_round_trips() {
        for rs in samples() {
            let Ok(sig) = P384Sig::from_slice(&rs) else {
                continue;
            };
            let der = encode::<48>(&rs);
            assert_eq!(der, sig.to_der().as_bytes(), "{rs:02x?}");
            assert_eq!(ours(&der), Some(rs.clone()));
        }
    }

    #[test]
    fn decode_accepts_and_refuses_what_the_ecdsa_crate_does() {
        for rs in samples() {
            let der = encode::<48>(&rs);
            let mut cases = vec![der.clone(), Vec::new(), b"\x30\x00".to_vec()];
            for i in 0..der.len() {
                for b in [0x00, 0x01, 0x02, 0x30, 0x7f, 0x80, 0x81, 0xff] {
                    let mut t = der.clone();
                    t[i] = b;
                    cases.push(t);
                }
                cases.push(der[..i].to_vec());
                let mut extra = der.clone();
                extra.insert(i, 0);
                cases.push(extra);
            }
            let mut trailing = der.clone();
            trailing.push(0);
            cases.push(trailing);
            // A long-form length (non-minimal for this size).
            let mut long = vec![0x30, 0x81];
            long.extend_from_slice(&der[1..]);
            cases.push(long);
            for c in cases {
                assert_eq!(ours(&c), theirs(&c), "{c:02x?}");
            }
        }
    }
}
