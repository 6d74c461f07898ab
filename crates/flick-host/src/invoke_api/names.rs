//! The forms a caller may name a function by: `name`, `name:qualifier`,
//! `ACCOUNT:function:name[:qualifier]` and the full ARN, plus `?Qualifier=`.
//! Owns parsing only; whether the function exists is the caller's question.

/// A function reference taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

/// Parses `raw`; `query_qualifier` is the `Qualifier` query parameter. A
/// qualifier given twice must agree.
pub fn parse(raw: &str, query_qualifier: Option<&str>) -> Result<FunctionRef, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [_account, "function", name] => (*name, None),
        [_account, "function", name, q] => (*name, Some(*q)),
        ["arn", _partition, "lambda", _region, _account, "function", name] => (*name, None),
        ["arn", _partition, "lambda", _region, _account, "function", name, q] => (*name, Some(*q)),
        _ => {
            return Err(format!(
                "`{raw}` is not a function name, name:qualifier or function ARN"
            ))
        }
    };
    if name.is_empty() {
        return Err(format!("`{raw}` has an empty function name"));
    }
    let qualifier = match (qualifier, query_qualifier) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "the qualifier in the name ({a}) and the Qualifier parameter ({b}) differ"
            ))
        }
        (q, p) => q.or(p).map(str::to_string),
    };
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str, q: Option<&str>) -> (String, Option<String>) {
        let r = parse(raw, q).unwrap();
        (r.name, r.qualifier)
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
            ok(
                "arn:aws:lambda:us-east-1:000000000000:function:echo:prod",
                None
            ),
            ("echo".into(), Some("prod".into()))
        );
        assert_eq!(
            ok("echo", Some("$LATEST")),
            ("echo".into(), Some("$LATEST".into()))
        );
    }

    #[test]
    fn refusals() {
        assert!(parse("a:b:c", None).is_err());
        assert!(parse("echo:1", Some("2")).is_err());
        assert!(parse("", None).is_err());
    }
}
