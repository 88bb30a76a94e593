//! Unit tests of the template engine, with a small [`Env`] over a temp
//! directory: each construct of the language, the builtins, errors with
//! their template name and line.

use super::value::{Object, Value};
use super::{exec, files, parse, Env, Fail};
use http::HeaderMap;
use std::collections::BTreeMap;
use std::rc::Rc;

struct TestEnv {
    root: String,
    headers: HeaderMap,
}

/// A dot with `.Name`, `.Items`, `.Map`, `.Args`.
struct Data(Value);

impl Object for Data {
    fn type_name(&self) -> &'static str {
        "test.Data"
    }

    fn get(&self, name: &str, _args: Vec<Value>, _env: &mut dyn Env) -> Result<Value, String> {
        Ok(match name {
            "Name" => Value::str("Ada"),
            "Items" => Value::list(vec![Value::str("a"), Value::str("b"), Value::str("c")]),
            "Map" => Value::map(BTreeMap::from([
                ("z".to_string(), Value::Int(26)),
                ("a".to_string(), Value::Int(1)),
            ])),
            "Empty" => Value::list(Vec::new()),
            "Args" => self.0.clone(),
            _ => return Err(format!("can't evaluate field {name} in type test.Data")),
        })
    }
}

impl Env for TestEnv {
    fn call(&mut self, name: &str, args: Vec<Value>) -> Option<Result<Value, Fail>> {
        if name == "httpError" {
            return Some(Err(Fail::Http(args[0].as_int().unwrap() as u16)));
        }
        files::call(&self.root, name, &args).map(|r| r.map_err(Fail::Msg))
    }

    fn read_file(&self, name: &str) -> Result<String, String> {
        files::read(&self.root, name)
    }

    fn delims(&self) -> (&str, &str) {
        ("{{", "}}")
    }

    fn root(&self, args: Vec<Value>) -> Value {
        Value::Obj(Rc::new(Data(Value::list(args))))
    }

    fn headers(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }
}

fn env() -> (TestEnv, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let env = TestEnv {
        root: dir.path().display().to_string(),
        headers: HeaderMap::new(),
    };
    (env, dir)
}

fn run(src: &str) -> Result<String, Fail> {
    let (mut e, _dir) = env();
    run_in(&mut e, src)
}

fn run_in(e: &mut TestEnv, src: &str) -> Result<String, Fail> {
    let t = parse::parse("t.html", src, ("{{", "}}")).map_err(Fail::Msg)?;
    let data = e.root(Vec::new());
    exec::execute(&t, data, e)
}

fn ok(src: &str) -> String {
    match run(src) {
        Ok(s) => s,
        Err(e) => panic!("{src}: {e:?}"),
    }
}

fn err(src: &str) -> String {
    match run(src) {
        Err(Fail::Msg(m)) => m,
        other => panic!("{src}: expected an error, got {other:?}"),
    }
}

#[test]
fn text_fields_variables_and_trim() {
    assert_eq!(ok("Hi {{.Name}}!"), "Hi Ada!");
    assert_eq!(ok("a  {{- /* note */ -}}  b"), "ab");
    assert_eq!(ok("{{$x := .Name}}{{$x}} {{$x = \"Bo\"}}{{$x}}"), "Ada Bo");
    assert_eq!(
        ok("{{.Map.z}} {{.Map.missing}} {{$.Name}}"),
        "26 <no value> Ada"
    );
    assert_eq!(
        ok("{{`raw\\n`}} {{\"esc\\t\"}} {{3}} {{1.5}} {{true}} {{0x10}}"),
        "raw\\n esc\t 3 1.5 true 16"
    );
    assert_eq!(ok("{{.Name | printf \"%s!\" | len}}"), "4");
    assert_eq!(ok("{{(index .Items 1)}}{{(print 1 2)}}"), "b1 2");
}

#[test]
fn control_structures() {
    let t = "{{if eq .Name \"Bo\"}}bo{{else if eq .Name \"Ada\"}}ada{{else}}other{{end}}";
    assert_eq!(ok(t), "ada");
    assert_eq!(ok("{{if .Empty}}x{{else}}empty{{end}}"), "empty");
    assert_eq!(
        ok("{{with .Name}}<{{.}}>{{end}}{{with .Empty}}no{{else}}none{{end}}"),
        "<Ada>none"
    );
    assert_eq!(
        ok("{{range $i, $e := .Items}}{{$i}}={{$e}};{{end}}"),
        "0=a;1=b;2=c;"
    );
    assert_eq!(
        ok("{{range $k, $v := .Map}}{{$k}}:{{$v}} {{end}}"),
        "a:1 z:26 "
    );
    assert_eq!(ok("{{range .Empty}}x{{else}}nothing{{end}}"), "nothing");
    assert_eq!(
        ok("{{range .Items}}{{if eq . \"b\"}}{{continue}}{{end}}{{if eq . \"c\"}}{{break}}{{end}}{{.}}{{end}}"),
        "a"
    );
    assert_eq!(ok("{{range 3}}{{.}}{{end}}"), "012");
    // A variable declared in a block is gone after its end.
    assert!(err("{{if true}}{{$y := 1}}{{end}}{{$y}}").contains("undefined variable: $y"));
}

