//! `[destination.auth]` with `type = "oauth2"`: the keys of the client credentials grant,
//! checked. The token endpoint is `https://`; plain `http://` only for a loopback host
//! (`localhost`, `127.0.0.0/8`, `[::1]`), since the client secret and the token would cross the
//! network in clear, and a local token endpoint is what tests and development use.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::checker::Ctx;
use super::codes::ConfigCode;
use super::config::AuthTable;
use super::keypath;
use super::model::{Auth, ClientAuth, OAuth2};
use super::secret::Text;

const BASE: &str = "destination.auth";

/// Form parameters of the token request that `audience` sets itself.
const RESERVED_PARAMS: [&str; 4] = ["grant_type", "scope", "client_id", "client_secret"];

/// The checked OAuth2 settings (the keys of other types were reported by the caller).
pub(super) fn oauth2(ctx: &mut Ctx<'_>, t: &AuthTable) -> Auth {
    let token_url = required(ctx, "token_url", t.token_url.as_ref(), false);
    let key = keypath::join(BASE, "token_url");
    if !token_url.is_empty()
        && ctx.known(&key)
        && let Err((message, hint)) = check_token_url(token_url.as_str())
    {
        ctx.error_hint(ConfigCode::TokenUrl, &key, message, hint);
    }
    let client_id = required(ctx, "client_id", t.client_id.as_ref(), false);
    let client_secret = required(ctx, "client_secret", t.client_secret.as_ref(), true);
    let scope = t.scope.as_ref().map(|s| ctx.text(&keypath::join(BASE, "scope"), s, false));
    let client_auth = match t.client_auth.as_deref() {
        None | Some("basic") => ClientAuth::Basic,
        Some("post") => ClientAuth::Post,
        Some(other) => {
            ctx.error_hint(
                ConfigCode::UnknownName,
                &keypath::join(BASE, "client_auth"),
                format!("unknown client_auth `{other}`"),
                "expected basic (client_secret_basic) or post (client_secret_post)",
            );
            ClientAuth::Basic
        }
    };
    let mut params = Vec::new();
    for (name, value) in t.params.iter().flat_map(|p| p.iter()) {
        let key = keypath::join(&keypath::join(BASE, "params"), name);
        let value = ctx.text(&key, value, false);
        if RESERVED_PARAMS.contains(&name) {
            ctx.error_hint(
                ConfigCode::Conflict,
                &key,
                format!("the token request's `{name}` is set by audience"),
                "use client_id, client_secret and scope",
            );
        } else if name.is_empty() {
            ctx.error(ConfigCode::Empty, &key, "a form parameter needs a name");
        }
        params.push((name.to_owned(), value));
    }
    Auth::OAuth2(OAuth2 { token_url, client_id, client_secret, scope, client_auth, params })
}

/// `params` given with another auth type: reported, its values masked all the same.
pub(super) fn params_not_used(ctx: &mut Ctx<'_>, t: &AuthTable, kind: &str) {
    let Some(params) = &t.params else { return };
    for (name, value) in params.iter() {
        ctx.text(&keypath::join(&keypath::join(BASE, "params"), name), value, true);
    }
    ctx.error_hint(
        ConfigCode::AuthKeyNotUsed,
        &keypath::join(BASE, "params"),
        format!("`params` is not used by auth type {kind}"),
        "`params` belongs to type = \"oauth2\"",
    );
}

fn required(ctx: &mut Ctx<'_>, name: &str, value: Option<&String>, secret: bool) -> Text {
    let key = keypath::join(BASE, name);
    match value {
        None => {
            ctx.error(ConfigCode::AuthIncomplete, &key, format!("auth type oauth2 needs `{name}`"));
            Text::default()
        }
        Some(v) => {
            if v.is_empty() && ctx.known(&key) {
                ctx.error(ConfigCode::AuthIncomplete, &key, format!("`{name}` is empty"));
            }
            ctx.text(&key, v, secret)
        }
    }
}

/// Why a token URL is refused, and a hint. The messages never quote the URL.
pub fn check_token_url(url: &str) -> Result<(), (&'static str, &'static str)> {
    let https = "for example https://auth.example.com/oauth/token";
    let (scheme, rest) = url.split_once("://").ok_or(("the token URL must start with https://", https))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(("the token URL must start with https://", https));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii()) {
        return Err(("the token URL holds a character a URL cannot carry as it is", "percent-encode it"));
    }
    if url.contains('#') {
        return Err(("the token URL must not have a fragment (`#...`)", https));
    }
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err((
            "the token URL must not hold a user name or password",
            "give the client's credentials as client_id and client_secret",
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(inside, _)| inside),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err(("the token URL has no host", https));
    }
    if scheme == "http" && !is_loopback(host) {
        return Err((
            "plain http is allowed only for a loopback token endpoint: the client secret would cross the network in clear",
            "use https://",
        ));
    }
    Ok(())
}

/// `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_urls() {
        for ok in [
            "https://auth.example.com/oauth/token",
            "HTTPS://auth.example.com:8443/t?tenant=1",
            "http://127.0.0.1:9000/token",
            "http://localhost/token",
            "http://[::1]:80/token",
        ] {
            assert_eq!(check_token_url(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("auth.example.com/token", "must start"),
            ("ftp://auth.example.com/token", "must start"),
            ("http://auth.example.com/token", "loopback"),
            ("http://10.0.0.1/token", "loopback"),
            ("http://127.0.0.1.nip.io/token", "loopback"),
            ("https://id:s3cret@auth.example.com/token", "user name"),
            ("https:///token", "no host"),
            ("https://auth.example.com/token#x", "fragment"),
            ("https://auth.example.com/to ken", "character"),
        ] {
            let (message, _) = check_token_url(bad).unwrap_err();
            assert!(message.contains(why), "{bad}: {message}");
            assert!(!message.contains("s3cret"));
        }
    }
}
