//! Numbers as the page and the CLI write them (kept out of `ui` so it is tested natively).

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

/// A count with thousands separators (1,235,496).
pub fn thousands(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{significant, thousands};

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1_235_496), "1,235,496");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn matches_to_precision() {
        assert_eq!(significant(0.08547, 3), "0.0855");
        assert_eq!(significant(0.41261, 3), "0.413");
        assert_eq!(significant(1.0, 3), "1.00");
        assert_eq!(significant(12.345, 3), "12.3");
    }
}
