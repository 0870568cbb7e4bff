//! Hand-written schema fragments for fields whose derived schema would not match the upstream CRD, and the
//! post-processing that makes the generated manifests match upstream's shape.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

/// The quantity string pattern of the upstream CRD (and of the API server's `resource.Quantity`).
const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

fn quantity_value() -> Value {
    // Upstream also lists `anyOf: [integer, string]`; kube's structural rewrite empties those branches, and
    // `x-kubernetes-int-or-string` alone means the same to the API server.
    serde_json::json!({
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": true,
    })
}

/// A single `resource.Quantity`, as upstream's CRD declares it.
pub fn quantity(_: &mut SchemaGenerator) -> Schema {
    Schema::try_from(quantity_value()).unwrap_or_default()
}

/// A `v1.ResourceList` (resource name → quantity), as upstream's CRD declares it.
pub fn resource_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": quantity_value(),
    })
}

/// An object whose content the API server must keep as is (`x-kubernetes-preserve-unknown-fields`).
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Removes every `nullable: true` the derive adds for `Option` fields: upstream's schema has none (an absent
/// field, not `null`, means "unset").
pub fn strip_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("nullable");
            map.values_mut().for_each(strip_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nullable),
        _ => {}
    }
}

/// Words YAML 1.1 parsers (go-yaml, which kubectl uses) read as booleans when unquoted but YAML 1.2 does
/// not (`true`/`false` are booleans in both, so the emitter already quotes them when they are strings).
const YAML11_BOOLEANS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Quotes plain scalars that a YAML 1.1 parser would read as booleans (`- Off` → `- "Off"`): the YAML
/// emitter follows YAML 1.2, where they are strings, but kubectl would turn the `Off` enum value into `false`.
pub fn quote_yaml11_booleans(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 16);
    for line in yaml.lines() {
        let trimmed = line.trim_end();
        let split = trimmed.rfind(": ").map(|i| i + 2).or_else(|| {
            trimmed
                .trim_start()
                .starts_with("- ")
                .then(|| trimmed.find("- ").map_or(0, |i| i + 2))
        });
        match split {
            Some(at) if YAML11_BOOLEANS.contains(&&trimmed[at..]) => {
                out.push_str(&trimmed[..at]);
                out.push('"');
                out.push_str(&trimmed[at..]);
                out.push('"');
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_yaml11_booleans_in_lists_and_maps() {
        let input = "enum:\n- Auto\n- Off\nkey: on\nother: Offset\n  - no\nflag: true\n";
        let want = "enum:\n- Auto\n- \"Off\"\nkey: \"on\"\nother: Offset\n  - \"no\"\nflag: true\n";
        assert_eq!(quote_yaml11_booleans(input), want);
    }

    #[test]
    fn strips_nested_nullable() {
        let mut v = serde_json::json!({"a": {"nullable": true, "b": [{"nullable": true, "c": 1}]}});
        strip_nullable(&mut v);
        assert_eq!(v, serde_json::json!({"a": {"b": [{"c": 1}]}}));
    }
}
