//! sled's compression, without a new zstd context for every write.
//!
//! sled 0.34 compresses each update it appends to its log with
//! `zstd::block::compress`, which in zstd 0.9 creates (and frees) a zstd
//! compression context per call: about 100 KB allocated and cleared to
//! compress a fragment of a few hundred bytes. In a profile of a bulk load
//! into the registry's compressed store that was the busiest symbol
//! (`ZSTD_createCCtx_advanced`, 13% of all samples, and most of
//! `_int_malloc`'s 7%).
//!
//! This crate stands in for `zstd` 0.9 (the workspace's
//! `[patch.crates-io]`) and offers exactly the three functions sled calls.
//! Block compression and decompression keep one context per thread; the
//! bytes they produce and accept are the same zstd frames as before, so
//! stores written with the real crate open unchanged.

use std::cell::RefCell;
use std::io;

use zstd_current::bulk::{Compressor, Decompressor};

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Single-frame compression, as `zstd::block` 0.9.
pub mod block {
    use super::*;

    /// Compresses `data` at `level` into one zstd frame.
    pub fn compress(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
        COMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            let compressor = match cell.as_mut() {
                Some(compressor) => {
                    compressor.set_compression_level(level)?;
                    compressor
                }
                None => cell.insert(Compressor::new(level)?),
            };
            compressor.compress(data)
        })
    }

    /// Decompresses one frame of at most `capacity` bytes.
    pub fn decompress(data: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
        DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            let decompressor = match cell.as_mut() {
                Some(decompressor) => decompressor,
                None => cell.insert(Decompressor::new()?),
            };
            decompressor.decompress(data, capacity)
        })
    }
}

/// Stream decompression, as `zstd::stream` 0.9 (sled reads pages back
/// from disk with it, once per page the cache does not hold).
pub mod stream {
    pub use zstd_current::stream::decode_all;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / 7) as u8).collect()
    }

    #[test]
    fn what_is_compressed_decompresses_both_ways() {
        for len in [0, 1, 100, 4_096, 100_000] {
            let data = sample(len);
            let frame = block::compress(&data, 1).unwrap();
            assert_eq!(block::decompress(&frame, len).unwrap(), data);
            assert_eq!(stream::decode_all(&frame[..]).unwrap(), data);
        }
    }

    #[test]
    fn a_reused_context_makes_the_same_frame_as_a_fresh_one() {
        let first = sample(10_000);
        let second = sample(3_000);
        let fresh = zstd_current::bulk::compress(&second, 5).unwrap();
        block::compress(&first, 1).unwrap();
        assert_eq!(block::compress(&second, 5).unwrap(), fresh);
    }

    /// A frame `zstd::block::compress(&data, 1)` made with the real zstd
    /// 0.9.2 (zstd 1.5.1), as the stores written before this crate hold.
    const FRAME_OF_ZSTD_0_9: [u8; 78] = [
        40, 181, 47, 253, 96, 44, 0, 37, 2, 0, 148, 3, 115, 108, 101, 100, 32, 112, 97, 103, 101,
        32, 102, 114, 97, 103, 109, 101, 110, 116, 58, 32, 112, 114, 111, 106, 101, 99, 116, 115,
        47, 112, 45, 48, 48, 48, 49, 32, 114, 101, 112, 111, 114, 116, 115, 32, 50, 48, 49, 57, 45,
        48, 49, 46, 46, 49, 50, 44, 32, 2, 0, 235, 32, 16, 41, 182, 5, 10,
    ];

    #[test]
    fn frames_of_the_real_zstd_0_9_decompress() {
        let data: Vec<u8> = b"sled page fragment: projects/p-0001 reports 2019-01..2019-12, "
            .iter()
            .cycle()
            .take(300)
            .copied()
            .collect();
        assert_eq!(block::decompress(&FRAME_OF_ZSTD_0_9, 300).unwrap(), data);
        assert_eq!(stream::decode_all(&FRAME_OF_ZSTD_0_9[..]).unwrap(), data);
    }

    #[test]
    fn a_frame_larger_than_the_capacity_is_an_error() {
        let frame = block::compress(&sample(1_000), 1).unwrap();
        assert!(block::decompress(&frame, 10).is_err());
    }
}
