//! Kafka's zigzag varints, written straight into the batch buffer.
//!
//! Zigzag maps small magnitudes of either sign to small unsigned numbers
//! (`0, -1, 1, -2` → `0, 1, 2, 3`), then LEB128 writes 7 bits per byte, low
//! bits first, high bit set on every byte but the last.

fn zigzag32(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Bytes a zigzag varint of `n` takes.
pub(crate) fn varint_len(n: i32) -> usize {
    uvarint_len(u64::from(zigzag32(n)))
}

/// Bytes a zigzag varlong of `n` takes.
pub(crate) fn varlong_len(n: i64) -> usize {
    uvarint_len(zigzag64(n))
}

fn uvarint_len(v: u64) -> usize {
    // One byte per started group of 7 significant bits, at least one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Writes a record into space sized up front with the `*_len` functions:
/// plain stores into a slice, no capacity check per field.
pub(crate) struct SliceWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceWriter<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> SliceWriter<'a> {
        SliceWriter { out, pos: 0 }
    }

    pub(crate) fn u8(&mut self, b: u8) {
        self.out[self.pos] = b;
        self.pos += 1;
    }

    pub(crate) fn varint(&mut self, n: i32) {
        self.uvarint(u64::from(zigzag32(n)));
    }

    pub(crate) fn varlong(&mut self, n: i64) {
        self.uvarint(zigzag64(n));
    }

    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.u8(v as u8);
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.out[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> usize {
        self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(n: i32) -> Vec<u8> {
        let mut out = [0u8; 10];
        let mut w = SliceWriter::new(&mut out);
        w.varint(n);
        let len = w.written();
        out[..len].to_vec()
    }

    fn varlong_bytes(n: i64) -> Vec<u8> {
        let mut out = [0u8; 10];
        let mut w = SliceWriter::new(&mut out);
        w.varlong(n);
        let len = w.written();
        out[..len].to_vec()
    }

    #[test]
    fn matches_known_encodings() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
            (i32::MAX as i64, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN as i64, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(n, want) in cases {
            assert_eq!(varint_bytes(n as i32), want, "varint {n}");
            assert_eq!(varint_len(n as i32), want.len());
            assert_eq!(varlong_bytes(n), want, "varlong {n}");
            assert_eq!(varlong_len(n), want.len());
        }
        assert_eq!(varlong_bytes(i64::MIN).len(), 10);
        assert_eq!(varlong_len(i64::MIN), 10);
        assert_eq!(varlong_len(i64::MAX), 10);
    }

    #[test]
    fn slice_writer_writes_fields_back_to_back() {
        let mut out = [0u8; 8];
        let mut w = SliceWriter::new(&mut out);
        w.varint(300);
        w.u8(7);
        w.varlong(-1);
        w.bytes(b"ab");
        assert_eq!(w.written(), 6);
        assert_eq!(&out[..6], &[0xd8, 0x04, 7, 0x01, b'a', b'b']);
    }
}
