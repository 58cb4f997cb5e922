//! JSON text as cube-studio stores it in TEXT columns: `json.dumps(..., indent=4, ensure_ascii=False)`.

use serde::Serialize;
use serde_json::Value;

/// Pretty JSON with four-space indentation and raw UTF-8, like the original's columns.
pub fn pretty4<T: Serialize + ?Sized>(v: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return "{}".into();
    }
    String::from_utf8(buf).unwrap_or_else(|_| "{}".into())
}

/// JSON as Python's `json.dumps(v)` writes it with its defaults: `", "` and `": "`
/// between items, non-ASCII characters escaped as `\uXXXX` (`ensure_ascii=True`).
pub fn python_dumps<T: Serialize + ?Sized>(v: &T) -> String {
    python_json(v, true)
}

/// Python's `json.dumps(v, ensure_ascii=False)`: the same separators, raw UTF-8.
pub fn python_dumps_utf8<T: Serialize + ?Sized>(v: &T) -> String {
    python_json(v, false)
}

fn python_json<T: Serialize + ?Sized>(v: &T, ensure_ascii: bool) -> String {
    /// serde_json's compact output with Python's separators and, optionally, its
    /// `\uXXXX` escapes of non-ASCII characters.
    struct Python {
        ensure_ascii: bool,
    }
    impl serde_json::ser::Formatter for Python {
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            w.write_all(b": ")
        }
        fn write_string_fragment<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            if !self.ensure_ascii {
                return w.write_all(fragment.as_bytes());
            }
            for c in fragment.chars() {
                if c.is_ascii() {
                    w.write_all(&[c as u8])?;
                } else {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        write!(w, "\\u{u:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, Python { ensure_ascii });
    if v.serialize(&mut ser).is_err() {
        return "{}".into();
    }
    String::from_utf8(buf).unwrap_or_else(|_| "{}".into())
}

/// Parses a JSON object stored as text; anything else (empty, invalid, not an object) is `{}`.
pub fn object_or_empty(text: Option<&str>) -> serde_json::Map<String, Value> {
    match text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_defaults() {
        assert_eq!(
            python_dumps(&serde_json::json!({"help_url": "https://x/y", "a": [1, "中😀"]})),
            "{\"help_url\": \"https://x/y\", \"a\": [1, \"\\u4e2d\\ud83d\\ude00\"]}"
        );
        assert_eq!(
            python_dumps_utf8(&serde_json::json!({"a": ["中", null, 1.5, {"b": "\""}]})),
            "{\"a\": [\"中\", null, 1.5, {\"b\": \"\\\"\"}]}"
        );
    }

    #[test]
    fn four_spaces_and_utf8() {
        assert_eq!(
            pretty4(&serde_json::json!({"index": 98})),
            "{\n    \"index\": 98\n}"
        );
        assert_eq!(
            pretty4(&serde_json::json!({"a": "中"})),
            "{\n    \"a\": \"中\"\n}"
        );
        assert!(object_or_empty(Some("[1]")).is_empty());
        assert_eq!(object_or_empty(Some("{\"a\":1}")).len(), 1);
    }
}
