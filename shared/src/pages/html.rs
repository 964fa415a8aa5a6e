//! HTML building blocks: escaping, the page layout, and the security headers every page carries.

use http::header::{self, HeaderValue};
use http::StatusCode;

use super::text::{scope_description, Text};
use crate::flows::view::iso_ms;
use crate::http::{no_store, Response};
use crate::store::Requester;

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
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

/// A whole page: `body` is already-escaped HTML.
pub fn page(text: &Text, environment_id: &str, status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/{env}/signon/style.css\"></head>\
         <body><main><div class=\"card\"><h1>{title}</h1>{body}</div></main></body></html>\n",
        lang = text.lang,
        title = esc(title),
        env = esc(environment_id),
    );
    let mut response = http::Response::new(html.into_bytes());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
    }
    secure(no_store(response))
}

/// Headers for every page: no framing, nothing but our own assets, no referrer (codes are in
/// URLs), no sniffing.
pub fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

pub fn alert(message: Option<&str>) -> String {
    message.map(|m| format!("<p class=\"alert\" role=\"alert\" id=\"error\">{}</p>", esc(m))).unwrap_or_default()
}

pub fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(name), esc(value))
}

/// The user-code field: a one-time code, upper case on phones, pasted codes welcome.
pub fn code_input(text: &Text, value: &str, has_error: bool) -> String {
    let described = if has_error { "code-hint error" } else { "code-hint" };
    format!(
        "<label for=\"user_code\">{label}</label>\
         <input type=\"text\" id=\"user_code\" name=\"user_code\" value=\"{value}\" autocomplete=\"one-time-code\" \
         autocapitalize=\"characters\" autocorrect=\"off\" spellcheck=\"false\" inputmode=\"text\" maxlength=\"24\" \
         required autofocus aria-describedby=\"{described}\">\
         <p class=\"muted\" id=\"code-hint\">{hint}</p>",
        label = esc(text.code_label),
        value = esc(value),
        hint = esc(text.code_hint),
    )
}

/// What is being connected, when and from where (RFC 8628 §5.4: let the person spot a request
/// they did not start). Network and software are shown coarsely.
pub fn request_facts(text: &Text, app_name: &str, requested_ms: i64, now_ms: i64, requester: &Requester) -> String {
    let minutes = (now_ms - requested_ms).max(0) / 60_000;
    let when = if minutes == 0 { text.just_now.to_owned() } else { format!("{minutes} {}", text.minutes_ago) };
    let mut facts = format!(
        "<div class=\"facts\" id=\"request\"><strong>{app}</strong>{asked} {when} <span class=\"muted\">({at})</span>",
        app = esc(app_name),
        asked = esc(text.device_asked),
        at = esc(&iso_ms(requested_ms)),
    );
    if let Some(network) = requester.ip.as_deref().and_then(coarse_network) {
        facts.push_str(&format!(" {} {}", esc(text.from_network), esc(&network)));
    }
    if let Some(agent) = requester.user_agent.as_deref().map(coarse_agent).filter(|a| !a.is_empty()) {
        facts.push_str(&format!(" {} {}", esc(text.using), esc(&agent)));
    }
    facts.push_str("</div>");
    facts
}

pub fn scope_list(text: &Text, scopes: &[String]) -> String {
    let descriptions: Vec<String> = scopes.iter().map(|s| scope_description(s)).collect();
    list(text.wants_access, "scopes", &descriptions)
}

/// `intro` and a bulleted list of `items` (class `class`); nothing when there are no items.
pub fn list<S: AsRef<str>>(intro: &str, class: &str, items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let items: String = items.iter().map(|s| format!("<li>{}</li>", esc(s.as_ref()))).collect();
    format!("<p>{}</p><ul class=\"{}\">{items}</ul>", esc(intro), esc(class))
}

/// `192.0.2.x` for IPv4, the /48 for IPv6.
fn coarse_network(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.x", o[0], o[1], o[2]))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

/// The first product token of a user agent, without its version details.
fn coarse_agent(agent: &str) -> String {
    agent.split_whitespace().next().unwrap_or_default().split('/').next().unwrap_or_default().chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn requesters_are_shown_coarsely() {
        assert_eq!(coarse_network("192.0.2.77").as_deref(), Some("192.0.2.x"));
        assert_eq!(coarse_network("2001:db8:aa:bb::1").as_deref(), Some("2001:db8:aa::/48"));
        assert_eq!(coarse_agent("curl/8.1 extra"), "curl");
        assert_eq!(coarse_agent("Mozilla/5.0 (X11)"), "Mozilla");
    }
}
