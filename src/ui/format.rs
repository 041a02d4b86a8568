//! Numbers as the page writes them.

/// `value` to `digits` significant digits, as JavaScript's `toPrecision` writes it
/// (exponential below 1e-6), so the page and its tests agree on every character.
pub fn significant(value: f32, digits: usize) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = value.abs().log10().floor() as i32;
    if exponent < -6 {
        return format!("{:.*e}", digits.saturating_sub(1), value);
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::significant;

    #[test]
    fn matches_to_precision() {
        assert_eq!(significant(0.08547, 3), "0.0855");
        assert_eq!(significant(0.41261, 3), "0.413");
        assert_eq!(significant(1.0, 3), "1.00");
        assert_eq!(significant(12.345, 3), "12.3");
    }
}
