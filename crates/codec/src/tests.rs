//! Every codec against kafka-protocol's compressors: the same bytes back,
//! the bound exact, bombs and garbage refused without a panic.

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::records::Compression;
use proptest::prelude::*;

use super::*;

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// `data` compressed as kafka-protocol (and so rouse's producer) does.
fn packed(compression: Compression, data: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    let write = |b: &mut BytesMut| {
        b.extend_from_slice(data);
        Ok(())
    };
    match compression {
        Compression::Gzip => Gzip::compress(&mut out, write),
        Compression::Snappy => Snappy::compress(&mut out, write),
        Compression::Lz4 => Lz4::compress(&mut out, write),
        Compression::Zstd => Zstd::compress(&mut out, write),
        Compression::None => unreachable!("only real codecs"),
    }
    .unwrap();
    out.freeze()
}

#[test]
fn the_bound_is_exact_for_every_codec() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    for codec in CODECS {
        let input = packed(codec, &data);
        let out = decompress(codec, input.clone(), data.len()).unwrap();
        assert_eq!(&out[..], &data[..], "{codec:?}");
        assert_eq!(
            decompress(codec, input, data.len() - 1),
            Err(DecompressError::TooLarge {
                codec: codec_name(codec),
                limit: data.len() - 1
            }),
            "{codec:?}"
        );
    }
}

#[test]
fn a_bomb_stops_at_the_bound() {
    // 32 MiB of zeros packs into a few kilobytes; a 1 MiB bound refuses it
    // having written at most 1 MiB.
    let zeros = vec![0u8; 32 << 20];
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let bomb = packed(codec, &zeros);
        assert!(bomb.len() < 256 << 10, "{codec:?}: {}", bomb.len());
        let err = decompress(codec, bomb, 1 << 20).unwrap_err();
        assert!(
            matches!(err, DecompressError::TooLarge { .. }),
            "{codec:?}: {err}"
        );
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}

#[test]
fn snappy_claims_are_refused_before_any_allocation() {
    // One raw block of five bytes claiming 2^32 - 1 uncompressed bytes.
    let claim = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = decompress(Compression::Snappy, claim, usize::MAX).unwrap_err();
    assert!(matches!(err, DecompressError::Corrupt { .. }), "{err}");
    // Honest blocks whose total passes the bound.
    let honest = packed(Compression::Snappy, &vec![7u8; 200_000]);
    assert!(matches!(
        decompress(Compression::Snappy, honest, 100_000),
        Err(DecompressError::TooLarge { .. })
    ));
}

#[test]
fn uncompressed_records_come_back_without_a_copy() {
    let data = Bytes::from_static(b"records");
    let out = decompress(Compression::None, data.clone(), 0).unwrap();
    assert_eq!(out.as_ptr(), data.as_ptr());
}

proptest! {
    #[test]
    fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096), slack in 0usize..16) {
        for codec in CODECS {
            let out = decompress(codec, packed(codec, &data), data.len() + slack).unwrap();
            prop_assert_eq!(&out[..], &data[..]);
        }
    }

    #[test]
    fn garbage_is_an_error_or_bounded_output_never_a_panic(
        data in proptest::collection::vec(any::<u8>(), 0..512),
        codec in proptest::sample::select(CODECS.to_vec()),
        limit in 0usize..65536,
    ) {
        if let Ok(out) = decompress(codec, Bytes::from(data), limit) {
            prop_assert!(out.len() <= limit);
        }
    }
}
