//! Route keys and the route table: which function a request goes to.
//!
//! Owns the syntax of an API Gateway route key (`GET /items/{id}`,
//! `ANY /api/{proxy+}`, `$default`), when two keys are the same route, and the
//! choice among the routes a request matches, which follows API Gateway's
//! "most specific wins": literal segments beat `{param}`, which beats
//! `{greedy+}`; a method beats `ANY`; `$default` comes last. It does not build
//! events or call functions.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use percent_encoding::percent_decode_str;

/// The methods API Gateway routes on; `ANY` matches them all.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];

/// A parsed route key, e.g. `ANY /api/{proxy+}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey {
    /// The key as written, which is also the event's `routeKey`.
    text: String,
    /// `None` is `ANY`.
    method: Option<String>,
    /// `None` is `$default`.
    path: Option<Vec<Segment>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

impl Segment {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Param(_) => 1,
            Segment::Greedy(_) => 2,
        }
    }
}

impl RouteKey {
    /// Parses `METHOD /path` or `$default`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<RouteKey, String> {
        if text == "$default" {
            return Ok(RouteKey {
                text: text.to_string(),
                method: None,
                path: None,
            });
        }
        let (method, path) = text
            .split_once(' ')
            .ok_or_else(|| format!("route `{text}` is not `METHOD /path` or `$default`"))?;
        if !METHODS.contains(&method) {
            return Err(format!(
                "route `{text}`: method `{method}` is not one of {}",
                METHODS.join(", ")
            ));
        }
        if !path.starts_with('/') {
            return Err(format!("route `{text}`: the path must start with `/`"));
        }
        let names: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut segments = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let segment = match name.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(inner) => match inner.strip_suffix('+') {
                    Some(greedy) if i + 1 == names.len() && valid_param(greedy) => {
                        Segment::Greedy(greedy.to_string())
                    }
                    Some(_) => {
                        return Err(format!(
                            "route `{text}`: a greedy `{{name+}}` must be the last segment"
                        ))
                    }
                    None if valid_param(inner) => Segment::Param(inner.to_string()),
                    None => return Err(format!("route `{text}`: bad parameter `{name}`")),
                },
                None if name.contains(['{', '}', ' ']) => {
                    return Err(format!("route `{text}`: bad segment `{name}`"))
                }
                None => Segment::Literal((*name).to_string()),
            };
            segments.push(segment);
        }
        Ok(RouteKey {
            text: text.to_string(),
            method: (method != "ANY").then(|| method.to_string()),
            path: Some(segments),
        })
    }

    /// The key as written: the event's `routeKey`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path template (`/items/{id}`), the 1.0 event's `resource`.
    pub fn resource(&self) -> String {
        match &self.path {
            None => "$default".to_string(),
            Some(segments) => {
                let parts: Vec<String> = segments
                    .iter()
                    .map(|s| match s {
                        Segment::Literal(l) => l.clone(),
                        Segment::Param(p) => format!("{{{p}}}"),
                        Segment::Greedy(g) => format!("{{{g}+}}"),
                    })
                    .collect();
                format!("/{}", parts.join("/"))
            }
        }
    }

    /// Two keys are the same route when they differ only in parameter names,
    /// as API Gateway sees it: `GET /a/{x}` and `GET /a/{y}` collide.
    pub fn same_route(&self, other: &RouteKey) -> bool {
        self.canonical() == other.canonical()
    }

    fn canonical(&self) -> String {
        match &self.path {
            None => "$default".to_string(),
            Some(segments) => {
                let mut out = self.method.clone().unwrap_or_else(|| "ANY".into());
                for s in segments {
                    out.push('/');
                    // A literal never contains braces, so it cannot look like a placeholder.
                    out.push_str(match s {
                        Segment::Literal(l) => l,
                        Segment::Param(_) => "{}",
                        Segment::Greedy(_) => "{+}",
                    });
                }
                out
            }
        }
    }

    /// Path parameters when `path` (raw, still percent-encoded) matches.
    fn match_path(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let Some(segments) = &self.path else {
            return Some(BTreeMap::new());
        };
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut params = BTreeMap::new();
        for (i, segment) in segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    // A greedy parameter takes one segment or more, slashes kept.
                    if i >= parts.len() {
                        return None;
                    }
                    params.insert(name.clone(), decode(&parts[i..].join("/")));
                    return Some(params);
                }
                Segment::Literal(lit) if parts.get(i) == Some(&lit.as_str()) => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), decode(parts.get(i)?));
                }
            }
        }
        (parts.len() == segments.len()).then_some(params)
    }

    /// API Gateway's precedence: segment by segment, then a method before `ANY`.
    fn specificity(&self, other: &RouteKey) -> Ordering {
        match (&self.path, &other.path) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => {
                let ranks = |s: &[Segment]| s.iter().map(Segment::rank).collect::<Vec<_>>();
                ranks(a)
                    .cmp(&ranks(b))
                    .then(self.method.is_none().cmp(&other.method.is_none()))
            }
        }
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn valid_param(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// Every function's routes.
#[derive(Debug, Default)]
pub struct RouteTable<T> {
    routes: Vec<(RouteKey, T)>,
}

/// What a request matched.
#[derive(Debug)]
pub struct Matched<'a, T> {
    pub key: &'a RouteKey,
    pub target: &'a T,
    /// Decoded values; a greedy parameter keeps its slashes.
    pub path_parameters: BTreeMap<String, String>,
}

