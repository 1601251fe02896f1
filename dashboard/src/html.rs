//! HTML building blocks: escaping, the page frame (viewport, CSS that
//! stacks on a phone), the login form and error pages. No JavaScript.

use std::fmt::Write as _;

/// `text` with `& < > " '` escaped, safe in element content and in quoted
/// attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode `text` for a URL query value.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const CSS: &str = "
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;background:#f3f5f8}
header{background:#1f3b57;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.2rem;align-items:center}
header h1{font-size:1.1rem;margin:0}
header nav{display:flex;flex-wrap:wrap;gap:.3rem .9rem}
header a{color:#d7e6f5;text-decoration:none}
header a.current{color:#fff;font-weight:600;border-bottom:2px solid #fff}
header .who{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.9rem}
header form{margin:0}
button,input,select{font:inherit}
button{cursor:pointer;border:1px solid #8aa;border-radius:4px;padding:.25rem .7rem;background:#fff}
main{padding:1rem;max-width:1400px;margin:0 auto}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end;background:#fff;padding:.8rem;border-radius:6px;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.85rem;color:#4a5566}
form.filters input,form.filters select{padding:.3rem;border:1px solid #b8c2cc;border-radius:4px;min-width:9rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:1rem}
section.card{background:#fff;border-radius:6px;padding:.8rem 1rem;overflow-x:auto}
section.card h2{font-size:1.05rem;margin:.1rem 0 .4rem}
.headline{font-size:1.9rem;font-weight:650;margin:.2rem 0}
.headline small{font-size:.9rem;font-weight:400;color:#4a5566}
.note{font-size:.8rem;color:#5b6675}
.chart svg{width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #e3e7ec;white-space:nowrap}
td.num,th.num{text-align:right}
.error{background:#fde8e8;color:#7a1616;padding:.6rem .8rem;border-radius:4px}
.login{max-width:22rem;margin:4rem auto;background:#fff;padding:1.4rem;border-radius:6px}
.login input{width:100%;padding:.45rem;margin:.4rem 0 .8rem;border:1px solid #b8c2cc;border-radius:4px}
@media (max-width:640px){main{padding:.5rem}.headline{font-size:1.5rem}header .who{margin-left:0}}
";

/// A whole HTML document.
pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>{}</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

/// The login page, with an optional error line.
pub(crate) fn login_page(error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))).unwrap_or_default();
    let body = format!(
        "<main><form class=\"login\" method=\"post\" action=\"/login\">\
         <h1>Fieldhouse</h1>{error}\
         <label for=\"token\">Access token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <button type=\"submit\">Sign in</button></form></main>"
    );
    document("Sign in · Fieldhouse", &body)
}

/// A short page for an error status.
pub(crate) fn message_page(title: &str, message: &str) -> String {
    let body = format!(
        "<main><section class=\"card\"><h1>{}</h1><p>{}</p><p><a href=\"/\">Back to the dashboard</a></p></section></main>",
        esc(title),
        esc(message)
    );
    document(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn url_encodes_reserved_bytes() {
        assert_eq!(url_encode("North & South/ü"), "North%20%26%20South%2F%C3%BC");
    }
}
