//! HTML building blocks as maud templates: the page frame (viewport, CSS
//! that stacks on a phone), the login form and error pages; and the URL
//! encoding of query values. No JavaScript. Every text and attribute value
//! goes through maud's `html!`, which escapes it; only the constant CSS and
//! markup rendered by maud itself are spliced raw.

use std::fmt::Write as _;

use maud::{DOCTYPE, Markup, PreEscaped, html};

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

/// A whole HTML document around `body` (markup rendered by maud).
pub(crate) fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE) "\n"
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href="data:,";
                title { (title) }
                // Trusted: a constant of this file, spliced raw so that CSS syntax (a `>`
                // selector, a `"` in a string) is never turned into entities.
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
        "\n"
    }
}

/// The login page, with an optional error line.
pub(crate) fn login_page(error: Option<&str>) -> Markup {
    let body = html! {
        main {
            form class="login" method="post" action="/login" {
                h1 { "Fieldhouse" }
                @if let Some(e) = error {
                    p class="error" role="alert" { (e) }
                }
                label for="token" { "Access token" }
                input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        }
    };
    document("Sign in · Fieldhouse", body)
}

/// A short page for an error status.
pub(crate) fn message_page(title: &str, message: &str) -> Markup {
    let body = html! {
        main {
            section class="card" {
                h1 { (title) }
                p { (message) }
                p { a href="/" { "Back to the dashboard" } }
            }
        }
    };
    document(title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>";

    #[test]
    fn text_from_outside_is_escaped_by_maud() {
        let page = message_page(HOSTILE, "\"quoted\" & <b>bold</b>").into_string();
        assert!(page.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"), "{page}");
        assert!(page.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"), "{page}");
        assert!(page.contains("<p>&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;</p>"), "{page}");
        assert!(!page.contains("<script>") && !page.contains("<b>"), "{page}");
        let login = login_page(Some(HOSTILE)).into_string();
        assert!(login.contains("<p class=\"error\" role=\"alert\">&lt;script&gt;"), "{login}");
        assert!(!login.contains("<script>"), "{login}");
    }

    #[test]
    fn the_frame_keeps_its_css_raw() {
        let page = login_page(None).into_string();
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(page.contains("name=\"viewport\"") && page.contains("name=\"token\""), "{page}");
        assert!(page.contains(&format!("<style>{CSS}</style>")), "the CSS as written: {page}");
        assert!(!page.contains("role=\"alert\""), "no error line without an error");
    }

    #[test]
    fn url_encodes_reserved_bytes() {
        assert_eq!(url_encode("North & South/ü"), "North%20%26%20South%2F%C3%BC");
    }
}
