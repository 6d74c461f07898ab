//! The forms a caller may name a function by (`name`, `name:qualifier`,
//! `ACCOUNT:function:name[:qualifier]`, the full ARN, plus `?Qualifier=`),
//! checked as the service checks them.
//!
//! Lambda validates `FunctionName` against one pattern and `Qualifier`
//! against another and answers `ValidationException` with messages in its own
//! fixed form, which SDKs and scripts show as they are. The patterns and
//! bounds are the service's (botocore's model, and the patterns quoted in
//! the service's own recorded answers). Owns parsing and validation only;
//! whether the function exists is the caller's question.

/// The pattern of `FunctionName`, as the service's messages quote it.
const NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";
/// The pattern of `Qualifier`.
const QUALIFIER_PATTERN: &str = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+";
/// The longest `FunctionName` (a full ARN with a qualifier).
const MAX_NAME: usize = 256;
const MAX_QUALIFIER: usize = 128;

/// A function reference taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

/// Why a reference was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RefError {
    /// `ValidationException`: each item one violated constraint.
    Invalid(Vec<String>),
    /// The qualifier in the name and `?Qualifier=` differ.
    QualifierMismatch,
}

/// Parses `raw`; `query_qualifier` is the `Qualifier` query parameter.
pub fn parse(raw: &str, query_qualifier: Option<&str>) -> Result<FunctionRef, RefError> {
    let mut errors = Vec::new();
    if let Some(q) = query_qualifier {
        if let Some(problem) = qualifier_problem(q) {
            errors.push(violation(q, "qualifier", &problem));
        }
    }
    let parsed = if raw.len() > MAX_NAME {
        errors.push(violation(
            raw,
            "functionName",
            &format!("Member must have length less than or equal to {MAX_NAME}"),
        ));
        None
    } else {
        let tokens: Vec<&str> = raw.split(':').collect();
        let parsed = match_name(&tokens);
        if parsed.is_none() {
            errors.push(violation(
                raw,
                "functionName",
                &format!("Member must satisfy regular expression pattern: {NAME_PATTERN}"),
            ));
        }
        parsed
    };
    let Some((name, qualifier)) = parsed.filter(|_| errors.is_empty()) else {
        return Err(RefError::Invalid(errors));
    };
    let qualifier = match (qualifier, query_qualifier) {
        (Some(a), Some(b)) if a != b => return Err(RefError::QualifierMismatch),
        (q, p) => q.or(p).map(str::to_string),
    };
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier,
    })
}

/// The service's message for a list of violations.
pub fn validation_message(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    format!(
        "{} validation {noun} detected: {}",
        errors.len(),
        errors.join("; ")
    )
}

fn violation(value: &str, member: &str, constraint: &str) -> String {
    format!("Value '{value}' at '{member}' failed to satisfy constraint: {constraint}")
}

fn qualifier_problem(q: &str) -> Option<String> {
    if q.is_empty() {
        return Some("Member must have length greater than or equal to 1".into());
    }
    if q.len() > MAX_QUALIFIER {
        return Some(format!(
            "Member must have length less than or equal to {MAX_QUALIFIER}"
        ));
    }
    let latest = matches!(q, "$LATEST" | "$LATEST.PUBLISHED");
    let plain = q.bytes().all(|b| word(b) || b == b'$');
    (!latest && !plain)
        .then(|| format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"))
}

/// An optional part of a name: how many tokens it takes at the start, if it is there.
type Part = fn(&[&str]) -> Option<usize>;

/// Matches the colon-separated tokens of a name against [`NAME_PATTERN`]:
/// optional `arn:PARTITION:lambda`, region, account and `function`, then the
/// name and an optional qualifier. Returns (name, qualifier).
fn match_name<'a>(tokens: &[&'a str]) -> Option<(&'a str, Option<&'a str>)> {
    match_from(
        tokens,
        &[arn_part, region_part, account_part, function_part],
    )
}

/// Tries each optional part present, then absent, as the regex would.
fn match_from<'a>(tokens: &[&'a str], parts: &[Part]) -> Option<(&'a str, Option<&'a str>)> {
    let Some((part, others)) = parts.split_first() else {
        return name_and_qualifier(tokens);
    };
    part(tokens)
        .and_then(|n| match_from(&tokens[n..], others))
        .or_else(|| match_from(tokens, others))
}

fn arn_part(t: &[&str]) -> Option<usize> {
    (t.len() >= 3 && t[0] == "arn" && partition(t[1]) && t[2] == "lambda").then_some(3)
}

fn region_part(t: &[&str]) -> Option<usize> {
    t.first().filter(|r| region(r)).map(|_| 1)
}

fn account_part(t: &[&str]) -> Option<usize> {
    t.first()
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .map(|_| 1)
}

fn function_part(t: &[&str]) -> Option<usize> {
    (t.first() == Some(&"function")).then_some(1)
}

fn name_and_qualifier<'a>(tokens: &[&'a str]) -> Option<(&'a str, Option<&'a str>)> {
    let name_ok = |n: &str| !n.is_empty() && n.bytes().all(|b| word(b) || b == b'.');
    match tokens {
        [name] if name_ok(name) => Some((name, None)),
        [name, q] if name_ok(name) && qualifier_in_name(q) => Some((name, Some(q))),
        _ => None,
    }
}

