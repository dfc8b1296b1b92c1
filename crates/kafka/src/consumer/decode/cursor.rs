//! Reading the v2 record layout over [`Bytes`]: fixed-width big-endian
//! fields, zigzag varints, and length-prefixed fields handed out as slices
//! of the buffer (no copy).

use bytes::Bytes;

/// A read position in a shared buffer. Every read checks the bounds and
/// says what was missing, so malformed input is an error, never a panic.
#[derive(Debug, Clone)]
pub(super) struct Cursor {
    buf: Bytes,
    pos: usize,
    /// Reads stop here: the buffer's end, or a record's while one is read
    /// (`enter`/`leave`, which save cloning a slice per record).
    end: usize,
}

impl Cursor {
    pub(super) fn new(buf: Bytes) -> Cursor {
        let end = buf.len();
        Cursor { buf, pos: 0, end }
    }

    pub(super) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Limits reads to the next `len` bytes; returns what `leave` restores.
    pub(super) fn enter(&mut self, len: usize, what: &str) -> Result<usize, String> {
        if len > self.remaining() {
            return Err(format!(
                "{what} needs {len} bytes but only {} remain",
                self.remaining()
            ));
        }
        let outer = self.end;
        self.end = self.pos + len;
        Ok(outer)
    }

    /// Ends an `enter`: every byte of the limited part must have been read.
    pub(super) fn leave(&mut self, outer: usize, what: &str) -> Result<(), String> {
        if self.pos != self.end {
            return Err(format!(
                "{what} has {} bytes after its last field",
                self.remaining()
            ));
        }
        self.end = outer;
        Ok(())
    }

    /// The next `len` bytes as a slice of the same buffer.
    pub(super) fn take(&mut self, len: usize, what: &str) -> Result<Bytes, String> {
        if len > self.remaining() {
            return Err(format!(
                "{what} needs {len} bytes but only {} remain",
                self.remaining()
            ));
        }
        let out = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        if N > self.remaining() {
            return Err(format!(
                "{what} needs {N} bytes but only {} remain",
                self.remaining()
            ));
        }
        let mut out = [0; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        Ok(out)
    }

    pub(super) fn u8(&mut self, what: &str) -> Result<u8, String> {
        self.array::<1>(what).map(|[b]| b)
    }

    pub(super) fn i16(&mut self, what: &str) -> Result<i16, String> {
        self.array(what).map(i16::from_be_bytes)
    }

    pub(super) fn i32(&mut self, what: &str) -> Result<i32, String> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub(super) fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.array(what).map(u32::from_be_bytes)
    }

    pub(super) fn i64(&mut self, what: &str) -> Result<i64, String> {
        self.array(what).map(i64::from_be_bytes)
    }

    /// An unsigned LEB128 of at most `max_bytes` bytes.
    fn uvarint(&mut self, max_bytes: usize, what: &str) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let byte = self.u8(what)?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("{what} is a varint longer than {max_bytes} bytes"))
    }

    /// A zigzag varint (Kafka's `varint`, at most 5 bytes).
    pub(super) fn varint(&mut self, what: &str) -> Result<i32, String> {
        let v = self.uvarint(5, what)?;
        let v = u32::try_from(v).map_err(|_| format!("{what} overflows a 32-bit varint"))?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// A zigzag varlong (Kafka's `varlong`, at most 10 bytes).
    pub(super) fn varlong(&mut self, what: &str) -> Result<i64, String> {
        let v = self.uvarint(10, what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A varint length then that many bytes as text (lossy UTF-8, as Java
    /// reads header keys); read in place, no slice kept.
    pub(super) fn string(&mut self, what: &str) -> Result<String, String> {
        let len = self.varint(what)?;
        let len = usize::try_from(len).map_err(|_| format!("{what} has length {len}"))?;
        if len > self.remaining() {
            return Err(format!(
                "{what} needs {len} bytes but only {} remain",
                self.remaining()
            ));
        }
        let text = String::from_utf8_lossy(&self.buf[self.pos..self.pos + len]).into_owned();
        self.pos += len;
        Ok(text)
    }

    /// A varint length then that many bytes; length -1 is null.
    pub(super) fn nullable(&mut self, what: &str) -> Result<Option<Bytes>, String> {
        match self.varint(what)? {
            -1 => Ok(None),
            len if len < 0 => Err(format!("{what} has length {len}")),
            len => self.take(len as usize, what).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(bytes: &[u8]) -> Cursor {
        Cursor::new(Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn zigzag_varints_decode_as_kafka_writes_them() {
        // 0, -1, 1, -2, 300, i32::MIN as Kafka's ByteUtils writes them.
        let mut c = cursor(&[0, 1, 2, 3, 0xd8, 0x04, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        let got: Vec<i32> = (0..6).map(|_| c.varint("v").unwrap()).collect();
        assert_eq!(got, [0, -1, 1, -2, 300, i32::MIN]);
        assert_eq!(c.remaining(), 0);
        let mut c = cursor(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(c.varlong("v").unwrap(), i64::MAX);
    }

    #[test]
    fn overlong_and_short_input_are_errors() {
        assert!(cursor(&[0x80; 6]).varint("v").is_err());
        assert!(cursor(&[0x80, 0x80, 0x80, 0x80, 0x7f]).varint("v").is_err());
        assert!(cursor(&[0x80]).varint("v").is_err());
        assert!(cursor(&[1, 2, 3]).i32("i").is_err());
        assert!(cursor(&[4, b'a']).nullable("k").is_err());
        assert!(cursor(&[3]).nullable("k").is_err(), "length -2");
        assert_eq!(cursor(&[1]).nullable("k").unwrap(), None);
        assert!(cursor(&[1]).string("k").is_err(), "a null header key");
        assert_eq!(cursor(&[4, b'h', 0xff]).string("k").unwrap(), "h\u{fffd}");
    }

    #[test]
    fn enter_limits_reads_and_leave_wants_them_all() {
        let mut c = cursor(&[1, 2, 3, 4, 5]);
        let outer = c.enter(2, "r").unwrap();
        assert_eq!(c.remaining(), 2);
        assert!(c.i32("i").is_err(), "past the limit");
        assert!(c.leave(outer, "r").is_err(), "two bytes unread");
        assert_eq!(c.u8("a").unwrap(), 1);
        assert_eq!(c.u8("b").unwrap(), 2);
        c.leave(outer, "r").unwrap();
        assert_eq!(c.remaining(), 3);
        assert!(c.enter(4, "r").is_err());
    }

    #[test]
    fn take_slices_without_copying() {
        let buf = Bytes::from_static(b"hello world");
        let mut c = Cursor::new(buf.clone());
        let hello = c.take(5, "h").unwrap();
        assert_eq!(hello.as_ptr(), buf.as_ptr(), "same memory");
        assert_eq!(c.remaining(), 6);
    }
}
