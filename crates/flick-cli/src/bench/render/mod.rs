//! Showing a run's [`Results`]: tables for a terminal, one JSON document
//! for programs, a self-contained HTML page with charts for people. All
//! three show the same numbers, rounded the same way (here, with the other
//! wording they share: the host, ratios, HTML escaping), so that a test can
//! hold one against another.

pub mod html;
pub mod json;
mod svg;
pub mod terminal;

use super::results::{Mode, Results};

/// A millisecond figure as shown: to the microsecond, the finest the
/// host's `Server-Timing` gives.
pub fn rounded(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// A ratio as shown: three significant figures or so, `-` when undefined.
pub fn ratio_text(ratio: Option<f64>) -> String {
    match ratio {
        Some(v) if v >= 10.0 => format!("{v:.1}×"),
        Some(v) if v >= 0.1 => format!("{v:.2}×"),
        Some(v) => format!("{v:.3}×"),
        None => "-".to_string(),
    }
}

/// Which host the run measured, in words.
pub fn host(r: &Results) -> String {
    match &r.mode {
        Mode::Embedded { config } => format!("an embedded host ({config}) at {}", r.endpoint),
        Mode::Endpoint => format!("the host at {}", r.endpoint),
    }
}

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_three_figures() {
        assert_eq!(ratio_text(Some(12.345)), "12.3×");
        assert_eq!(ratio_text(Some(1.5)), "1.50×");
        assert_eq!(ratio_text(Some(0.0234)), "0.023×");
        assert_eq!(ratio_text(None), "-");
        assert_eq!(rounded(1.23456), 1.235);
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
