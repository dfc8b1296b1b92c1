//! A `Write` sink that refuses to grow past a bound.

use std::io::{self, Write};

use bytes::{Bytes, BytesMut};

/// Collects a decompressor's output; a write that would pass `limit`
/// fails (and is remembered), so the codec stops at once.
pub(crate) struct Capped {
    buf: BytesMut,
    limit: usize,
    overflowed: bool,
}

impl Capped {
    pub(crate) fn new(limit: usize) -> Capped {
        Capped {
            buf: BytesMut::new(),
            limit,
            overflowed: false,
        }
    }

    /// Whether a write was refused for passing the bound.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub(crate) fn into_bytes(self) -> Bytes {
        debug_assert!(self.buf.len() <= self.limit);
        self.buf.freeze()
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.len() > self.limit - self.buf.len() {
            self.overflowed = true;
            return Err(io::Error::other("decompressed records pass the bound"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_up_to_the_limit_and_refuses_one_byte_more() {
        let mut c = Capped::new(4);
        c.write_all(b"abc").unwrap();
        c.write_all(b"d").unwrap();
        assert!(!c.overflowed());
        assert!(c.write_all(b"e").is_err());
        assert!(c.overflowed());
        assert_eq!(&c.into_bytes()[..], b"abcd");
    }
}
