//! The t-SNE settings form, one for both panels that run a t-SNE (Analyze and the matrix
//! tool): every parameter typed as text, filled in by the chosen preset, and turned into a
//! [`TsneConfig`] with a message naming the setting that does not parse.

use leptos::prelude::*;

use super::widgets::{select_field, text_field, text_field_when};
use crate::embed::preset::{LearningRate, TsnePreset};
use crate::embed::{Init, Method, TsneConfig};

/// The form's fields, as typed.
#[derive(Clone, Copy)]
pub struct TsneSettings {
    pub preset: RwSignal<TsnePreset>,
    pub iterations: RwSignal<String>,
    pub perplexity: RwSignal<String>,
    pub learning_rate: RwSignal<String>,
    pub exaggeration: RwSignal<String>,
    pub exaggeration_iterations: RwSignal<String>,
    pub method: RwSignal<String>,
    pub theta: RwSignal<String>,
    pub init: RwSignal<String>,
    pub pca: RwSignal<String>,
    pub seed: RwSignal<String>,
}

/// The method drop-down's options, from the core's names.
const METHOD_OPTIONS: [(&str, &str); 4] = [
    (Method::CHOICES[0].1, Method::CHOICES[0].2),
    (Method::CHOICES[1].1, Method::CHOICES[1].2),
    (Method::CHOICES[2].1, Method::CHOICES[2].2),
    (Method::CHOICES[3].1, Method::CHOICES[3].2),
];

fn positive(what: &str, text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or(format!("{what}: `{text}` is not a positive number"))
}

fn whole(what: &str, text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("{what}: `{text}` is not a whole number"))
}

impl TsneSettings {
    /// The form filled in with `preset`'s values.
    pub fn new(preset: TsnePreset) -> Self {
        let empty = || RwSignal::new(String::new());
        let settings = TsneSettings {
            preset: RwSignal::new(preset),
            iterations: empty(),
            perplexity: empty(),
            learning_rate: empty(),
            exaggeration: empty(),
            exaggeration_iterations: empty(),
            method: empty(),
            theta: empty(),
            init: empty(),
            pca: empty(),
            seed: RwSignal::new("0".into()),
        };
        settings.apply(preset);
        settings
    }

    /// Fills every field (but the seed) with `preset`'s values.
    pub fn apply(&self, preset: TsnePreset) {
        let c = preset.config(0);
        self.preset.set(preset);
        self.iterations.set(c.n_iter.to_string());
        self.perplexity.set(c.perplexity.to_string());
        self.learning_rate.set(if preset == TsnePreset::OpenTsne {
            "auto".into()
        } else {
            c.learning_rate.to_string()
        });
        self.exaggeration.set(c.exaggeration.to_string());
        self.exaggeration_iterations.set(c.exaggeration_iter.to_string());
        self.method.set(c.method.name().into());
        self.theta.set(c.theta.to_string());
        self.init.set(if c.init == Init::Random { "random".into() } else { "pca".into() });
        self.pca.set(c.pca_dims.to_string());
    }

    /// The seed as typed.
    pub fn seed(&self) -> Result<u64, String> {
        whole("seed", &self.seed.get_untracked())
    }

    /// The configuration the fields describe for `n` points (`auto` learning rate resolved).
    pub fn config(&self, n: usize) -> Result<TsneConfig, String> {
        let mut c = self.preset.get_untracked().config(n);
        c.n_iter = whole("iterations", &self.iterations.get_untracked())? as usize;
        c.perplexity = positive("perplexity", &self.perplexity.get_untracked())?;
        c.learning_rate = self
            .learning_rate
            .get_untracked()
            .parse::<LearningRate>()
            .map_err(|e| format!("learning rate: {e}"))?
            .for_points(n);
        c.exaggeration = positive("exaggeration", &self.exaggeration.get_untracked())?;
        c.set_exaggeration_iterations(
            whole("exaggeration iterations", &self.exaggeration_iterations.get_untracked())? as usize
        );
        c.method = self.method.get_untracked().parse::<Method>()?;
        // θ is read only where it is used (its field is greyed out otherwise).
        if !matches!(c.method, Method::Exact | Method::Fft) {
            let theta = self.theta.get_untracked();
            c.theta = theta
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or(format!("θ: `{theta}` is not a number ≥ 0"))?;
        }
        c.init = if self.init.get_untracked() == "random" { Init::Random } else { Init::Pca };
        c.pca_dims = whole("PCA components", &self.pca.get_untracked())? as usize;
        c.seed = self.seed()?;
        Ok(c)
    }

    /// The fields, with ids `{prefix}-preset`, `{prefix}-iterations`, …; `input_options` adds
    /// the initialisation and the PCA width (the analysis decides those itself).
    pub fn view(self, prefix: &'static str, input_options: bool) -> impl IntoView {
        let id = move |name: &str| format!("{prefix}-{name}");
        let (preset, method) = (self.preset, self.method);
        view! {
            <label class="setting">"t-SNE preset "
                <select id=id("preset") on:change=move |ev| {
                    if let Ok(chosen) = event_target_value(&ev).parse::<TsnePreset>() {
                        self.apply(chosen);
                    }
                }>
                    <option value="matlab" selected=move || preset.get() == TsnePreset::Matlab>"MATLAB (the workflow's)"</option>
                    <option value="opentsne" selected=move || preset.get() == TsnePreset::OpenTsne>"openTSNE"</option>
                </select>
            </label>
            {text_field(id("iterations"), "iterations", self.iterations, 6)}
            {text_field(id("perplexity"), "perplexity", self.perplexity, 5)}
            {text_field(id("learning-rate"), "learning rate", self.learning_rate, 6)}
            {text_field(id("exaggeration"), "exaggeration", self.exaggeration, 4)}
            {text_field(id("exaggeration-iterations"), "exaggeration iterations", self.exaggeration_iterations, 4)}
            {select_field(id("method"), "method", self.method, &METHOD_OPTIONS)}
            {text_field_when(id("theta"), "θ", self.theta, 4, move || !matches!(method.get().as_str(), "exact" | "fft"), "only Barnes-Hut (and auto, when it picks Barnes-Hut) uses θ")}
            {input_options.then(|| view! {
                {select_field(id("init"), "initialisation", self.init, &[("pca", "PCA"), ("random", "random")])}
                {text_field(id("pca"), "PCA components (0 = off)", self.pca, 4)}
            })}
            {text_field(id("seed"), "seed", self.seed, 5)}
        }
    }
}
