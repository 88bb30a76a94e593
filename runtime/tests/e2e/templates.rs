//! templates: bodies from file_server (a temp dir) and static_response
//! executed as Go templates — request data, control structures, include,
//! import, markdown, front matter, response headers, delimiters, MIME
//! types — and failing templates answering 500 (or `httpError`'s status)
//! through the error routes.

use crate::support::*;
use serde_json::{json, Value};

fn templates(extra: Value) -> Value {
    let mut h = json!({"handler": "templates"});
    for (k, v) in extra.as_object().unwrap() {
        h[k] = v.clone();
    }
    h
}

/// A site: `vars root` → templates → file_server, over `dir`.
fn site(dir: &std::path::Path, tpl: Value) -> TestServer {
    start_routes(json!([{"handle": [
        {"handler": "vars", "root": dir.display().to_string()},
        tpl,
        {"handler": "file_server"}
    ]}]))
}

fn write(dir: &std::path::Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

#[tokio::test]
async fn file_server_pages_see_the_request() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "index.html",
        concat!(
            "{{- /* a comment */ -}}\n",
            "<p>{{.Req.Method}} {{.Req.URL.Path}} q={{.Req.URL.Query.Get \"q\"}}</p>\n",
            "<p>host={{.Host}} ua={{.Req.Header.Get \"User-Agent\"}} c={{.Cookie \"flavor\"}}</p>\n",
            "<p>ip={{.RemoteIP}} ph={{placeholder \"http.request.uri.path\"}} {{ph \"http.request.method\"}}</p>\n",
            "{{$n := 0}}{{range $i, $e := splitList \",\" \"a,b,c\"}}{{$n = $i}}[{{$e | upper}}]{{end}} n={{$n}}\n",
            "{{if eq .Req.Method \"GET\"}}get{{else}}other{{end}} {{with .Args}}args{{else}}no-args{{end}}\n",
            "{{define \"greet\"}}hello {{.}}{{end}}{{template \"greet\" \"you\"}} {{printf \"%03d\" 7}}",
            "{{.RespHeader.Set \"X-Tpl\" \"yes\"}}"
        ),
    );
    let s = site(dir.path(), templates(json!({})));
    let r = get_with(
        s.addr,
        "/?q=find+me",
        &[("User-Agent", "tester/1"), ("Cookie", "a=1; flavor=mint")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = "<p>GET / q=find me</p>\n<p>host=127.0.0.1 ua=tester/1 c=mint</p>\n\
         <p>ip=127.0.0.1 ph=/ GET</p>\n[A][B][C] n=2\nget no-args\nhello you 007";
    assert_eq!(r.body, expected);
    assert_eq!(r.header("x-tpl"), "yes");
    assert_eq!(r.header("content-length"), expected.len().to_string());
    assert_eq!(r.header("etag"), "");
    assert_eq!(r.header("last-modified"), "");
    assert_eq!(r.header("accept-ranges"), "");
}

#[tokio::test]
async fn include_import_markdown_and_front_matter() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "parts/nav.html",
        "<nav>{{index .Args 0}}|{{index .Args 1}}</nav>",
    );
    write(
        dir.path(),
        "parts/defs.html",
        "{{define \"footer\"}}<footer>{{.}}</footer>{{end}}",
    );
    write(
        dir.path(),
        "posts/hello.md",
        "---\ntitle: Hello World\ntags: [a, b]\n---\n# Heading\n\nSome *emphasis* and ~~gone~~.\n",
    );
    write(
        dir.path(),
        "page.html",
        concat!(
            "{{include \"/parts/nav.html\" \"home\" 2}}\n",
            "{{import \"parts/defs.html\"}}",
            "{{$doc := readFile \"posts/hello.md\" | splitFrontMatter}}",
            "<h1>{{$doc.Meta.title}}</h1> tags={{join \"+\" $doc.Meta.tags}}\n",
            "{{markdown $doc.Body}}",
            "{{range listFiles \"posts\"}}file={{.}} {{end}}{{fileExists \"posts/hello.md\"}} {{fileExists \"nope\"}}\n",
            "{{stripHTML \"<b>bold</b> text\"}} {{humanize \"size\" \"2048000\"}}\n",
            "{{template \"footer\" \"bye\"}}"
        ),
    );
    let s = site(dir.path(), templates(json!({})));
    let r = get(s.addr, "/page.html").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expected = "<nav>home|2</nav>\n<h1>Hello World</h1> tags=a+b\n\
        <h1 id=\"heading\">Heading</h1>\n<p>Some <em>emphasis</em> and <del>gone</del>.</p>\n\
        file=hello.md true false\nbold text 2.0 MB\n<footer>bye</footer>";
    assert_eq!(r.body, expected);
}

