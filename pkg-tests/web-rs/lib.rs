//! Empty: this crate only carries the browser test `tests/web.rs` of the repository root.
