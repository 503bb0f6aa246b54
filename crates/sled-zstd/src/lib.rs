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
//! Block compression, block decompression and stream decompression each
//! keep one context per thread; the bytes they produce and accept are the
//! same zstd frames as before, so stores written with the real crate open
//! unchanged.

use std::cell::RefCell;
use std::io;
use std::thread::LocalKey;

use zstd_current::bulk::{Compressor, Decompressor};
use zstd_current::zstd_safe::DCtx;

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
    static STREAM_DECOMPRESSOR: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

/// Runs `work` on this thread's context in `key`, made by `create` the
/// first time.
fn with_context<C: 'static, R>(
    key: &'static LocalKey<RefCell<Option<C>>>,
    create: impl FnOnce() -> io::Result<C>,
    work: impl FnOnce(&mut C) -> io::Result<R>,
) -> io::Result<R> {
    key.with(|cell| {
        let mut cell = cell.borrow_mut();
        let context = match cell.as_mut() {
            Some(context) => context,
            None => cell.insert(create()?),
        };
        work(context)
    })
}

/// Single-frame compression, as `zstd::block` 0.9.
pub mod block {
    use super::*;

    /// Compresses `data` at `level` into one zstd frame.
    pub fn compress(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
        with_context(
            &COMPRESSOR,
            || Compressor::new(level),
            |compressor| {
                compressor.set_compression_level(level)?;
                compressor.compress(data)
            },
        )
    }

    /// Decompresses one frame of at most `capacity` bytes.
    pub fn decompress(data: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
        with_context(&DECOMPRESSOR, Decompressor::new, |decompressor| {
            decompressor.decompress(data, capacity)
        })
    }
}

/// Stream decompression, as `zstd::stream` 0.9. sled reads every page
/// back from disk with it: each one the cache does not hold, and, when it
/// opens a store, every update logged since it last opened it.
pub mod stream {
    use std::io::Read;

    use super::*;
    use zstd_current::stream::read::Decoder;

    /// Decompresses every frame `source` holds, with this thread's context
    /// (reset before each use). zstd's own `decode_all` creates a context
    /// per call: opening a store after 360,000 compressed writes spent 79%
    /// of its time in `ZSTD_createDCtx`.
    pub fn decode_all<R: Read>(mut source: R) -> io::Result<Vec<u8>> {
        let mut frames = Vec::new();
        source.read_to_end(&mut frames)?;
        let create = || {
            DCtx::try_create()
                .ok_or_else(|| io::Error::new(io::ErrorKind::OutOfMemory, "no zstd context"))
        };
        with_context(&STREAM_DECOMPRESSOR, create, |context| {
            let mut data = Vec::new();
            Decoder::with_context(&frames[..], context).read_to_end(&mut data)?;
            Ok(data)
        })
    }
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
    fn a_stream_is_every_frame_it_holds_whatever_came_before() {
        let (first, second) = (sample(5_000), sample(700));
        let mut frames = block::compress(&first, 1).unwrap();
        frames.extend(block::compress(&second, 3).unwrap());
        // A broken frame leaves nothing behind in the thread's context.
        assert!(stream::decode_all(&frames[..frames.len() - 9]).is_err());
        assert!(stream::decode_all(&b"not a zstd frame"[..]).is_err());
        let both = stream::decode_all(&frames[..]).unwrap();
        assert_eq!(both, [first, second].concat());
        // Empty input is what zstd's own decode_all makes of it.
        let upstream = zstd_current::stream::decode_all(&[][..]).map_err(|err| err.kind());
        assert_eq!(
            stream::decode_all(&[][..]).map_err(|err| err.kind()),
            upstream
        );
    }

    #[test]
    fn a_frame_larger_than_the_capacity_is_an_error() {
        let frame = block::compress(&sample(1_000), 1).unwrap();
        assert!(block::decompress(&frame, 10).is_err());
    }
}
