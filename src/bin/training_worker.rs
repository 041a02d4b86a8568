//! The page's training worker (`layerlens::training_worker`): trunk builds this binary for
//! wasm32 as a Web Worker beside the page (`data-type="worker"` in index.html).

#[cfg(target_arch = "wasm32")]
fn main() {
    use gloo_worker::Registrable;
    layerlens::wasm_start::run_static_constructors();
    console_error_panic_hook::set_once();
    layerlens::training_worker::TrainingWorker::registrar().register();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "layerlens-training-worker runs in the browser as the page's Web Worker; natively, see `layerlens train`."
    );
    std::process::exit(2);
}
