//! `anycast6ctl reload --diff`: the keys a reload would add, remove and
//! change, from the running config's text and the file's text now.
//!
//! Tables are compared key by key. An array of tables (`[[group]]`,
//! `[[group.member]]`, `[[interface]]`, ...) is matched element by element
//! on its identifying key (`address`, `name`, ...) when every element has
//! one and no two share it, so removing the first group shows as that
//! group removed, not as every later group changed; otherwise by position.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

/// Keys that name an element of an array of tables, in the order tried.
const ID_KEYS: [&str; 6] = ["address", "name", "prefix", "group", "interface", "id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Add,
    Remove,
    Change,
}

impl Op {
    pub fn sign(self) -> char {
        match self {
            Op::Add => '+',
            Op::Remove => '-',
            Op::Change => '~',
        }
    }
}

/// One key (or a whole table) added, removed or changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub op: Op,
    /// `group[address="2001:db8::a"].member[address="fe80::2"].weight`
    pub path: String,
    /// The running value (TOML, inline); absent for an addition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The file's value; absent for a removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// The changes from `old` to `new` (both config file texts), in file
/// order of the keys' tables (alphabetical within a table).
pub fn diff(old: &str, new: &str) -> Result<Vec<KeyChange>, String> {
    let a: Table = old
        .parse()
        .map_err(|e| format!("the running config: {e}"))?;
    let b: Table = new.parse().map_err(|e| format!("the file: {e}"))?;
    let mut out = Vec::new();
    tables("", &a, &b, &mut out);
    Ok(out)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Table(t) => {
            if t.is_empty() {
                return "{}".into();
            }
            let parts: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn tables(prefix: &str, a: &Table, b: &Table, out: &mut Vec<KeyChange>) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let path = join(prefix, k);
        match (a.get(k), b.get(k)) {
            (Some(x), None) => out.push(KeyChange {
                op: Op::Remove,
                path,
                old: Some(inline(x)),
                new: None,
            }),
            (None, Some(y)) => out.push(KeyChange {
                op: Op::Add,
                path,
                old: None,
                new: Some(inline(y)),
            }),
            (Some(x), Some(y)) => values(&path, x, y, out),
            (None, None) => {}
        }
    }
}

fn values(path: &str, x: &Value, y: &Value, out: &mut Vec<KeyChange>) {
    match (x, y) {
        (Value::Table(a), Value::Table(b)) => tables(path, a, b, out),
        (Value::Array(a), Value::Array(b)) if is_tables(a) && is_tables(b) => {
            arrays(path, a, b, out)
        }
        _ if x == y => {}
        _ => out.push(KeyChange {
            op: Op::Change,
            path: path.to_string(),
            old: Some(inline(x)),
            new: Some(inline(y)),
        }),
    }
}

fn is_tables(a: &[Value]) -> bool {
    !a.is_empty() && a.iter().all(Value::is_table)
}

/// The key every element of both arrays has, with no value twice in
/// either array.
fn id_key(a: &[Value], b: &[Value]) -> Option<&'static str> {
    ID_KEYS.into_iter().find(|k| {
        [a, b].iter().all(|arr| {
            let ids: Option<Vec<String>> = arr
                .iter()
                .map(|v| {
                    v.get(k)
                        .filter(|i| !i.is_table() && !i.is_array())
                        .map(inline)
                })
                .collect();
            ids.is_some_and(|ids| ids.iter().collect::<BTreeSet<_>>().len() == ids.len())
        })
    })
}

fn arrays(path: &str, a: &[Value], b: &[Value], out: &mut Vec<KeyChange>) {
    let Some(k) = id_key(a, b) else {
        for i in 0..a.len().max(b.len()) {
            let p = format!("{path}[{i}]");
            match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => values(&p, x, y, out),
                (Some(x), None) => out.push(KeyChange {
                    op: Op::Remove,
                    path: p,
                    old: Some(inline(x)),
                    new: None,
                }),
                (None, Some(y)) => out.push(KeyChange {
                    op: Op::Add,
                    path: p,
                    old: None,
                    new: Some(inline(y)),
                }),
                (None, None) => {}
            }
        }
        return;
    };
    let id = |v: &Value| v.get(k).map(inline).unwrap_or_default();
    let named = |v: &Value| format!("{path}[{k}={}]", id(v));
    for x in a {
        match b.iter().find(|y| id(y) == id(x)) {
            Some(y) => values(&named(x), x, y, out),
            None => out.push(KeyChange {
                op: Op::Remove,
                path: named(x),
                old: Some(inline(x)),
                new: None,
            }),
        }
    }
    for y in b {
        if !a.iter().any(|x| id(x) == id(y)) {
            out.push(KeyChange {
                op: Op::Add,
                path: named(y),
                old: None,
                new: Some(inline(y)),
            });
        }
    }
}

