//! Reads the host's phases from an answer's `Server-Timing` header
//! (`sandbox;dur=0.041, init;dur=3.120, invoke;dur=0.210`, milliseconds):
//! `sandbox` and `init` come only on a cold start, `invoke` always.
//!
//! Owns the header's syntax (RFC-style metrics with parameters; unknown
//! metrics and parameters are skipped, so a host that adds some does not
//! break the bench). What the phases mean is [`super::phase`]'s.

/// The host's phases of one answer, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerTiming {
    pub sandbox: Option<f64>,
    pub init: Option<f64>,
    pub invoke: Option<f64>,
}

impl ServerTiming {
    /// Parses the header's value; what it cannot read is left out.
    pub fn parse(header: &str) -> ServerTiming {
        let mut timing = ServerTiming::default();
        for metric in header.split(',') {
            let mut params = metric.split(';').map(str::trim);
            let name = params.next().unwrap_or_default();
            let dur = params
                .filter_map(|p| p.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("dur"))
                .and_then(|(_, value)| value.trim().trim_matches('"').parse::<f64>().ok());
            let slot = match name {
                "sandbox" => &mut timing.sandbox,
                "init" => &mut timing.init,
                "invoke" => &mut timing.invoke,
                _ => continue,
            };
            *slot = dur;
        }
        timing
    }

    /// Whether the host reported a cold start (an init phase).
    pub fn is_cold(&self) -> bool {
        self.init.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_start_has_all_three_phases() {
        let t = ServerTiming::parse("sandbox;dur=0.041, init;dur=3.120, invoke;dur=0.210");
        assert_eq!(t.sandbox, Some(0.041));
        assert_eq!(t.init, Some(3.12));
        assert_eq!(t.invoke, Some(0.21));
        assert!(t.is_cold());
    }

    #[test]
    fn warm_answer_has_invoke_only() {
        let t = ServerTiming::parse("invoke;dur=0.099");
        assert_eq!(
            t,
            ServerTiming {
                invoke: Some(0.099),
                ..ServerTiming::default()
            }
        );
        assert!(!t.is_cold());
    }

    #[test]
    fn unknown_metrics_and_parameters_are_skipped() {
        let t = ServerTiming::parse(
            r#"cache;desc="hit", invoke;desc="x";dur="1.5", db;dur=9, init ; DUR = 2"#,
        );
        assert_eq!(t.invoke, Some(1.5));
        assert_eq!(t.init, Some(2.0));
        assert_eq!(t.sandbox, None);
    }

    #[test]
    fn garbage_gives_nothing() {
        assert_eq!(ServerTiming::parse(""), ServerTiming::default());
        assert_eq!(
            ServerTiming::parse("invoke;dur=fast"),
            ServerTiming::default()
        );
    }
}
