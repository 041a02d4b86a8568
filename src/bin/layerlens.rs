//! The `layerlens` command line (native only; see `layerlens --help`).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(layerlens::cli::run(std::env::args_os()));
}

#[cfg(target_arch = "wasm32")]
fn main() {}