fn qualifier_in_name(q: &str) -> bool {
    matches!(q, "$LATEST" | "$LATEST.PUBLISHED") || (!q.is_empty() && q.bytes().all(word))
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `aws[a-zA-Z-]*`, or nothing.
fn partition(p: &str) -> bool {
    p.is_empty()
        || p.strip_prefix("aws")
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'))
}

/// `(eusc-)?[a-z]{2}((-gov)|(-iso[a-z]?))?-[a-z]+-\d`
fn region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let parts = parts.strip_prefix(&["eusc"]).unwrap_or(&parts);
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let area = |s: &str| s.len() == 2 && lower(s);
    let digit = |s: &str| s.len() == 1 && s.bytes().all(|b| b.is_ascii_digit());
    let partition = |s: &str| s == "gov" || (s.starts_with("iso") && s.len() <= 4 && lower(s));
    match parts {
        [a, place, d] => area(a) && lower(place) && digit(d),
        [a, kind, place, d] => area(a) && partition(kind) && lower(place) && digit(d),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str, q: Option<&str>) -> (String, Option<String>) {
        let r = parse(raw, q).unwrap();
        (r.name, r.qualifier)
    }

    fn invalid(raw: &str, q: Option<&str>) -> Vec<String> {
        match parse(raw, q) {
            Err(RefError::Invalid(e)) => e,
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn every_form() {
        assert_eq!(ok("echo", None), ("echo".into(), None));
        assert_eq!(
            ok("echo:$LATEST", None),
            ("echo".into(), Some("$LATEST".into()))
        );
        assert_eq!(
            ok("000000000000:function:echo", None),
            ("echo".into(), None)
        );
        assert_eq!(
            ok("function:echo:prod", None),
            ("echo".into(), Some("prod".into()))
        );
        assert_eq!(
            ok(
                "arn:aws:lambda:us-east-1:000000000000:function:echo:prod",
                None
            ),
            ("echo".into(), Some("prod".into()))
        );
        assert_eq!(
            ok(
                "arn:aws-cn:lambda:cn-north-1:000000000000:function:e.x",
                None
            )
            .0,
            "e.x"
        );
        assert_eq!(ok("us-gov-west-1:000000000000:function:a", None).0, "a");
        assert_eq!(
            ok("echo", Some("$LATEST")),
            ("echo".into(), Some("$LATEST".into()))
        );
        // As recorded from the service: a lone `function` after an ARN is the name.
        assert_eq!(
            ok("arn:aws:lambda:us-east-1:000000000000:function", None).0,
            "function"
        );
        // A lowercase $latest passes validation; it is simply not found.
        assert_eq!(ok("echo", Some("$latest")).1.as_deref(), Some("$latest"));
    }

    #[test]
    fn refusals_read_like_the_services() {
        let e = invalid("my-function!", None);
        assert_eq!(
            validation_message(&e),
            format!(
                "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
            )
        );
        for bad in [
            "",
            "a:b:c",
            "arn:aws:ec2:us-east-1:000000000000:instance:i-1",
            "f:$LATES",
            "arn:aws:lambda:invalid-region:000000000000:function:f",
            "function:f:$LATEST:extra",
            "arn:aws:lambda::000000000000:function:f",
            "f\0",
        ] {
            assert_eq!(invalid(bad, None).len(), 1, "{bad:?}");
        }
        assert!(invalid(&"a".repeat(10_000), None)[0].ends_with("less than or equal to 256"));
        let both = invalid("a:b:c", Some(&"q".repeat(129)));
        assert_eq!(both.len(), 2);
        assert!(validation_message(&both).starts_with("2 validation errors detected: Value 'qqq"));
        assert!(invalid("f", Some(""))[0].ends_with("greater than or equal to 1"));
        assert!(invalid("f", Some("bad!"))[0].contains("regular expression pattern"));
        assert_eq!(parse("echo:1", Some("2")), Err(RefError::QualifierMismatch));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_reference_is_parsed_or_refused(raw in "(?s).{0,300}", q in proptest::option::of(".{0,200}")) {
                match parse(&raw, q.as_deref()) {
                    Ok(r) => {
                        prop_assert!(!r.name.is_empty());
                        prop_assert!(raw.contains(&r.name));
                    }
                    Err(RefError::Invalid(errors)) => prop_assert!(!errors.is_empty()),
                    Err(RefError::QualifierMismatch) => prop_assert!(q.is_some()),
                }
            }

            #[test]
            fn every_valid_form_gives_back_its_name(
                name in "[a-zA-Z0-9_.-]{1,64}",
                qualifier in proptest::option::of("[a-zA-Z0-9_-]{1,20}|\\$LATEST"),
                form in 0..3usize,
            ) {
                let base = match form {
                    0 => name.clone(),
                    1 => format!("123456789012:function:{name}"),
                    _ => format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
                };
                let raw = match &qualifier {
                    Some(q) => format!("{base}:{q}"),
                    None => base,
                };
                let r = parse(&raw, None).unwrap();
                prop_assert_eq!(r.name, name);
                prop_assert_eq!(r.qualifier, qualifier);
            }
        }
    }
}