/// One line per change: `~ arip.update_s: 30 -> 10`.
pub fn render(changes: &[KeyChange]) -> String {
    let mut s = String::new();
    for c in changes {
        let line = match c.op {
            Op::Add => format!("+ {} = {}", c.path, c.new.as_deref().unwrap_or("")),
            Op::Remove => format!("- {} = {}", c.path, c.old.as_deref().unwrap_or("")),
            Op::Change => format!(
                "~ {}: {} -> {}",
                c.path,
                c.old.as_deref().unwrap_or(""),
                c.new.as_deref().unwrap_or("")
            ),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"
[daemon]
router_address = "2001:db8::1"

[[interface]]
name = "eth0"

[[interface]]
name = "eth1"

[[group]]
address = "2001:db8:ac::1"
[[group.member]]
address = "2001:db8:1::10"
interface = "eth1"
[[group.member]]
address = "2001:db8:1::11"
interface = "eth1"

[[group]]
address = "2001:db8:ac::2"
[[group.member]]
address = "2001:db8:1::10"
interface = "eth1"

[arip]
update_s = 30
"#;

    #[test]
    fn the_same_text_has_no_changes() {
        assert_eq!(diff(OLD, OLD).unwrap(), vec![]);
        // Layout and comments are not changes.
        let reflowed = OLD.replace("[arip]\n", "# comment\n[arip]\n");
        assert_eq!(diff(OLD, &reflowed).unwrap(), vec![]);
    }

    #[test]
    fn groups_and_members_are_matched_by_address() {
        let new = OLD
            .replace(
                "[[group]]\naddress = \"2001:db8:ac::1\"\n[[group.member]]\naddress = \"2001:db8:1::10\"\ninterface = \"eth1\"\n",
                "[[group]]\naddress = \"2001:db8:ac::1\"\n",
            )
            .replace(
                "address = \"2001:db8:1::11\"\ninterface = \"eth1\"",
                "address = \"2001:db8:1::11\"\ninterface = \"eth1\"\nweight = 5",
            )
            .replace("update_s = 30", "update_s = 10")
            .replace("[[interface]]\nname = \"eth0\"\n", "")
            + "\n[aarp]\n";
        let got = render(&diff(OLD, &new).unwrap());
        assert_eq!(
            got,
            "+ aarp = {}\n\
             ~ arip.update_s: 30 -> 10\n\
             - group[address=\"2001:db8:ac::1\"].member[address=\"2001:db8:1::10\"] = { address = \"2001:db8:1::10\", interface = \"eth1\" }\n\
             + group[address=\"2001:db8:ac::1\"].member[address=\"2001:db8:1::11\"].weight = 5\n\
             - interface[name=\"eth0\"] = { name = \"eth0\" }\n"
        );
    }

    #[test]
    fn a_removed_first_group_is_one_removal() {
        let new = OLD.replacen(
            "address = \"2001:db8:ac::1\"",
            "address = \"2001:db8:ac::3\"",
            1,
        );
        let d = diff(OLD, &new).unwrap();
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!((d[0].op, d[1].op), (Op::Remove, Op::Add));
        assert!(d[0].path.contains("ac::1") && d[1].path.contains("ac::3"));
    }

    #[test]
    fn elements_without_a_unique_key_go_by_position() {
        let a = "[[x]]\nv = 1\n[[x]]\nv = 2\n";
        let b = "[[x]]\nv = 1\n[[x]]\nv = 3\n[[x]]\nv = 4\n";
        assert_eq!(
            render(&diff(a, b).unwrap()),
            "~ x[1].v: 2 -> 3\n+ x[2] = { v = 4 }\n"
        );
    }

    #[test]
    fn bad_text_is_an_error_naming_the_side() {
        assert!(diff("[x", "")
            .unwrap_err()
            .starts_with("the running config"));
        assert!(diff("", "[x").unwrap_err().starts_with("the file"));
    }
}
