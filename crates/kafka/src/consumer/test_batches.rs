//! Record batches for the consumer's tests: as the producer writes them,
//! and patched the way a broker or a transactional producer changes them.

use bytes::{BufMut, Bytes, BytesMut};

use crate::batch::BatchBuilder;
use crate::config::Compression;
use crate::record::Record;

pub(crate) fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::key_value("t", format!("k{i}"), format!("value-{i}"))
                .with_header("h", "1")
                .with_header("h", "2")
                .with_null_header("n")
        })
        .collect()
}

/// A batch as the producer writes it, at base offset 0.
pub(crate) fn produced(records: &[Record], codec: Compression) -> Bytes {
    let mut b = BatchBuilder::new(1 << 20, 1 << 20);
    for (i, r) in records.iter().enumerate() {
        b.append(r, 1_700_000_000_000 + i as i64).unwrap();
    }
    b.finish(None, codec).unwrap()
}

/// Header edits a broker (or a transactional producer) would make.
#[derive(Clone, Copy, Default)]
pub(crate) struct Patch {
    pub(crate) base_offset: i64,
    pub(crate) leader_epoch: Option<i32>,
    pub(crate) extra_attributes: i16,
    pub(crate) producer_id: Option<i64>,
    pub(crate) last_offset_delta: Option<i32>,
}

pub(crate) fn patch(batch: &Bytes, p: Patch) -> Bytes {
    let mut b = BytesMut::from(&batch[..]);
    b[0..8].copy_from_slice(&p.base_offset.to_be_bytes());
    if let Some(epoch) = p.leader_epoch {
        b[12..16].copy_from_slice(&epoch.to_be_bytes());
    }
    let attributes = i16::from_be_bytes([b[21], b[22]]) | p.extra_attributes;
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    if let Some(delta) = p.last_offset_delta {
        b[23..27].copy_from_slice(&delta.to_be_bytes());
    }
    if let Some(id) = p.producer_id {
        b[43..51].copy_from_slice(&id.to_be_bytes());
    }
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

pub(crate) fn at(base_offset: i64, batch: &Bytes) -> Bytes {
    patch(
        batch,
        Patch {
            base_offset,
            ..Patch::default()
        },
    )
}

pub(crate) fn concat(batches: &[Bytes]) -> Bytes {
    let mut out = BytesMut::new();
    for b in batches {
        out.put_slice(b);
    }
    out.freeze()
}

pub(crate) const TRANSACTIONAL: i16 = 1 << 4;
pub(crate) const CONTROL: i16 = 1 << 5;

pub(crate) fn txn(base_offset: i64, n: usize, producer_id: i64) -> Bytes {
    patch(
        &produced(&records(n), Compression::Zstd),
        Patch {
            base_offset,
            producer_id: Some(producer_id),
            extra_attributes: TRANSACTIONAL,
            ..Patch::default()
        },
    )
}

/// A control batch: key `version 0, type` (0 abort, 1 commit).
pub(crate) fn marker(base_offset: i64, producer_id: i64, kind: i16) -> Bytes {
    let mut key = BytesMut::new();
    key.put_i16(0);
    key.put_i16(kind);
    let record = Record::new("t")
        .with_key(key.freeze())
        .with_value(vec![0u8, 0, 0, 0, 0, 0]);
    patch(
        &produced(&[record], Compression::None),
        Patch {
            base_offset,
            producer_id: Some(producer_id),
            extra_attributes: TRANSACTIONAL | CONTROL,
            ..Patch::default()
        },
    )
}
