//! Strict reading of the project's JSON inputs: a key given twice is an error (serde_json's
//! `Value` silently keeps the last copy), and every object's keys are checked against the keys
//! its format defines, so a misspelt `"boxx"` or an unknown `"activation"` is refused with the
//! place and the expected keys instead of being ignored.

use crate::error::{Error, Result};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parses `text` as JSON, refusing duplicate keys. `file` names the source in the error.
pub fn parse(text: &str, file: &str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v.0))
        .map_err(|e| Error::Json {
            file: file.to_string(),
            reason: e.to_string(),
        })?;
    Ok(value)
}

/// The object at `place`, or an error naming it.
pub fn object<'a>(v: &'a Value, file: &str, place: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::field(file, place, "expected a JSON object"))
}

/// Refuses any key of `obj` that is not in `allowed`, naming the closest allowed key.
pub fn check_keys(
    obj: &Map<String, Value>,
    allowed: &[&str],
    file: &str,
    place: &str,
) -> Result<()> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let field = if place.is_empty() {
                key.clone()
            } else {
                format!("{place}.{key}")
            };
            let hint = closest(key, allowed)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            return Err(Error::field(
                file,
                field,
                format!(
                    "unknown key{hint}; the keys here are: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The allowed key within edit distance 2 of `key`, if one is.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A `serde_json::Value` whose objects refuse a key given twice.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        // serde_json only hands finite numbers to visitors.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_duplicate_key_and_names_it() {
        let err = parse(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#, "f.json").unwrap_err();
        assert!(err.to_string().contains("duplicate key \"c\""), "{err}");
        assert!(err.to_string().starts_with("f.json"), "{err}");
    }

    #[test]
    fn keeps_numbers_exactly_as_serde_json_does() {
        let text = r#"{"x": [0.1, -3, 18446744073709551615, 1e-320, "1/3"]}"#;
        assert_eq!(
            parse(text, "f").unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    #[test]
    fn suggests_the_closest_key() {
        let v = parse(r#"{"boxx": []}"#, "s.json").unwrap();
        let err = check_keys(v.as_object().unwrap(), &["origin", "box"], "s.json", "").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("boxx") && text.contains("did you mean \"box\""),
            "{text}"
        );
    }

    #[test]
    fn refuses_trailing_text() {
        assert!(parse("{} {}", "f").is_err());
    }
}
