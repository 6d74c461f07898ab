//! The manifest's checks, each named for the mistake it catches.

use super::*;

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(text, Path::new("flick.toml"), Path::new("/srv/app"))
}

#[test]
fn defaults_and_paths() {
    let m =
        parse("[functions.echo]\ncommand = [\"target/release/echo\", \"-v\"]\nworkdir = \"fn\"\n")
            .unwrap();
    let f = &m.functions["echo"];
    assert_eq!(f.command, ["/srv/app/target/release/echo", "-v"]);
    assert_eq!(f.workdir, Path::new("/srv/app/fn"));
    assert_eq!((f.memory_mb, f.timeout_s, f.max_concurrency), (128, 3, 10));
    assert_eq!(m.server.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(m.server.state_dir, Path::new("/srv/app/.flick"));
}

#[test]
fn bare_program_is_left_to_path_lookup() {
    let m = parse("[functions.py]\ncommand = [\"python3\", \"-m\", \"x\"]\n").unwrap();
    assert_eq!(m.functions["py"].command[0], "python3");
}

fn error_of(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn unknown_key_names_key_and_line() {
    let e = error_of("[functions.echo]\ncommand = [\"x\"]\ntimeout = 3\n");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("unknown field `timeout`"), "{e}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let e = error_of("[functions.echo]\ncommand = [\"x\"]\nmemory_mb = \"big\"\n");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("functions.echo.memory_mb:"), "{e}");
    let e = error_of("[functions.echo]\ncommand = 42\n");
    assert!(
        e.contains("functions.echo.command:") && e.contains("line 2"),
        "{e}"
    );
}

#[test]
fn missing_command() {
    let e = error_of("[server]\nregion = \"eu-west-1\"\n[functions.echo]\nmemory_mb = 256\n");
    assert!(e.contains("missing field `command`"), "{e}");
    assert!(e.contains("line 3") || e.contains("line 4"), "{e}");
}

#[test]
fn zero_timeout_names_key_and_line() {
    let e = error_of("[functions.echo]\ncommand = [\"x\"]\n\ntimeout_s = 0\n");
    assert!(e.contains("functions.echo.timeout_s"), "{e}");
    assert!(e.contains("line 4"), "{e}");
}

#[test]
fn empty_command_and_bad_listen() {
    assert!(error_of("[functions.a]\ncommand = []\n").contains("functions.a.command"));
    assert!(error_of("[server]\nlisten = \"nowhere\"\n").contains("server.listen"));
}

#[test]
fn async_defaults_and_settings() {
    let m = parse("[functions.a]\ncommand = [\"x\"]\n").unwrap();
    assert_eq!(m.functions["a"].async_config, AsyncConfig::default());
    let m = parse(
        "[functions.a]\ncommand = [\"x\"]\n[functions.a.async]\nmax_retry_attempts = 0\n\
         retry_delays_s = [1]\non_failure = \"function:dlq\"\n\
         [functions.dlq]\ncommand = [\"x\"]\n",
    )
    .unwrap();
    let a = &m.functions["a"].async_config;
    assert_eq!(a.max_retry_attempts, 0);
    assert_eq!(a.retry_delays_s, [1]);
    assert_eq!(a.on_failure.as_deref(), Some("dlq"));
    assert_eq!(a.on_success, None);
}

#[test]
fn async_errors_name_key_and_line() {
    let base = "[functions.a]\ncommand = [\"x\"]\n[functions.a.async]\n";
    let e = error_of(&format!("{base}max_retry_attempts = 3\n"));
    assert!(
        e.contains("functions.a.async.max_retry_attempts") && e.contains("line 4"),
        "{e}"
    );
    let e = error_of(&format!("{base}max_event_age_s = 59\n"));
    assert!(e.contains("functions.a.async.max_event_age_s"), "{e}");
    let e = error_of(&format!("{base}on_success = \"function:nope\"\n"));
    assert!(
        e.contains("functions.a.async.on_success") && e.contains("line 4"),
        "{e}"
    );
    let e = error_of(&format!("{base}retries = 1\n"));
    assert!(
        e.contains("unknown field `retries`") && e.contains("line 4"),
        "{e}"
    );
}

#[test]
fn http_routes_and_payload() {
    let m = parse("[functions.a]\ncommand = [\"x\"]\n[functions.a.http]\nroutes = [\"GET /hello\"]\npayload = \"1.0\"\n").unwrap();
    let http = m.functions["a"].http.as_ref().unwrap();
    assert_eq!(http.routes[0].as_str(), "GET /hello");
    assert_eq!(http.payload, crate::gateway::config::PayloadVersion::V1);
    let e = error_of("[functions.a]\ncommand = [\"x\"]\n[functions.a.http]\nroutes = [\"GET /x\"]\npayload = \"3.0\"\n");
    assert!(
        e.contains("functions.a.http.payload") && e.contains("line 5"),
        "{e}"
    );
    let e =
        error_of("[functions.a]\ncommand = [\"x\"]\n[functions.a.http]\nroutes = [\"GIT /x\"]\n");
    assert!(
        e.contains("functions.a.http.routes") && e.contains("line 4"),
        "{e}"
    );
}

#[test]
fn duplicate_route_names_key_line_and_owner() {
    let e = error_of(
        "[functions.a]\ncommand = [\"x\"]\nhttp = { routes = [\"ANY /items/{id}\"] }\n\n[functions.b]\ncommand = [\"x\"]\n[functions.b.http]\nroutes = [\"GET /hello\",\n  \"ANY /items/{key}\"]\n",
    );
    assert!(e.contains("functions.b.http.routes"), "{e}");
    assert!(e.contains("line 9"), "{e}");
    assert!(e.contains("function `a`"), "{e}");
    let e = error_of(
        "[functions.a]\ncommand = [\"x\"]\nhttp = { routes = [\"GET /x\", \"GET /x/\"] }\n",
    );
    assert!(e.contains("line 3") && e.contains("already"), "{e}");
}

#[test]
fn provisioned_beyond_concurrency() {
    let e = error_of("[functions.a]\ncommand = [\"x\"]\nmax_concurrency = 1\nprovisioned = 2\n");
    assert!(
        e.contains("functions.a.provisioned") && e.contains("line 4"),
        "{e}"
    );
}

#[test]
fn a_store_that_is_no_postgres_url_is_named() {
    let ok =
        parse("[server]\nstore = \"postgres://q@db/queue\"\n[functions.a]\ncommand = [\"x\"]\n");
    assert_eq!(
        ok.unwrap().server.store.as_deref(),
        Some("postgres://q@db/queue")
    );
    let e =
        error_of("[server]\nstore = \"postgres://db:port/q\"\n[functions.a]\ncommand = [\"x\"]\n");
    assert!(e.contains("server.store") && e.contains("line 2"), "{e}");
}

#[test]
fn an_advertised_url_is_http_host_and_port_only() {
    let manifest =
        |url: &str| format!("[server]\nadvertise = \"{url}\"\n[functions.a]\ncommand = [\"x\"]\n");
    for good in ["http://10.0.0.5:9000", "http://flick-2.internal:9000/"] {
        let m = parse(&manifest(good)).unwrap();
        assert_eq!(m.server.advertise.as_deref(), Some(good));
    }
    for bad in [
        "10.0.0.5:9000",
        "https://a:9000",
        "http://a",
        "http://a:9000/x",
        "http://",
    ] {
        let e = error_of(&manifest(bad));
        assert!(
            e.contains(&format!("server.advertise: `{bad}` is not a URL")),
            "{bad}: {e}"
        );
    }
}

#[test]
fn tracing_mode_is_lambdas_and_a_typo_is_named() {
    let m = parse("[functions.a]\ncommand = [\"x\"]\ntracing = \"Active\"\n[functions.b]\ncommand = [\"x\"]\n")
        .unwrap();
    assert!(m.functions["a"].tracing_active && !m.functions["b"].tracing_active);
    let e = error_of("[functions.a]\ncommand = [\"x\"]\ntracing = \"active\"\n");
    assert!(
        e.contains("functions.a.tracing") && e.contains("line 3") && e.contains("PassThrough"),
        "{e}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the text, the parser answers, and a refusal names a place.
        #[test]
        fn any_text_is_parsed_or_refused(text in "(?s).{0,400}") {
            if let Err(e) = parse(&text) {
                prop_assert!(e.to_string().starts_with("invalid manifest flick.toml"));
            }
        }

        /// Each numeric setting outside its range is refused by its key.
        #[test]
        fn out_of_range_numbers_name_their_key(
            key in prop::sample::select(vec!["memory_mb", "timeout_s", "ephemeral_storage_mb"]),
            value in any::<i64>(),
        ) {
            let text = format!("[functions.f]\ncommand = [\"x\"]\n{key} = {value}\n");
            let (lo, hi) = match key {
                "memory_mb" => (128, 10_240),
                "timeout_s" => (1, 900),
                _ => (512, 10_240),
            };
            match parse(&text) {
                Ok(_) => prop_assert!((lo..=hi).contains(&value)),
                Err(e) => {
                    prop_assert!(!(lo..=hi).contains(&value));
                    prop_assert!(e.to_string().contains(key), "{e}");
                }
            }
        }
    }
}
