//! A bounded big-endian reader. Running out of bytes is not an error here: it answers how many
//! more bytes are needed, and the caller decides whether that means "wait for more input" or
//! "the message is truncated".

/// Not enough bytes: at least `needed` more are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    /// Minimum number of additional bytes needed to make progress.
    pub needed: usize,
}

/// A cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes. Checks the length before touching anything, so a hostile length
    /// never drives an allocation.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Incomplete> {
        let left = self.remaining();
        if n > left {
            return Err(Incomplete { needed: n - left });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Exactly `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Incomplete> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Incomplete> {
        Ok(self.array::<1>()?[0])
    }

    /// Big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Incomplete> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Incomplete> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, Incomplete> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A u16 length followed by that many bytes.
    pub fn u16_prefixed(&mut self) -> Result<&'a [u8], Incomplete> {
        let start = self.pos;
        let len = usize::from(self.u16()?);
        match self.take(len) {
            Ok(s) => Ok(s),
            Err(e) => {
                self.pos = start;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_say_how_many_more_bytes() {
        let mut r = Reader::new(&[0, 5, 1, 2]);
        assert_eq!(r.u16_prefixed(), Err(Incomplete { needed: 3 }));
        assert_eq!(r.position(), 0);
        assert_eq!(r.u32(), Ok(0x0005_0102));
        assert_eq!(r.u8(), Err(Incomplete { needed: 1 }));
    }
}
