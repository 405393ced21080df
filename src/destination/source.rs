//! A sync's `source`: `sqlite://PATH`, `postgres://user:pass@host/db?sslmode=...` or
//! `snowflake://USER@ACCOUNT/DATABASE/SCHEMA?...` (docs/design/snowflake.md). The password of a
//! PostgreSQL URL (in its user info or as a `password=` parameter), and a Snowflake URL's
//! `password=` and `private_key_passphrase=`, are secrets: the URL is kept whole for the
//! connector and shown with them masked. A Snowflake URL's parts are checked by its connector
//! when it connects (`check --connect`, a run).

use std::path::Path;

use super::model::WarehouseSource;
use super::secret::{MASK, Text};

/// A parsed source, with the password found in it (to mask it wherever it might show).
#[derive(Debug)]
pub struct ParsedSource {
    /// Where the sync reads its model.
    pub source: WarehouseSource,
    /// The password of a PostgreSQL or Snowflake URL, if it has one.
    pub password: Option<String>,
    /// A Snowflake URL's `private_key_passphrase`, if it has one.
    pub passphrase: Option<String>,
}

/// Parses `source`; relative SQLite paths are resolved against `base_dir`. The error is a
/// message that does not quote the source.
pub fn parse_source(source: &str, from_env: bool, base_dir: &Path) -> Result<ParsedSource, &'static str> {
    if let Some(path) = source.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("a sqlite:// source needs a path, such as sqlite://warehouse.db");
        }
        // `sqlite:///abs/path` is absolute; anything else is relative to the config file.
        let path = if path.starts_with('/') { Path::new(path).to_path_buf() } else { base_dir.join(path) };
        return Ok(ParsedSource {
            source: WarehouseSource::Sqlite { path, secret: from_env },
            password: None,
            passphrase: None,
        });
    }
    if source.get(..SNOWFLAKE.len()).is_some_and(|head| head.eq_ignore_ascii_case(SNOWFLAKE)) {
        let rest = &source[SNOWFLAKE.len()..];
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if !authority.contains('@') || rest[authority.len()..].split('?').next().is_none_or(|p| p.len() < 4) {
            return Err("a snowflake:// source is snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&...");
        }
        let (shown, found) = mask_params(source, &["password", "private_key_passphrase"]);
        let mut found = found.into_iter();
        let (password, passphrase) = (found.next().flatten(), found.next().flatten());
        let shown = if from_env { MASK.to_owned() } else { shown };
        let secret = from_env || password.is_some() || passphrase.is_some();
        return Ok(ParsedSource {
            source: WarehouseSource::Snowflake { url: Text::new(source, secret), shown },
            password,
            passphrase,
        });
    }
    let scheme_len = ["postgres://", "postgresql://"]
        .iter()
        .find(|s| source.get(..s.len()).is_some_and(|head| head.eq_ignore_ascii_case(s)))
        .map(|s| s.len())
        .ok_or("the source must be sqlite://PATH, postgres://USER:PASSWORD@HOST/DATABASE or snowflake://USER@ACCOUNT/DATABASE/SCHEMA")?;
    let rest = &source[scheme_len..];
    if rest.is_empty() {
        return Err("a postgres:// source needs at least a host or a database");
    }
    let (shown, password) = mask_postgres_password(source, scheme_len);
    // A URL from the environment is a secret whole, even without a password.
    let shown = if from_env { MASK.to_owned() } else { shown };
    let secret = from_env || password.is_some();
    Ok(ParsedSource {
        source: WarehouseSource::Postgres { url: Text::new(source, secret), shown },
        password,
        passphrase: None,
    })
}

const SNOWFLAKE: &str = "snowflake://";

/// The URL with the values of the query parameters `names` masked, and each one's value (as
/// written), in the order of `names`.
fn mask_params(url: &str, names: &[&str]) -> (String, Vec<Option<String>>) {
    let mut found = vec![None; names.len()];
    let Some((head, query)) = url.split_once('?') else { return (url.to_owned(), found) };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((k, v)) => match names.iter().position(|n| k.eq_ignore_ascii_case(n)) {
                Some(i) => {
                    found[i].get_or_insert_with(|| v.to_owned());
                    format!("{k}={MASK}")
                }
                None => param.to_owned(),
            },
            None => param.to_owned(),
        })
        .collect();
    (format!("{head}?{}", params.join("&")), found)
}