#[tokio::test]
async fn static_response_bodies_delimiters_and_mime_types() {
    let s = start(config_with(json!({"protocols": ["h1", "h2c"], "routes": [
        {"match": [{"path": ["/plain"]}], "handle": [
            templates(json!({})),
            respond("{{ .Req.URL.Path }} {{ \"x\" | repeat 2 }}")
        ]},
        {"match": [{"path": ["/delims"]}], "handle": [
            templates(json!({"delimiters": ["[[", "]]"]})),
            respond("[[ .Req.Method ]] {{ kept }}")
        ]},
        {"match": [{"path": ["/json"]}], "handle": [
            templates(json!({})),
            {"handler": "static_response", "body": "{{ .Req.Method }}",
             "headers": {"Content-Type": ["application/json"]}}
        ]},
        {"match": [{"path": ["/custom"]}], "handle": [
            templates(json!({"mime_types": ["application/json"]})),
            {"handler": "static_response", "body": "{\"m\": \"{{ .Req.Method }}\"}",
             "headers": {"Content-Type": ["application/json"]}}
        ]}
    ]})));
    assert_eq!(get(s.addr, "/plain").await.body, "/plain xx");
    assert_eq!(get(s.addr, "/delims").await.body, "GET {{ kept }}");
    assert_eq!(get(s.addr, "/json").await.body, "{{ .Req.Method }}");
    assert_eq!(get(s.addr, "/custom").await.body, "{\"m\": \"GET\"}");
    let h2 = send(Proto::H2c, "GET", s.addr, "/plain", &[], "").await;
    assert_eq!(h2.body, "/plain xx");
}

#[tokio::test]
async fn broken_templates_answer_500_through_error_routes() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "parse.html",
        "ok\n{{if .Req.Method}}never closed",
    );
    write(dir.path(), "exec.html", "line1\n{{ .Req.Nope }}");
    write(
        dir.path(),
        "missing.html",
        "{{ include \"does-not-exist.html\" }}",
    );
    write(
        dir.path(),
        "teapot.html",
        "{{ if true }}{{ httpError 418 }}{{ end }}",
    );
    let config = config_with(json!({
        "routes": [{"handle": [
            {"handler": "vars", "root": dir.path().display().to_string()},
            templates(json!({})),
            {"handler": "file_server"}
        ]}],
        "errors": {"routes": [{"handle": [{"handler": "static_response",
            "status_code": "{http.error.status_code}",
            "body": "error {http.error.status_code}: {http.error.message}"}]}]}
    }));
    let s = start(config);
    let r = get(s.addr, "/parse.html").await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.contains("template: /parse.html:2: unexpected EOF"),
        "{}",
        r.body
    );
    let r = get(s.addr, "/exec.html").await;
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .contains("/exec.html:2: can't evaluate field Nope in type *http.Request"),
        "{}",
        r.body
    );
    let r = get(s.addr, "/missing.html").await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("does-not-exist.html"), "{}", r.body);
    let r = get(s.addr, "/teapot.html").await;
    assert_eq!(r.status, 418, "{}", r.body);
}

#[tokio::test]
async fn bad_configs_are_refused_with_their_path() {
    let rt = bellhop_runtime::Runtime::new();
    let bad = config_with(json!({"routes": [{"handle": [
        templates(json!({"delimiters": ["<<"]}))
    ]}]}));
    let e = rt.load(bad.to_string().as_bytes()).unwrap_err().to_string();
    assert!(e.contains("handle[0].delimiters"), "{e}");
    let ext = config_with(json!({"routes": [{"handle": [
        templates(json!({"match": {"hello": {}}}))
    ]}]}));
    let e = rt.load(ext.to_string().as_bytes()).unwrap_err().to_string();
    assert!(e.contains("http.handlers.templates.functions.hello"), "{e}");
}

/// Templates run when the config collects metrics too (every handler is
/// then instrumented) and when the server traces its handlers
/// (`logs.trace`): the wrappers pass the asynchronous response hook on.
#[tokio::test]
async fn templates_render_under_metrics_and_trace() {
    for extra in [json!({"metrics": {}}), json!({"logs": {"trace": true}})] {
        let mut server = json!({"routes": [{"handle": [
            templates(json!({})),
            {"handler": "static_response", "body": "{{ add 1 2 }}"}
        ]}]});
        for (k, v) in extra.as_object().unwrap() {
            server[k] = v.clone();
        }
        let s = start(config_with(server));
        let r = get(s.addr, "/").await;
        assert_eq!((r.status, r.body.as_str()), (200, "3"), "with {extra}");
    }
}
