//! `[server] store`: the PostgreSQL database several hosts share, checked
//! when the manifest is read, and named in messages without its password.

use tokio_postgres::config::SslMode;
use tokio_postgres::Config;

/// Parses a `postgres://` URL (or `key=value` string) into what the store
/// connects with; a TLS mode is refused, since the host speaks plain TCP.
pub fn parse(url: &str) -> Result<Config, String> {
    let config: Config = url
        .parse()
        .map_err(|e| format!("not a PostgreSQL connection string ({e})"))?;
    if config.get_ssl_mode() == SslMode::Require {
        return Err(
            "sslmode=require: the host connects without TLS (use a local socket, \
                    a private network or a TLS proxy)"
                .into(),
        );
    }
    Ok(config)
}

/// Where the database is, for messages: never the password.
pub fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("postgres://{}:{port}/{db}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_described_without_its_password() {
        let config = parse("postgres://flick:s3cret@db.internal:6432/queue").unwrap();
        let described = describe(&config);
        assert_eq!(described, "postgres://db.internal:6432/queue");
        assert!(!described.contains("s3cret"));
    }

    #[test]
    fn what_the_host_cannot_use_is_named() {
        assert!(parse("mysql://x")
            .unwrap_err()
            .contains("not a PostgreSQL connection string"));
        assert!(parse("postgres://h:notaport/db").is_err());
        assert!(parse("postgres://h/db?sslmode=require")
            .unwrap_err()
            .contains("without TLS"));
        assert!(
            parse("host=/run/postgresql dbname=q").is_ok(),
            "key=value form"
        );
    }
}
