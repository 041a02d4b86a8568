//! The named starting points for t-SNE settings, shared by the CLI (`--preset`) and the page's
//! menus, and the one rule that adapts a configuration to a small data set.

use std::fmt;
use std::str::FromStr;

use super::TsneConfig;

/// A named set of defaults ([`TsneConfig::opentsne`], [`TsneConfig::matlab`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum TsnePreset {
    /// openTSNE's defaults (the `tsne` command's default).
    #[default]
    OpenTsne,
    /// MATLAB's `tsne` defaults (the reference workflow's, and the analysis's default).
    Matlab,
}

impl TsnePreset {
    /// The configuration for `n` points (openTSNE's learning rate depends on N).
    pub fn config(self, n: usize) -> TsneConfig {
        match self {
            TsnePreset::OpenTsne => TsneConfig::opentsne(n),
            TsnePreset::Matlab => TsneConfig::matlab(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TsnePreset::OpenTsne => "opentsne",
            TsnePreset::Matlab => "matlab",
        }
    }
}

impl fmt::Display for TsnePreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TsnePreset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "opentsne" => Ok(TsnePreset::OpenTsne),
            "matlab" => Ok(TsnePreset::Matlab),
            other => Err(format!("unknown t-SNE preset `{other}`; use `matlab` or `opentsne`")),
        }
    }
}

/// A learning rate as the user gives it: `auto` (which depends on N, so it is resolved once
/// N is known) or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LearningRate {
    /// [`TsneConfig::auto_learning_rate`].
    Auto,
    Fixed(f64),
}

impl LearningRate {
    /// The rate for `n` points.
    pub fn for_points(self, n: usize) -> f64 {
        match self {
            LearningRate::Auto => TsneConfig::auto_learning_rate(n),
            LearningRate::Fixed(rate) => rate,
        }
    }
}

impl FromStr for LearningRate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(LearningRate::Auto);
        }
        match s.parse::<f64>() {
            Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(LearningRate::Fixed(rate)),
            _ => Err(format!("`{s}` is neither `auto` nor a positive number")),
        }
    }
}

impl TsneConfig {
    /// The learning rate `auto` stands for: max(N/12, 50) (Belkina et al. 2019; see
    /// [`TsneConfig::opentsne`]).
    pub fn auto_learning_rate(n: usize) -> f64 {
        (n as f64 / 12.0).max(50.0)
    }

    /// Sets the iterations with early exaggeration. Where the momentum switched when
    /// exaggeration ended (openTSNE), it still does; where it switches at a fixed iteration
    /// (MATLAB, at 250), it stays.
    pub fn set_exaggeration_iterations(&mut self, iterations: usize) {
        if self.momentum_switch_iter == self.exaggeration_iter {
            self.momentum_switch_iter = iterations;
        }
        self.exaggeration_iter = iterations;
    }

    /// The configuration with its perplexity lowered to what `n` points allow (⌊(N − 1)/3⌋,
    /// at least 1), and a sentence saying so when it was. MATLAB refuses such a data set; a
    /// validation split of a few dozen images is common in a first try, and a map with a
    /// smaller neighbourhood is more useful than an error.
    pub fn fitted_to(&self, n: usize) -> (TsneConfig, Option<String>) {
        if n >= self.min_points() {
            return (self.clone(), None);
        }
        let perplexity = (((n as f64 - 1.0) / 3.0).floor()).max(1.0);
        let note = format!(
            "perplexity lowered from {} to {perplexity} for {n} points (it needs at least 3 × perplexity + 1)",
            self.perplexity
        );
        (TsneConfig { perplexity, ..self.clone() }, Some(note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_small_sets_get_a_smaller_perplexity() {
        for preset in [TsnePreset::OpenTsne, TsnePreset::Matlab] {
            assert_eq!(preset.name().parse::<TsnePreset>(), Ok(preset));
        }
        assert!("tsne".parse::<TsnePreset>().unwrap_err().contains("matlab"));
        let (config, note) = TsnePreset::Matlab.config(31).fitted_to(31);
        assert_eq!(config.perplexity, 10.0);
        assert!(note.unwrap().contains("from 30 to 10"));
        assert_eq!(config.min_points(), 31);
        let (same, none) = TsnePreset::Matlab.config(91).fitted_to(91);
        assert_eq!(same.perplexity, 30.0);
        assert!(none.is_none());
    }

    #[test]
    fn method_and_learning_rate_names_round_trip() {
        for (method, name, label) in crate::embed::Method::CHOICES {
            assert_eq!(name.parse::<crate::embed::Method>(), Ok(method));
            assert_eq!(label.parse::<crate::embed::Method>(), Ok(method));
            assert_eq!((method.name(), method.label()), (name, label));
        }
        assert!("fit-sne".parse::<crate::embed::Method>().unwrap_err().contains("fft"));
        assert_eq!("AUTO".parse::<LearningRate>().map(|r| r.for_points(1200)), Ok(100.0));
        assert_eq!(" 500 ".parse::<LearningRate>(), Ok(LearningRate::Fixed(500.0)));
        assert!("-1".parse::<LearningRate>().is_err() && "NaN".parse::<LearningRate>().is_err());
    }

    #[test]
    fn exaggeration_length_moves_the_momentum_switch_only_where_they_coincide() {
        let mut open = TsnePreset::OpenTsne.config(1200);
        assert_eq!(open.learning_rate, 100.0);
        assert_eq!(TsneConfig::auto_learning_rate(120), 50.0);
        open.set_exaggeration_iterations(100);
        assert_eq!((open.exaggeration_iter, open.momentum_switch_iter), (100, 100));
        let mut matlab = TsnePreset::Matlab.config(1200);
        matlab.set_exaggeration_iterations(150);
        assert_eq!((matlab.exaggeration_iter, matlab.momentum_switch_iter), (150, 250));
    }
}
