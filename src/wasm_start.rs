//! The first thing every wasm entry point (the page and its workers) does: run the module's
//! static constructors, once.
//!
//! A few dependencies register themselves at start-up through `.init_array` constructors
//! (`inventory`, which cubecl's IR uses through pliron). When wasm-ld links a wasm32 binary
//! whose code never calls `__wasm_call_ctors` itself, it takes the module for a one-shot
//! command and wraps *every* export in a call to it (the `*.command_export` functions). In a
//! page every call from JavaScript into the wasm is an export — each closure the browser
//! calls, each wake-up of a future, each slot of wasm-bindgen's externref table — so all the
//! constructors ran again on each of them: 60–70 % of the page's busy time in the analysis,
//! and frames of 300–700 ms. Calling it here, once, at the top of `main`, is what makes
//! wasm-ld leave the exports alone (the `inventory` crate documents the same call).
//!
//! The reference to `__wasm_call_ctors` in this crate is enough for wasm-ld to leave the
//! exports of *every* binary that links it unwrapped — so a binary without our `main` (the
//! in-browser tests) must call [`run_static_constructors`] itself before it uses burn's GPU
//! backend, or cubecl's IR finds none of its registered types.

use std::sync::Once;

unsafe extern "C" {
    /// Synthesised by wasm-ld: calls every `.init_array` constructor of the module.
    fn __wasm_call_ctors();
}

/// Runs the static constructors; only the first call does anything.
pub fn run_static_constructors() {
    static RUN: Once = Once::new();
    // SAFETY: `__wasm_call_ctors` only runs the module's own constructors, which are written
    // to run once at start-up; `Once` keeps it to that.
    RUN.call_once(|| unsafe { __wasm_call_ctors() });
}
