//! The page's entry point: trunk builds this binary for wasm32 and it mounts the Leptos app.

#[cfg(target_arch = "wasm32")]
fn main() {
    layerlens::wasm_start::run_static_constructors();
    layerlens::ui::mount();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("layerlens-web is the browser page: build it with `./scripts/serve` (trunk). The CLI is `layerlens`.");
    std::process::exit(2);
}
