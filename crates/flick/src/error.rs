//! The error taxonomy: what went wrong in a handler, and what should happen next.
//!
//! Owns [`Error`], its [`Kind`] and how an error becomes the Runtime API's
//! `{"errorType","errorMessage","stackTrace"}` body. It does not own sending that
//! body (see `runtime_api`) nor what the loop does after a `Fatal` error
//! (see `invocation_loop`).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::json_text::{push_json_display, push_json_string};

/// A boxed error with the bounds every conversion in this crate needs.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is, which decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input was bad: retrying the same input cannot help. Reported
    /// with `errorKind` `Client`. Lambda's retries do not read the kind: an
    /// asynchronous invocation that fails with it is retried like any
    /// function error (send such events to an `on_failure` destination and
    /// tell them apart by `errorType`); behind HTTP, an axum handler
    /// chooses its own status.
    Client,
    /// A dependency failed; the same input may succeed later. Reported with
    /// `errorKind` `Transient`; Lambda retries an asynchronous invocation
    /// that fails with it (as it does any function error).
    Transient,
    /// The sandbox itself is unusable (lost a pool it cannot rebuild, corrupted
    /// state): the error is reported, then the process exits so the host
    /// replaces the sandbox.
    Fatal,
}

impl Kind {
    /// The stable name of the kind, also the default `errorType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "Client",
            Kind::Transient => "Transient",
            Kind::Fatal => "Fatal",
        }
    }
}

/// The error a handler returns.
///
/// Any `std` error, `anyhow::Error`, `String` or `&str` converts into it with `?`
/// (as a [`Kind::Transient`] error); say what kind it is with [`Error::client`],
/// [`Error::transient`] or [`Error::fatal`], and give it a stable short name
/// with [`Error::with_type`].
///
/// `Error` deliberately does not implement `std::error::Error`: that is what lets
/// every such type convert into it with `?` (the same trade `anyhow` makes).
pub struct Error {
    kind: Kind,
    error_type: Option<Cow<'static, str>>,
    source: BoxError,
}

impl Error {
    /// Bad input: `Error::client("order id is missing")`.
    pub fn client(error: impl Into<BoxError>) -> Self {
        Self::new(Kind::Client, error)
    }

    /// A dependency failed; worth retrying.
    pub fn transient(error: impl Into<BoxError>) -> Self {
        Self::new(Kind::Transient, error)
    }

    /// The sandbox is unusable: report, then exit so the host replaces it.
    pub fn fatal(error: impl Into<BoxError>) -> Self {
        Self::new(Kind::Fatal, error)
    }

    /// An error of the given kind.
    pub fn new(kind: Kind, error: impl Into<BoxError>) -> Self {
        Self {
            kind,
            error_type: None,
            source: error.into(),
        }
    }

    /// Names the error for callers and dashboards (`errorType`), e.g.
    /// `"OrderNotFound"`. Keep it short and stable; the default is the kind.
    pub fn with_type(mut self, error_type: impl Into<Cow<'static, str>>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The `errorType` reported to the Runtime API.
    pub fn error_type(&self) -> &str {
        self.error_type.as_deref().unwrap_or(self.kind.as_str())
    }

    /// The error and its sources, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> {
        let first: &(dyn StdError + 'static) = &*self.source;
        std::iter::successors(Some(first), |&e| e.source())
    }

    /// Writes the Runtime API error body into `out`:
    /// `errorMessage` is the display chain joined by `": "`, `stackTrace` lists
    /// the chain one entry per error, `errorKind` is Flick's addition so a host
    /// can tell a client error (not worth retrying) from the others.
    pub(crate) fn write_report(&self, out: &mut String) {
        out.push_str("{\"errorMessage\":");
        push_json_display(out, self);
        out.push_str(",\"errorType\":");
        push_json_string(out, self.error_type());
        out.push_str(",\"errorKind\":");
        push_json_string(out, self.kind.as_str());
        out.push_str(",\"stackTrace\":[");
        for (i, e) in self.chain().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_display(out, &e);
        }
        out.push_str("]}");
    }
}

/// `?` on any error: a [`Kind::Transient`] error named after its kind.
impl<E: Into<BoxError>> From<E> for Error {
    fn from(error: E) -> Self {
        Self::transient(error)
    }
}

/// The display chain: `outer: cause: root cause`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.chain().enumerate() {
            if i > 0 {
                f.write_str(": ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error ({}): {self}",
            self.kind.as_str(),
            self.error_type()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("loading order")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    fn report(e: &Error) -> serde_json::Value {
        let mut out = String::new();
        e.write_report(&mut out);
        serde_json::from_str(&out).unwrap()
    }

    #[test]
    fn question_mark_makes_a_transient_error_with_its_chain() {
        fn fails() -> Result<(), Error> {
            Err(Outer(std::io::Error::other("disk gone")))?
        }
        let e = fails().unwrap_err();
        assert_eq!(e.kind(), Kind::Transient);
        assert_eq!(
            report(&e),
            serde_json::json!({
                "errorMessage": "loading order: disk gone",
                "errorType": "Transient",
                "errorKind": "Transient",
                "stackTrace": ["loading order", "disk gone"],
            })
        );
    }

    #[test]
    fn error_type_is_the_authors_name() {
        let e = Error::client("no such order").with_type("OrderNotFound");
        assert_eq!(e.error_type(), "OrderNotFound");
        assert_eq!(report(&e)["errorKind"], "Client");
    }
}
