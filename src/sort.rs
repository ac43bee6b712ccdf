//! Sorting without the std sorts: each of them monomorphizes several KB of wasm per element
//! type (~30 KB for 64-byte arrays), and the crate sorts only a few lists, off the hot path
//! (signed headers, provider names, EDK hashes).

/// Heapsort: a few hundred bytes of wasm and still O(n log n) (a message may carry up to 65535
/// EDKs).
pub fn heapsort<T: Ord>(v: &mut [T]) {
    fn sift_down<T: Ord>(v: &mut [T], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child] < v[child + 1] {
                child += 1;
            }
            if v[root] >= v[child] {
                return;
            }
            v.swap(root, child);
            root = child;
        }
    }
    let n = v.len();
    for i in (0..n / 2).rev() {
        sift_down(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heapsort_matches_the_std_sort() {
        let mut seed = 1u32;
        for n in 0..40 {
            let mut v: Vec<[u8; 64]> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let mut h = [0u8; 64];
                    // Few distinct values in the first bytes: ties and long common prefixes.
                    h[0] = (seed >> 29) as u8;
                    h[63] = (seed >> 24) as u8;
                    h
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            heapsort(&mut v);
            assert_eq!(v, expected, "n = {n}");
        }
    }

    #[test]
    fn heapsort_sorts_header_pairs_like_the_std_sort() {
        let mut v: Vec<(String, String)> =
            ["x-amz-date", "host", "content-type", "x-amz-target", "host"]
                .iter()
                .zip(["2", "b", "c", "d", "a"])
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let mut expected = v.clone();
        expected.sort();
        heapsort(&mut v);
        assert_eq!(v, expected);
    }
}
