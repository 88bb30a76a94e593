//! The browse page: a listing's template context, as Caddy's browse
//! `templateContext` (its listing fields and methods first, then the
//! templates handler's `.Req`, `.Host`, …), and bellhop's own page
//! (`page.html`), a Go template any Caddy browse template can replace.

use super::listing::{human_size, mode_string, Listing};
use crate::http::handlers::templates::{go_time_format, Env, Object, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// bellhop's browse page, run through the template engine like a user's.
pub const DEFAULT_TEMPLATE: &str = include_str!("page.html");

/// The dot of a browse template.
pub struct Root {
    pub listing: Rc<Listing>,
    /// Caddy's `TemplateContext`, for the fields the listing has not.
    pub base: Value,
}

impl Root {
    pub fn value(listing: Listing, base: Value) -> Value {
        Value::Obj(Rc::new(Root {
            listing: Rc::new(listing),
            base,
        }))
    }
}

fn int(n: impl TryInto<i64>) -> Value {
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

impl Object for Root {
    fn type_name(&self) -> &'static str {
        "*fileserver.templateContext"
    }

    fn get(&self, name: &str, args: Vec<Value>, env: &mut dyn Env) -> Result<Value, String> {
        let l = &self.listing;
        Ok(match name {
            "Name" => Value::str(l.name.as_str()),
            "Path" => Value::str(l.path.as_str()),
            "CanGoUp" => Value::Bool(l.can_go_up),
            "Items" => Value::list(
                (0..l.items.len())
                    .map(|i| {
                        Value::Obj(Rc::new(Item {
                            listing: l.clone(),
                            i,
                        }))
                    })
                    .collect(),
            ),
            "Offset" => int(l.offset),
            "Limit" => int(l.limit),
            "NumDirs" => int(l.num_dirs),
            "NumFiles" => int(l.num_files),
            "TotalFileSize" => int(l.total_size),
            "TotalFileSizeFollowingSymlinks" => int(l.total_size_following),
            "Sort" => Value::str(l.sort.as_str()),
            "Order" => Value::str(l.order.as_str()),
            "Layout" => Value::str(l.layout.as_str()),
            "HumanTotalFileSize" => Value::str(human_size(l.total_size)),
            "HumanTotalFileSizeFollowingSymlinks" => Value::str(human_size(l.total_size_following)),
            "Breadcrumbs" => Value::list(
                l.breadcrumbs()
                    .into_iter()
                    .map(|(link, text)| {
                        let mut m = BTreeMap::new();
                        m.insert("Link".to_string(), Value::str(link));
                        m.insert("Text".to_string(), Value::str(text));
                        Value::map(m)
                    })
                    .collect(),
            ),
            _ => match &self.base {
                Value::Obj(o) => return o.get(name, args, env),
                _ => return Err(format!("can't evaluate field {name}")),
            },
        })
    }
}

/// One entry of `.Items` (Caddy's `fileInfo`).
struct Item {
    listing: Rc<Listing>,
    i: usize,
}

impl Object for Item {
    fn type_name(&self) -> &'static str {
        "fileserver.fileInfo"
    }

    fn get(&self, name: &str, args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        let e = &self.listing.items[self.i];
        let no_args = |v: Value| match args.is_empty() {
            true => Ok(v),
            false => Err(format!("{name} is not a method but has arguments")),
        };
        match name {
            "Name" => no_args(Value::str(e.name.as_str())),
            "Size" => no_args(int(e.size)),
            "URL" => no_args(Value::str(e.url.as_str())),
            "ModTime" => no_args(Value::Time(e.mod_time)),
            "Mode" => no_args(Value::Obj(Rc::new(Mode(e.mode)))),
            "IsDir" => no_args(Value::Bool(e.is_dir)),
            "IsSymlink" => no_args(Value::Bool(e.is_symlink)),
            "SymlinkPath" => no_args(Value::str(e.symlink_path.as_str())),
            "Tpl" => no_args(Value::Obj(Rc::new(Root {
                listing: self.listing.clone(),
                base: Value::Nil,
            }))),
            "HumanSize" => no_args(Value::str(human_size(e.size))),
            "HumanModTime" => match args.as_slice() {
                [layout] => Ok(Value::str(go_time_format(e.mod_time, layout.as_str()?))),
                _ => Err(format!(
                    "wrong number of args for HumanModTime: want 1 got {}",
                    args.len()
                )),
            },
            "HasExt" => {
                let lower = e.name.to_lowercase();
                let mut any = false;
                for ext in &args {
                    any |= lower.ends_with(&ext.as_str()?.to_lowercase());
                }
                Ok(Value::Bool(any))
            }
            _ => Err(format!(
                "can't evaluate field {name} in type fileserver.fileInfo"
            )),
        }
    }

    fn display(&self) -> String {
        let e = &self.listing.items[self.i];
        format!("{{{} {} {}}}", e.name, e.size, e.url)
    }
}

/// Go's `os.FileMode`: prints as `-rw-r--r--`.
struct Mode(u32);

impl Object for Mode {
    fn type_name(&self) -> &'static str {
        "fs.FileMode"
    }

    fn get(&self, name: &str, _args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        Ok(match name {
            "String" => Value::str(mode_string(self.0)),
            "IsDir" => Value::Bool(self.0 & (1 << 31) != 0),
            "IsRegular" => Value::Bool(self.0 & 0x8f28_0000 == 0),
            "Perm" => Value::Obj(Rc::new(Mode(self.0 & 0o777))),
            _ => return Err(format!("can't evaluate field {name} in type fs.FileMode")),
        })
    }

    fn display(&self) -> String {
        mode_string(self.0)
    }
}
