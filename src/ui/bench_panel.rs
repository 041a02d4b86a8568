//! The in-page benchmark: images per second on WebGPU and on the CPU, one image and a
//! 32-image batch, the median of several timed passes after an untimed warm-up (the figures
//! `benches/ort_bench.mjs` sets beside onnxruntime-web's).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::ModelStatus;
use crate::backend::BackendKind;

/// (images per pass, timed passes): one image is quick, so it gets more passes.
const RUNS: [(usize, usize); 2] = [(1, 7), (32, 3)];

#[component]
pub fn BenchPanel() -> impl IntoView {
    let app = super::state::app_state();
    let (engine, backend, model) = (app.engine.get_value(), app.backend, app.model);
    let lines = RwSignal::new(Vec::<String>::new());
    let running = RwSignal::new(false);
    let run = move |_| {
        let engine = engine.clone();
        running.set(true);
        lines.set(Vec::new());
        spawn_local(async move {
            let mut kinds = vec![BackendKind::Cpu];
            if backend.get_untracked().is_some_and(|b| b.kind == BackendKind::Wgpu) {
                kinds.insert(0, BackendKind::Wgpu);
            }
            for kind in kinds {
                for (batch, repeat) in RUNS {
                    let line = match engine.bench(kind, batch, repeat).await {
                        Ok(t) => format!(
                            "{kind}: {:.1} images/s on a {}-image batch (median of {repeat} passes; first pass {:.1} s)",
                            t.images_per_second, t.batch, t.first_pass_seconds
                        ),
                        Err(e) => format!("{kind}: {e}"),
                    };
                    lines.update(|l| l.push(line));
                }
            }
            running.set(false);
        });
    };
    view! {
        <section id="bench" class="panel">
            <h2>"Speed"</h2>
            <button id="bench-run" on:click=run
                disabled=move || running.get() || !matches!(model.get(), ModelStatus::Ready(_))>
                {move || if running.get() { "Measuring…" } else { "Measure images/s" }}
            </button>
            {move || (!matches!(model.get(), ModelStatus::Ready(_))).then(|| view! {
                <p id="bench-needs" class="hint">"Load a network in step 2 to measure how fast this browser runs it."</p>
            })}
            <ul id="bench-results">
                {move || lines.get().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
        </section>
    }
}
