//! Shared helpers for thule's criterion benchmarks. Each benchmark is a `[[bench]]` target of
//! this package (`cargo bench -p thule-benches`).
