//! Template values: Go's dynamic values, as far as templates see them.
//!
//! Scalars, lists, maps (ranged and printed in key order, as Go's), times
//! (`now`, `fileStat`'s `ModTime`) and [`Object`]s: the request, its URL
//! and headers, the response headers, whose fields and methods are looked
//! up by name. Printing follows Go's `fmt` `%v`: `[a b]`, `map[k:v]`,
//! `<nil>`, floats in their shortest form.

use super::Env;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A value with fields and methods (`.Req.Header.Get "X"`).
pub trait Object {
    /// Go's type name, for errors.
    fn type_name(&self) -> &'static str;

    /// The field or method `name`, called with `args`.
    fn get(&self, name: &str, args: Vec<Value>, env: &mut dyn Env) -> Result<Value, String>;

    /// `index obj key`, when the object is map-like.
    fn index(&self, _key: &Value) -> Option<Value> {
        None
    }

    /// How `%v` prints it.
    fn display(&self) -> String {
        format!("{{{}}}", self.type_name())
    }
}

/// A template value.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's nil, and a missing map key (`<no value>` when printed).
    #[default]
    Nil,
    Missing,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<Value>>),
    Map(Rc<BTreeMap<String, Value>>),
    Time(SystemTime),
    Obj(Rc<dyn Object>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }

    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(v))
    }

    pub fn map(m: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(m))
    }

    /// Go's truth: false, 0, nil, and empty strings, lists and maps are
    /// false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil | Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Time(_) | Value::Obj(_) => true,
        }
    }

    /// The kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil | Value::Missing => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Time(_) => "time.Time",
            Value::Obj(o) => o.type_name(),
        }
    }

    /// `%v`.
    pub fn display(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }

    /// Appends `%v` of the value.
    pub fn write_to(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("<nil>"),
            Value::Missing => out.push_str("<no value>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Float(f) => out.push_str(&go_float(*f)),
            Value::Str(s) => out.push_str(s),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_to(out);
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_to(out);
                }
                out.push(']');
            }
            Value::Time(t) => out.push_str(&super::funcs::time::format(
                *t,
                "2006-01-02 15:04:05.999999999 -0700 MST",
            )),
            Value::Obj(o) => out.push_str(&o.display()),
        }
    }

    /// A string argument (strings only; numbers are not converted, as Go
    /// would refuse them too).
    pub fn as_str(&self) -> Result<&str, String> {
        match self {
            Value::Str(s) => Ok(s),
            other => Err(format!("expected string; found {}", other.kind())),
        }
    }

    /// An integer argument (integral floats and numeric strings too, as
    /// sprig's conversions allow).
    pub fn as_int(&self) -> Result<i64, String> {
        match self {
            Value::Int(n) => Ok(*n),
            Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
            Value::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("expected integer; found {s:?}")),
            other => Err(format!("expected integer; found {}", other.kind())),
        }
    }

    /// The number as a float, for arithmetic and comparisons.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Converts parsed JSON/YAML/TOML data.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// For `toJson`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil | Value::Missing => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => J::from(*n),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::List(l) => J::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Time(t) => {
                J::String(super::funcs::time::format(*t, "2006-01-02T15:04:05Z07:00"))
            }
            Value::Obj(o) => J::String(o.display()),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` as `%v` prints floats.
pub fn go_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f.is_nan() {
        return "NaN".into();
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if !(-4..21).contains(&exp) {
        let s = format!("{f:e}");
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    format!("{f}")
}

/// A `SystemTime` from Unix seconds.
pub fn unix_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(3.0), "3");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.00001), "1e-05");
        let v = Value::list(vec![Value::Int(1), Value::str("a"), Value::Bool(true)]);
        assert_eq!(v.display(), "[1 a true]");
        let m = Value::map([("b".into(), Value::Int(2)), ("a".into(), Value::Nil)].into());
        assert_eq!(m.display(), "map[a:<nil> b:2]");
        assert!(!Value::str("").truthy() && Value::Int(-1).truthy());
    }
}