/// The URL with its password masked, and the password (as written, percent-encoding and all).
fn mask_postgres_password(url: &str, scheme_len: usize) -> (String, Option<String>) {
    let (scheme, rest) = url.split_at(scheme_len);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut password = None;
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, pass)) => {
                password = Some(pass.to_owned());
                format!("{user}:{MASK}@{host}")
            }
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // libpq also takes `password=` among the parameters.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((k, v)) if k.eq_ignore_ascii_case("password") => {
                        password.get_or_insert_with(|| v.to_owned());
                        format!("{k}={MASK}")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    (format!("{scheme}{authority}{tail}"), password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflake_sources_mask_their_password_and_passphrase() {
        let base = Path::new("/etc/audience");
        let url = "snowflake://SVC@org-acct/DB/MARTS?warehouse=WH&password=p%40ss&role=R";
        let p = parse_source(url, false, base).unwrap();
        assert_eq!((p.password.as_deref(), p.passphrase.as_deref()), (Some("p%40ss"), None));
        let WarehouseSource::Snowflake { url: text, shown } = &p.source else { panic!("{:?}", p.source) };
        assert!(text.is_secret());
        assert_eq!(shown, "snowflake://SVC@org-acct/DB/MARTS?warehouse=WH&password=***&role=R");
        assert!(!format!("{:?}", p.source).contains("p%40ss"));
        let url = "snowflake://SVC@org-acct/DB/MARTS?private_key_file=/k.p8&private_key_passphrase=pp";
        let p = parse_source(url, false, base).unwrap();
        assert_eq!((p.password.as_deref(), p.passphrase.as_deref()), (None, Some("pp")));
        let WarehouseSource::Snowflake { shown, .. } = &p.source else { panic!() };
        assert_eq!(shown, "snowflake://SVC@org-acct/DB/MARTS?private_key_file=/k.p8&private_key_passphrase=***");
        let p = parse_source("snowflake://SVC@acct/DB/S?private_key_file=/k.p8", false, base).unwrap();
        assert!(matches!(&p.source, WarehouseSource::Snowflake { url, .. } if !url.is_secret()));
        let p = parse_source("snowflake://SVC@acct/DB/S?private_key_file=/k.p8", true, base).unwrap();
        assert!(matches!(&p.source, WarehouseSource::Snowflake { url, shown } if url.is_secret() && shown == MASK));
        for bad in ["snowflake://", "snowflake://acct/DB/S", "snowflake://u@acct", "snowflake://u@acct/?x"] {
            assert!(parse_source(bad, false, base).unwrap_err().contains("snowflake://USER@ACCOUNT"), "{bad}");
        }
    }

    #[test]
    fn sources() {
        let base = Path::new("/etc/audience");
        let p = parse_source("sqlite://warehouse.db", false, base).unwrap();
        assert_eq!(p.source, WarehouseSource::Sqlite { path: "/etc/audience/warehouse.db".into(), secret: false });
        let p = parse_source("sqlite:///var/w.db", false, base).unwrap();
        assert_eq!(p.source, WarehouseSource::Sqlite { path: "/var/w.db".into(), secret: false });
        let p = parse_source("postgres://app:s3cr%40t@db.internal:5432/dw?sslmode=verify-full", false, base).unwrap();
        assert_eq!(p.password.as_deref(), Some("s3cr%40t"));
        let WarehouseSource::Postgres { url, shown } = &p.source else { panic!() };
        assert!(url.is_secret());
        assert_eq!(shown, "postgres://app:***@db.internal:5432/dw?sslmode=verify-full");
        assert!(!format!("{:?}", p.source).contains("s3cr"));
        let p = parse_source("postgresql://db/dw?user=a&password=pw&sslmode=require", false, base).unwrap();
        assert_eq!(p.password.as_deref(), Some("pw"));
        let WarehouseSource::Postgres { url, shown } = &p.source else { panic!() };
        assert_eq!((url.is_secret(), shown.as_str()), (true, "postgresql://db/dw?user=a&password=***&sslmode=require"));
        let p = parse_source("sqlite://x.db", true, base).unwrap();
        assert_eq!(format!("{:?}", p.source), "Sqlite { path: \"***\" }");
        let p = parse_source("postgres://db/dw", true, base).unwrap();
        assert!(matches!(&p.source, WarehouseSource::Postgres { url, shown } if url.is_secret() && shown == MASK));
        let p = parse_source("postgres://db/dw", false, base).unwrap();
        assert!(matches!(&p.source, WarehouseSource::Postgres { url, .. } if !url.is_secret()));
        for bad in ["sqlite://", "mysql://x", "postgres://", "warehouse.db", "", "postgresé://x", "pé"] {
            assert!(parse_source(bad, false, base).is_err(), "{bad}");
        }
    }
}
