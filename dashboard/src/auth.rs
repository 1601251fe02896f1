//! Login by token: `POST /login` checks the token with the server's
//! [`Authenticate`](crate::Authenticate) and keeps it in the `fh_session`
//! cookie (`HttpOnly`, `SameSite=Strict`, `Path=/`); every page asks the
//! authenticator again, so a revoked token logs out at once.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use crate::html::url_encode;

/// The cookie that holds the token.
pub(crate) const COOKIE_NAME: &str = "fh_session";
/// How long the browser keeps the cookie.
const MAX_AGE_SECS: u64 = 12 * 3600;

/// The token from the request's `Cookie` headers, if any.
pub(crate) fn token_from(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, v)) = pair.trim().split_once('=')
                && name == COOKIE_NAME
                && !v.is_empty()
            {
                return percent_decode(v);
            }
        }
    }
    None
}

/// The `Set-Cookie` value that logs in with `token`.
pub(crate) fn login_cookie(token: &str) -> String {
    format!("{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={MAX_AGE_SECS}", url_encode(token))
}

/// The `Set-Cookie` value that logs out.
pub(crate) fn logout_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_round_trip() {
        let token = "fh_abc+/=;x";
        let set = login_cookie(token);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let value = set.split(';').next().unwrap_or_default().to_string();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {value}")).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(token_from(&headers).as_deref(), Some(token));
    }

    #[test]
    fn no_or_empty_cookie_is_no_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(token_from(&headers), None);
        headers.insert(COOKIE, HeaderValue::from_static("fh_session=; x=2"));
        assert_eq!(token_from(&headers), None);
        headers.insert(COOKIE, HeaderValue::from_static("fh_session=%zz"));
        assert_eq!(token_from(&headers), None);
    }
}
