//! A length check run before kafka-protocol decodes a subscription or an
//! assignment.
//!
//! kafka-protocol reserves a vector's capacity from the element count on the
//! wire, so a peer's four bytes claiming two billion entries would make it
//! ask for tens of gigabytes, which aborts the process where memory is not
//! overcommitted. This walk reads only
//! the lengths, in the messages' field order, and rejects any count or size
//! that the bytes left cannot hold; the decoding itself stays kafka-protocol's.

/// A cursor over the bytes left.
struct Walk<'a> {
    rest: &'a [u8],
}

impl<'a> Walk<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!(
                "{field} needs {n} more bytes but only {} remain",
                self.rest.len()
            ));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn int16(&mut self, field: &str) -> Result<i16, String> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn int32(&mut self, field: &str) -> Result<i32, String> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A string (int16 length, -1 for null when `nullable`).
    fn string(&mut self, field: &str, nullable: bool) -> Result<(), String> {
        match self.int16(field)? {
            -1 if nullable => Ok(()),
            n if n < 0 => Err(format!("{field} has length {n}")),
            n => self.take(n as usize, field).map(|_| ()),
        }
    }

    /// An array count (int32, never null here) that the bytes left can hold
    /// when each element takes at least `min_element` bytes.
    fn count(&mut self, field: &str, min_element: usize) -> Result<usize, String> {
        let n = self.int32(field)?;
        if n < 0 {
            return Err(format!("{field} has {n} entries"));
        }
        let n = n as usize;
        if n.saturating_mul(min_element) > self.rest.len() {
            return Err(format!(
                "{field} claims {n} entries but only {} bytes remain",
                self.rest.len()
            ));
        }
        Ok(n)
    }

    /// Nullable bytes (int32 length).
    fn bytes(&mut self, field: &str) -> Result<(), String> {
        match self.int32(field)? {
            -1 => Ok(()),
            n if n < 0 => Err(format!("{field} has length {n}")),
            n => self.take(n as usize, field).map(|_| ()),
        }
    }

    /// Topic name and its partition indexes.
    fn topic_partitions(&mut self, field: &str) -> Result<(), String> {
        let topics = self.count(field, 2 + 4)?;
        for _ in 0..topics {
            self.string("topic name", false)?;
            let partitions = self.count("partition list", 4)?;
            self.take(partitions * 4, "partition list")?;
        }
        Ok(())
    }
}

/// Checks a subscription body of `version` (0..=3).
pub(super) fn check_subscription(body: &[u8], version: i16) -> Result<(), String> {
    let mut w = Walk { rest: body };
    let topics = w.count("topics", 2)?;
    for _ in 0..topics {
        w.string("topic name", false)?;
    }
    w.bytes("user data")?;
    if version >= 1 {
        w.topic_partitions("owned partitions")?;
    }
    if version >= 2 {
        w.int32("generation")?;
    }
    if version >= 3 {
        w.string("rack id", true)?;
    }
    Ok(())
}

/// Checks an assignment body (the same layout in every version).
pub(super) fn check_assignment(body: &[u8]) -> Result<(), String> {
    let mut w = Walk { rest: body };
    w.topic_partitions("assigned partitions")?;
    w.bytes("user data")
}