impl<T> RouteTable<T> {
    pub fn new() -> Self {
        RouteTable { routes: Vec::new() }
    }

    pub fn add(&mut self, key: RouteKey, target: T) {
        self.routes.push((key, target));
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The most specific route for `method` and the raw `path`.
    pub fn find(&self, method: &str, path: &str) -> Option<Matched<'_, T>> {
        self.routes
            .iter()
            .filter_map(|(key, target)| {
                key.match_path(method, path).map(|path_parameters| Matched {
                    key,
                    target,
                    path_parameters,
                })
            })
            .min_by(|a, b| a.key.specificity(b.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> RouteTable<String> {
        let mut t = RouteTable::new();
        for k in keys {
            t.add(RouteKey::parse(k).unwrap(), (*k).to_string());
        }
        t
    }

    fn route(
        t: &RouteTable<String>,
        method: &str,
        path: &str,
    ) -> Option<(String, Vec<(String, String)>)> {
        t.find(method, path).map(|m| {
            (
                m.target.clone(),
                m.path_parameters.into_iter().collect::<Vec<_>>(),
            )
        })
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn parses_and_refuses() {
        assert!(RouteKey::parse("GET /hello").is_ok());
        assert!(RouteKey::parse("ANY /api/{proxy+}").is_ok());
        assert!(RouteKey::parse("$default").is_ok());
        for bad in [
            "/hello",
            "FETCH /x",
            "GET x",
            "GET /{a+}/b",
            "GET /{}",
            "GET /a{b}",
        ] {
            assert!(RouteKey::parse(bad).is_err(), "{bad}");
        }
        assert!(RouteKey::parse("GET /a/{p+}/b")
            .unwrap_err()
            .contains("last segment"));
    }

    #[test]
    fn same_route_ignores_parameter_names_only() {
        let k = |s| RouteKey::parse(s).unwrap();
        assert!(k("GET /a/{x}").same_route(&k("GET /a/{y}")));
        assert!(k("GET /a/{x}").same_route(&k("GET /a/{x}/")));
        assert!(!k("GET /a/{x}").same_route(&k("ANY /a/{x}")));
        assert!(!k("GET /a/{x}").same_route(&k("GET /a/{x+}")));
        assert!(!k("GET /ab").same_route(&k("GET /a/b")));
        assert!(!k("GET /a/b").same_route(&k("GET /a/{b}")));
    }

    #[test]
    fn exact_method_and_any() {
        let t = table(&["GET /hello", "ANY /items/{id}"]);
        assert_eq!(
            route(&t, "GET", "/hello"),
            Some(("GET /hello".into(), vec![]))
        );
        assert_eq!(route(&t, "POST", "/hello"), None);
        assert_eq!(
            route(&t, "DELETE", "/items/42"),
            Some(("ANY /items/{id}".into(), p(&[("id", "42")])))
        );
        assert_eq!(route(&t, "GET", "/items"), None);
        assert_eq!(route(&t, "GET", "/items/1/2"), None);
    }

    #[test]
    fn greedy_takes_the_rest_and_needs_one_segment() {
        let t = table(&["ANY /api/{proxy+}"]);
        assert_eq!(
            route(&t, "GET", "/api/a/b%20c"),
            Some(("ANY /api/{proxy+}".into(), p(&[("proxy", "a/b c")])))
        );
        assert_eq!(route(&t, "GET", "/api"), None);
        assert_eq!(route(&t, "GET", "/api/"), None);
    }

    #[test]
    fn most_specific_wins() {
        let t = table(&[
            "$default",
            "ANY /{proxy+}",
            "GET /pets/{proxy+}",
            "GET /pets/{id}",
            "ANY /pets/dog",
            "GET /pets/dog",
        ]);
        let target = |m, path| route(&t, m, path).unwrap().0;
        assert_eq!(target("GET", "/pets/dog"), "GET /pets/dog");
        assert_eq!(target("POST", "/pets/dog"), "ANY /pets/dog");
        assert_eq!(target("GET", "/pets/cat"), "GET /pets/{id}");
        assert_eq!(target("GET", "/pets/cat/1"), "GET /pets/{proxy+}");
        assert_eq!(target("POST", "/pets/cat"), "ANY /{proxy+}");
        assert_eq!(target("POST", "/"), "$default");
    }

    #[test]
    fn resource_is_the_template() {
        assert_eq!(
            RouteKey::parse("ANY /api/{proxy+}").unwrap().resource(),
            "/api/{proxy+}"
        );
        assert_eq!(RouteKey::parse("GET /").unwrap().resource(), "/");
    }
}
