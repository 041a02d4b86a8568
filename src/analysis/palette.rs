//! How a class looks on a map: a colour and a marker shape. Ten colours chosen to stay apart
//! for the common forms of colour blindness (Okabe & Ito's eight, with black, plus Paul Tol's
//! wine and olive), combined with four shapes: classes 0–9 are circles, 10–19 squares, 20–29
//! triangles, 30–39 diamonds, so up to 40 classes never share a marker. Beyond 40, markers
//! repeat and classes are told apart by the legend's toggles and the tooltip.
//! Misclassified images keep their true class's marker, drawn open (outline only).

/// The ten colours, in order of use.
pub const COLOURS: [&str; 10] =
    ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#882255", "#999933"];

/// Marker shapes, in order of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Diamond => "diamond",
        }
    }
}

const SHAPES: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Diamond];

/// Classes with a marker of their own.
pub const DISTINCT_MARKERS: usize = COLOURS.len() * SHAPES.len();

/// The colour and shape of class `class`.
pub fn marker(class: usize) -> (&'static str, Shape) {
    (COLOURS[class % COLOURS.len()], SHAPES[(class / COLOURS.len()) % SHAPES.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_classes_get_forty_markers() {
        let mut seen = std::collections::HashSet::new();
        for class in 0..DISTINCT_MARKERS {
            assert!(seen.insert(marker(class)), "class {class} repeats a marker");
        }
        assert_eq!(marker(DISTINCT_MARKERS), marker(0));
        assert_eq!(marker(13), (COLOURS[3], Shape::Square));
    }
}