#[test]
fn define_template_block() {
    let t = r#"{{define "item"}}[{{.}}]{{end}}{{range .Items}}{{template "item" .}}{{end}}{{block "b" .Name}}<{{.}}>{{end}}"#;
    assert_eq!(ok(t), "[a][b][c]<Ada>");
    assert!(err(r#"{{template "nope"}}"#).contains("no such template \"nope\""));
    assert!(
        err(r#"{{define "r"}}{{template "r"}}{{end}}{{template "r"}}"#)
            .contains("maximum template depth")
    );
}

#[test]
fn builtins() {
    assert_eq!(
        ok("{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not 0}}"),
        "0 x true"
    );
    assert_eq!(
        ok("{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2}} {{ne 1 2}} {{eq 2 1 2}}"),
        "true true true false true true"
    );
    assert_eq!(
        ok("{{len .Items}} {{index .Map \"a\"}} {{slice \"hello\" 1 3}} {{slice .Items 2}}"),
        "3 1 el [c]"
    );
    assert_eq!(
        ok("{{print \"a\" 1 2 \"b\"}}|{{println 1 \"x\"}}"),
        "a1 2b|1 x\n"
    );
    assert_eq!(
        ok("{{html \"<a href='x'>\"}} {{js \"it's\"}} {{urlquery \"a b&c\"}}"),
        "&lt;a href=&#39;x&#39;&gt; it\\'s a+b%26c"
    );
    assert_eq!(ok("{{upper .Name}} {{\"x\" | repeat 3}} {{default \"d\" .Map.none}} {{.Items | join \",\"}}"), "ADA xxx d a,b,c");
    assert_eq!(ok("{{hasPrefix \"A\" .Name}} {{contains \"d\" .Name}} {{trimSuffix \"a\" .Name}} {{toJson .Map}}"), "true true Ad {\"a\":1,\"z\":26}");
    assert_eq!(
        ok("{{(now).Year | printf \"%d\" | len}} {{date \"2006-01-02\" 0}}"),
        "4 1970-01-01"
    );
    assert!(err("{{eq 1 \"a\"}}").contains("incompatible types for comparison"));
    assert!(err("{{nosuch 1}}").contains("function \"nosuch\" not defined"));
}

#[test]
fn errors_name_template_and_line() {
    let e = err("line1\n{{.Name.Foo}}");
    assert!(e.starts_with("template: t.html:2:"), "{e}");
    assert!(e.contains("can't evaluate field Foo in type string"), "{e}");
    let e = err("{{if true}}x");
    assert!(e.contains("t.html:1: unexpected EOF"), "{e}");
    assert!(err("a\n\n{{end}}").contains("t.html:3: unexpected {{end}}"));
    assert!(err("{{ .X ").contains("unclosed action"));
    assert!(matches!(run("{{httpError 404}}"), Err(Fail::Http(404))));
}

#[test]
fn include_import_and_files() {
    let (mut e, dir) = env();
    std::fs::write(
        dir.path().join("part.html"),
        "<p>{{index .Args 0}}-{{index .Args 1}}</p>",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("defs.html"),
        r#"{{define "hello"}}hello {{.}}{{end}}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("posts")).unwrap();
    std::fs::write(dir.path().join("posts/b.md"), "B").unwrap();
    std::fs::write(dir.path().join("posts/a.md"), "A").unwrap();
    let out = run_in(
        &mut e,
        r#"{{include "part.html" "x" 2}}|{{import "defs.html"}}{{template "hello" "you"}}"#,
    )
    .unwrap();
    assert_eq!(out, "<p>x-2</p>|hello you");
    let out = run_in(&mut e, r#"{{range listFiles "/posts"}}{{.}}={{readFile (print "posts/" .)}} {{end}}{{fileExists "nope"}} {{fileExists "../../etc/passwd"}}"#).unwrap();
    assert_eq!(out, "a.md=A b.md=B false false");
    let out = run_in(&mut e, r#"{{(fileStat "posts/a.md").Size}}"#).unwrap();
    assert_eq!(out, "1");
    match run_in(&mut e, r#"{{include "missing.html"}}"#) {
        Err(Fail::Msg(m)) => assert!(m.contains("missing.html"), "{m}"),
        other => panic!("{other:?}"),
    }
}
