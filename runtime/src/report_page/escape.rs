//! Escaping text for the two places run data goes: HTML text and attributes, and JSON inside a
//! `<script>` element.

use std::fmt::Write as _;

/// `text` as HTML text or a double-quoted attribute value.
pub(crate) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON text made safe inside a `<script>` element: no `<`, `>` or `&` can end the element or
/// open a comment, and the line separators JavaScript once rejected are escaped too. Inside a
/// JSON string these escapes decode to the same characters; outside strings JSON has none of
/// these characters.
pub(crate) fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes() {
        assert_eq!(
            html(r#"<b>"x" & 'y'</b>"#),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        assert_eq!(html("plain text"), "plain text");
    }

    #[test]
    fn script_json_cannot_close_the_script_and_decodes_to_the_same_value() {
        let value = serde_json::json!({ "m": "</script><!-- & \u{2028}" });
        let escaped = script_json(&value.to_string());
        assert!(!escaped.contains('<') && !escaped.contains('>') && !escaped.contains('&'));
        assert!(!escaped.contains('\u{2028}'));
        let back: serde_json::Value =
            serde_json::from_str(&escaped).expect("the escaped text is still JSON");
        assert_eq!(back, value);
    }
}
