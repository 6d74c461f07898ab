//! AWS Signature Version 4, checked as the service checks it: the request
//! is put in canonical form, hashed with the payload, and signed again with
//! the caller's secret key; the two signatures must match, and the signing
//! time must be within five minutes of now.
//!
//! Owns the algorithm only (AWS's published "Signature Version 4 signing
//! process" for services other than S3: the path is URI-encoded once more,
//! the query sorted); which keys exist and what answer a failure gets is
//! [`super::auth`]'s.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far the signing time may be from now, either way.
const SKEW: Duration = Duration::from_secs(5 * 60);

/// The parts of an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access_key_id: &'a str,
    /// `DATE/REGION/SERVICE/aws4_request`.
    pub scope: &'a str,
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

/// Why a signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The header is not a SigV4 authorization, or lacks a part.
    Incomplete(String),
    Mismatch,
    Expired {
        signed: String,
        earliest: String,
        now: String,
    },
    NotYetCurrent {
        signed: String,
        latest: String,
        now: String,
    },
    /// The credential is scoped to another date, region or service.
    WrongScope(String),
}

/// Takes an `Authorization` header apart.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, SignatureError> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        SignatureError::Incomplete(format!("Authorization header must start with {ALGORITHM}"))
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let missing = |what: &str| {
        SignatureError::Incomplete(format!("Authorization header requires '{what}' parameter."))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let (access_key_id, scope) = credential.split_once('/').ok_or_else(|| {
        SignatureError::Incomplete("Credential must be KEY/DATE/REGION/SERVICE/aws4_request".into())
    })?;
    Ok(Authorization {
        access_key_id,
        scope,
        signed_headers: signed
            .ok_or_else(|| missing("SignedHeaders"))?
            .split(';')
            .collect(),
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

/// One request as signed.
pub struct Signed<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Checks what can be checked before the body is read: a signing time
/// within five minutes of `now`, a credential scoped to that day, `region`
/// and `service`, and the `host` header signed. Returns the signing time.
pub fn check_headers<'a>(
    auth: &Authorization<'_>,
    headers: &'a HeaderMap,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<&'a str, SignatureError> {
    let amz_date = header(headers, "x-amz-date").ok_or_else(|| {
        SignatureError::Incomplete("Authorization requires the X-Amz-Date header.".into())
    })?;
    let signed_at = crate::clock::parse_amz_date(amz_date).ok_or_else(|| {
        SignatureError::Incomplete(format!(
            "X-Amz-Date {amz_date} is not a date like 20261127T070000Z"
        ))
    })?;
    check_time(signed_at, now)?;
    if !auth.signed_headers.contains(&"host") {
        return Err(SignatureError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let scope: Vec<&str> = auth.scope.split('/').collect();
    let [date, scope_region, scope_service, "aws4_request"] = scope[..] else {
        return Err(SignatureError::Incomplete(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request".into(),
        ));
    };
    if date != &amz_date[..8] {
        return Err(SignatureError::WrongScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}', from '{amz_date}'.",
            &amz_date[..8]
        )));
    }
    if scope_region != region {
        return Err(SignatureError::WrongScope(format!(
            "Credential should be scoped to a valid region, not '{scope_region}'. This host serves '{region}'."
        )));
    }
    if scope_service != service {
        return Err(SignatureError::WrongScope(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    Ok(amz_date)
}

/// Checks the signature of `request` with `secret`; `amz_date` is the
/// signing time [`check_headers`] accepted.
pub fn verify(
    auth: &Authorization<'_>,
    request: &Signed<'_>,
    amz_date: &str,
    secret: &str,
) -> Result<(), SignatureError> {
    let canonical = canonical_request(request, &auth.signed_headers);
    let expected = signature(&canonical, amz_date, auth.scope, secret);
    // Compared without an early exit, so the time taken tells nothing.
    let same = expected.len() == auth.signature.len()
        && expected
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The key a client signs with, and where the request goes.
#[derive(Debug, Clone, Copy)]
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// What a client does: signs a request (adding `x-amz-date` and
/// `authorization` to its headers, every header signed).
pub fn sign(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    body: &[u8],
    key: SigningKey<'_>,
    now: SystemTime,
) {
    let amz_date = crate::clock::amz_date(now);
    if let Ok(v) = amz_date.parse() {
        headers.insert("x-amz-date", v);
    }
    let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_string()).collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let request = Signed {
        method,
        uri,
        headers,
        body,
    };
    let scope = format!(
        "{}/{}/{}/aws4_request",
        &amz_date[..8],
        key.region,
        key.service
    );
    let sig = signature(
        &canonical_request(&request, &names),
        &amz_date,
        &scope,
        key.secret,
    );
    let value = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
        key.access_key_id,
        names.join(";")
    );
    if let Ok(v) = value.parse() {
        headers.insert("authorization", v);
    }
}

/// The signature of a canonical request: the string to sign, hashed with a
/// key derived from the secret, the date, region and service of `scope`.
fn signature(canonical: &str, amz_date: &str, scope: &str, secret: &str) -> String {
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/') {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, to_sign.as_bytes()))
}

fn check_time(signed_at: SystemTime, now: SystemTime) -> Result<(), SignatureError> {
    let stamp = |t: SystemTime| crate::clock::amz_date(t);
    if signed_at + SKEW < now {
        return Err(SignatureError::Expired {
            signed: stamp(signed_at),
            earliest: stamp(now - SKEW),
            now: stamp(now),
        });
    }
    if signed_at > now + SKEW {
        return Err(SignatureError::NotYetCurrent {
            signed: stamp(signed_at),
            latest: stamp(now + SKEW),
            now: stamp(now),
        });
    }
    Ok(())
}

fn canonical_request(r: &Signed<'_>, signed_headers: &[&str]) -> String {
    let headers: String = signed_headers
        .iter()
        .map(|name| {
            let values: Vec<String> = r
                .headers
                .get_all(*name)
                .iter()
                .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        r.method,
        uri_encode(r.uri.path(), false),
        canonical_query(r.uri.query().unwrap_or("")),
        headers,
        signed_headers.join(";"),
        hex(&Sha256::digest(r.body))
    )
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (uri_encode(&k, true), uri_encode(&v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes all but the unreserved characters (and `/` in a path).
fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A request signed by botocore 1.43 (SigV4Auth, service lambda).
    const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261127/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type, Signature=76e9934d6ea0adf5b0950ac781b0af79cb7774bcc7d7a967aa40c91b94c5deee";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn botocore_request() -> (Method, Uri, HeaderMap) {
        let uri: Uri = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho/invocations?Qualifier=%24LATEST".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-invocation-type",
            HeaderValue::from_static("RequestResponse"),
        );
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        h.insert("x-amz-date", HeaderValue::from_static("20261127T073941Z"));
        h.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
        h.insert("authorization", HeaderValue::from_static(AUTHORIZATION));
        (Method::POST, uri, h)
    }

    fn check(secret: &str, body: &[u8], now: SystemTime) -> Result<(), SignatureError> {
        let (method, uri, headers) = botocore_request();
        let auth = parse_authorization(AUTHORIZATION).unwrap();
        let amz_date = check_headers(&auth, &headers, "us-east-1", "lambda", now)?;
        let request = Signed {
            method: &method,
            uri: &uri,
            headers: &headers,
            body,
        };
        verify(&auth, &request, amz_date, secret)
    }

    #[test]
    fn a_signature_scoped_elsewhere_is_refused_before_the_body() {
        let (_, _, headers) = botocore_request();
        let auth = parse_authorization(AUTHORIZATION).unwrap();
        let now = crate::clock::parse_amz_date("20261127T073941Z").unwrap();
        assert!(check_headers(&auth, &headers, "us-east-1", "lambda", now).is_ok());
        assert!(matches!(
            check_headers(&auth, &headers, "eu-west-1", "lambda", now),
            Err(SignatureError::WrongScope(m)) if m.contains("'us-east-1'")
        ));
        assert!(matches!(
            check_headers(&auth, &headers, "us-east-1", "sts", now),
            Err(SignatureError::WrongScope(_))
        ));
        let unsigned_host = AUTHORIZATION.replace("content-type;host;", "content-type;");
        let auth = parse_authorization(&unsigned_host).unwrap();
        assert!(matches!(
            check_headers(&auth, &headers, "us-east-1", "lambda", now),
            Err(SignatureError::Incomplete(m)) if m.contains("'Host'")
        ));
    }

    #[test]
    fn a_botocore_signature_verifies_and_any_change_breaks_it() {
        let signed_at = crate::clock::parse_amz_date("20261127T073941Z").unwrap();
        let now = signed_at + Duration::from_secs(60);
        assert_eq!(check(SECRET, br#"{"a":1}"#, now), Ok(()));
        assert_eq!(
            check(SECRET, br#"{"a":2}"#, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("another secret", br#"{"a":1}"#, now),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check(SECRET, br#"{"a":1}"#, signed_at + Duration::from_secs(301)),
            Err(SignatureError::Expired { .. })
        ));
        let early = check(SECRET, br#"{"a":1}"#, signed_at - Duration::from_secs(400));
        assert_eq!(
            early,
            Err(SignatureError::NotYetCurrent {
                signed: "20261127T073941Z".into(),
                latest: "20261127T073801Z".into(),
                now: "20261127T073301Z".into()
            })
        );
    }

    #[test]
    fn what_sign_makes_verify_takes() {
        let (method, uri, mut headers) = botocore_request();
        headers.remove("authorization");
        let now = SystemTime::now();
        let key = SigningKey {
            access_key_id: "AKID",
            secret: "s3cret",
            region: "eu-west-1",
            service: "lambda",
        };
        sign(&method, &uri, &mut headers, b"{}", key, now);
        let value = headers["authorization"].to_str().unwrap().to_string();
        let auth = parse_authorization(&value).unwrap();
        let amz_date = check_headers(&auth, &headers, "eu-west-1", "lambda", now).unwrap();
        let request = Signed {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: b"{}",
        };
        assert_eq!(verify(&auth, &request, amz_date, "s3cret"), Ok(()));
        assert_eq!(
            verify(&auth, &request, amz_date, "other"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn authorization_headers_are_taken_apart() {
        let a = parse_authorization(AUTHORIZATION).unwrap();
        assert_eq!(a.access_key_id, "AKIDEXAMPLE");
        assert_eq!(a.scope, "20261127/us-east-1/lambda/aws4_request");
        assert_eq!(
            a.signed_headers,
            [
                "content-type",
                "host",
                "x-amz-date",
                "x-amz-invocation-type"
            ]
        );
        assert!(matches!(
            parse_authorization("Basic dXNlcg=="),
            Err(SignatureError::Incomplete(_))
        ));
        assert!(matches!(
            parse_authorization("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00"),
            Err(SignatureError::Incomplete(m)) if m.contains("Credential")
        ));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_authorization_header_is_read_or_refused(value in "(?s).{0,300}") {
                let _ = parse_authorization(&value);
            }

            #[test]
            fn a_signature_covers_every_byte_of_the_body(
                body in proptest::collection::vec(any::<u8>(), 0..512),
                flip in any::<prop::sample::Index>(),
            ) {
                let (method, uri, mut headers) = botocore_request();
                headers.remove("authorization");
                let now = SystemTime::now();
                let key = SigningKey { access_key_id: "AKID", secret: "s", region: "us-east-1", service: "lambda" };
                sign(&method, &uri, &mut headers, &body, key, now);
                let value = headers["authorization"].to_str().unwrap().to_string();
                let auth = parse_authorization(&value).unwrap();
                let amz_date = check_headers(&auth, &headers, "us-east-1", "lambda", now).unwrap();
                let ok = Signed { method: &method, uri: &uri, headers: &headers, body: &body };
                prop_assert_eq!(verify(&auth, &ok, amz_date, "s"), Ok(()));
                if !body.is_empty() {
                    let mut changed = body.clone();
                    changed[flip.index(body.len())] ^= 1;
                    let bad = Signed { body: &changed, ..ok };
                    prop_assert_eq!(verify(&auth, &bad, amz_date, "s"), Err(SignatureError::Mismatch));
                }
            }
        }
    }
}
