//! Compression of a batch's records section, through kafka-protocol's own
//! codecs so the bytes are exactly what its encoder would write (same
//! levels, same snappy framing as the Java client).

use bytes::BytesMut;
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};

use crate::config::Compression;

/// Appends `records`, compressed with `codec`, to `out`. The records buffer
/// is handed to the codec as is, without a copy.
pub(crate) fn compress_into(
    codec: Compression,
    out: &mut BytesMut,
    mut records: BytesMut,
) -> Result<(), String> {
    // The codecs ask a closure to fill their scratch buffer; give them ours.
    let fill = |scratch: &mut BytesMut| {
        std::mem::swap(scratch, &mut records);
        Ok(())
    };
    let result = match codec {
        Compression::None => {
            out.extend_from_slice(&records);
            return Ok(());
        }
        Compression::Gzip => <Gzip as Compressor<BytesMut>>::compress(out, fill),
        Compression::Snappy => <Snappy as Compressor<BytesMut>>::compress(out, fill),
        Compression::Lz4 => <Lz4 as Compressor<BytesMut>>::compress(out, fill),
        Compression::Zstd => <Zstd as Compressor<BytesMut>>::compress(out, fill),
    };
    result.map_err(|e| format!("{codec} compression failed: {e:#}"))
}
