//! Key ring cost per value: sealing and opening a 1 KiB value (AES-256-GCM, random nonce,
//! associated data naming the value's place), as every sealed column and resume file pays.
//!
//! `cargo bench -p auth --bench keyring`; figures in bench/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use auth::{KeyRing, Place};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const VALUE_LEN: usize = 1024;

/// Where the benchmarked value lives: a TOTP secret's column, a hyphenated UUID row id, as the
/// server binds them.
const PLACE: Place<'static> = Place {
    table: "users",
    column: "totp_secret",
    row: "0193a4c2-7e51-7c3a-9d2f-5b8e1f0a6c42",
};

fn ring() -> KeyRing {
    KeyRing::new(vec![
        ("k2026-12".to_owned(), vec![7u8; 32]),
        ("k2026-06".to_owned(), vec![3u8; 32]),
    ])
    .expect("two 32-byte keys make a ring")
}

fn keyring(c: &mut Criterion) {
    let ring = ring();
    let value: Vec<u8> = (0..VALUE_LEN).map(|i| (i % 251) as u8).collect();
    let sealed = ring.seal(&value, PLACE);
    assert_eq!(*ring.open(&sealed, PLACE).unwrap(), value);

    let mut group = c.benchmark_group("keyring_1KiB");
    group.throughput(Throughput::Bytes(VALUE_LEN as u64));
    group.bench_function("seal", |b| {
        b.iter(|| ring.seal(black_box(&value), black_box(PLACE)))
    });
    group.bench_function("open", |b| {
        b.iter(|| ring.open(black_box(&sealed), black_box(PLACE)).unwrap())
    });
    group.bench_function("seal_open", |b| {
        b.iter(|| {
            let sealed = ring.seal(black_box(&value), black_box(PLACE));
            ring.open(&sealed, black_box(PLACE)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, keyring);
criterion_main!(benches);
