//! Go's parser tests, re-expressed. Source: golang/go
//! `src/text/template/parse/parse_test.go` (`parseTests` — whether each
//! input parses — and `errorTests` — the message an error must contain).
//! Go prints parsed trees back as text; we check the parse result instead
//! and, for trimming, the executed output.

use sealbox_render::engine::{MissingKey, Options, Templates, Value};

fn parse(input: &str) -> Result<(), String> {
    let mut set = Templates::go_only();
    set.add_fn("contains", |_| Ok(Value::Null));
    set.parse("test", input).map_err(|e| e.to_string())
}

/// (name, input, parses). Cases using complex constants are omitted.
#[rustfmt::skip]
const PARSE_TESTS: &[(&str, &str, bool)] = &[
    ("empty", "", true),
    ("comment", "{{/*\n\n\n*/}}", true),
    ("spaces", " \t\n", true),
    ("text", "some text", true),
    ("emptyAction", "{{}}", false),
    ("field", "{{.X}}", true),
    ("simple command", "{{printf}}", true),
    ("$ invocation", "{{$}}", true),
    ("variable invocation", "{{with $x := 3}}{{$x 23}}{{end}}", true),
    ("variable with fields", "{{$.I}}", true),
    ("multi-word command", "{{printf `%d` 23}}", true),
    ("pipeline", "{{.X|.Y}}", true),
    ("pipeline with decl", "{{$x := .X|.Y}}", true),
    ("nested pipeline", "{{.X (.Y .Z) (.A | .B .C) (.E)}}", true),
    ("field applied to parentheses", "{{(.Y .Z).Field}}", true),
    ("simple if", "{{if .X}}hello{{end}}", true),
    ("if with else", "{{if .X}}true{{else}}false{{end}}", true),
    ("if with else if", "{{if .X}}true{{else if .Y}}false{{end}}", true),
    ("if else chain", "+{{if .X}}X{{else if .Y}}Y{{else if .Z}}Z{{end}}+", true),
    ("simple range", "{{range .X}}hello{{end}}", true),
    ("chained field range", "{{range .X.Y.Z}}hello{{end}}", true),
    ("nested range", "{{range .X}}hello{{range .Y}}goodbye{{end}}{{end}}", true),
    ("range with else", "{{range .X}}true{{else}}false{{end}}", true),
    ("range over pipeline", "{{range .X|.M}}true{{else}}false{{end}}", true),
    ("range []int", "{{range .SI}}{{.}}{{end}}", true),
    ("range 1 var", "{{range $x := .SI}}{{.}}{{end}}", true),
    ("range 2 vars", "{{range $x, $y := .SI}}{{.}}{{end}}", true),
    ("range with break", "{{range .SI}}{{.}}{{break}}{{end}}", true),
    ("range with continue", "{{range .SI}}{{.}}{{continue}}{{end}}", true),
    ("template", "{{template `x`}}", true),
    ("template with arg", "{{template `x` .Y}}", true),
    ("with", "{{with .X}}hello{{end}}", true),
    ("with with else", "{{with .X}}hello{{else}}goodbye{{end}}", true),
    ("with with else with", "{{with .X}}hello{{else with .Y}}goodbye{{end}}", true),
    ("with else chain", "{{with .X}}X{{else with .Y}}Y{{else with .Z}}Z{{end}}", true),
    ("trim left", "x \r\n\t{{- 3}}", true),
    ("trim right", "{{3 -}}\n\n\ty", true),
    ("trim left and right", "x \r\n\t{{- 3 -}}\n\n\ty", true),
    ("trim with extra spaces", "x\n{{-  3   -}}\ny", true),
    ("comment trim left", "x \r\n\t{{- /* hi */}}", true),
    ("comment trim right", "{{/* hi */ -}}\n\n\ty", true),
    ("comment trim left and right", "x \r\n\t{{- /* */ -}}\n\n\ty", true),
    ("block definition", r#"{{block "foo" .}}hello{{end}}"#, true),
    ("newline in assignment", "{{ $x \n := \n 1 \n }}", true),
    ("newline in empty action", "{{\n}}", false),
    ("newline in pipeline", "{{\n\"x\"\n|\nprintf\n}}", true),
    ("newline in comment", "{{/*\nhello\n*/}}", true),
    ("newline in comment trimmed", "{{-\n/*\nhello\n*/\n-}}", true),
    ("spaces around continue", "{{range .SI}}{{.}}{{ continue }}{{end}}", true),
    ("spaces around break", "{{range .SI}}{{.}}{{ break }}{{end}}", true),
    ("unclosed action", "hello{{range", false),
    ("unmatched end", "{{end}}", false),
    ("unmatched else", "{{else}}", false),
    ("unmatched else after if", "{{if .X}}hello{{end}}{{else}}", false),
    ("multiple else", "{{if .X}}1{{else}}2{{else}}3{{end}}", false),
    ("missing end", "hello{{range .x}}", false),
    ("missing end after else", "hello{{range .x}}{{else}}", false),
    ("undefined function", "hello{{undefined}}", false),
    ("undefined variable", "{{$x}}", false),
    ("variable undefined after end", "{{with $x := 4}}{{end}}{{$x}}", false),
    ("variable undefined in template", "{{template $v}}", false),
    ("declare with field", "{{with $x.Y := 4}}{{end}}", false),
    ("template with field ref", "{{template .X}}", false),
    ("template with var", "{{template $v}}", false),
    ("invalid punctuation", "{{printf 3, 4}}", false),
    ("multidecl outside range", "{{with $v, $u := 3}}{{end}}", false),
    ("too many decls in range", "{{range $u, $v, $w := 3}}{{end}}", false),
    ("dot applied to parentheses", "{{printf (printf .).}}", false),
    ("adjacent args", "{{printf 3`x`}}", false),
    ("adjacent args with .", "{{printf `x`.}}", false),
    ("extra end after if", "{{if .X}}a{{else if .Y}}b{{end}}{{end}}", false),
    ("break outside range", "{{range .}}{{end}} {{break}}", false),
    ("continue outside range", "{{range .}}{{end}} {{continue}}", false),
    ("break in range else", "{{range .}}{{else}}{{break}}{{end}}", false),
    ("continue in range else", "{{range .}}{{else}}{{continue}}{{end}}", false),
    ("bug0a", "{{$x := 0}}{{$x}}", true),
    ("bug0b", "{{$x += 1}}{{$x}}", false),
    ("bug0c", "{{$x ! 2}}{{$x}}", false),
    ("bug0d", "{{$x % 3}}{{$x}}", false),
    ("bug0e", "{{range $x := $y := 3}}{{end}}", false),
    ("bug1a", "{{$x:=.}}{{$x!2}}", false),
    ("bug1b", "{{$x:=.}}{{$x+2}}", false),
    ("bug1c", "{{$x:=.}}{{$x +2}}", true),
    ("bug2a", "{{range $x := 0}}{{$x}}{{end}}", true),
    ("bug2b", "{{range $x = 0}}{{$x}}{{end}}", true),
    ("dot after integer", "{{1.E}}", false),
    ("dot after float", "{{0.1.E}}", false),
    ("dot after boolean", "{{true.E}}", false),
    ("dot after char", "{{'a'.any}}", false),
    ("dot after string", r#"{{"hello".guys}}"#, false),
    ("dot after dot", "{{..E}}", false),
    ("dot after nil", "{{nil.E}}", false),
    ("wrong pipeline dot", "{{12|.}}", false),
    ("wrong pipeline number", "{{.|12|printf}}", false),
    ("wrong pipeline string", "{{.|printf|\"error\"}}", false),
    ("wrong pipeline char", "{{12|printf|'e'}}", false),
    ("wrong pipeline boolean", "{{.|true}}", false),
    ("wrong pipeline nil", "{{'c'|nil}}", false),
    ("empty pipeline", r#"{{printf "%d" ( ) }}"#, false),
    ("block without pipeline", r#"{{block "foo"}}hello{{end}}"#, false),
    ("paren nesting normal", "{{ (( 1 )) }}", true),
    ("paren nesting in pipeline", "{{ ((( 1 ))) | printf }}", true),
    ("paren nesting with other constructs", "{{ if ((( true ))) }}YES{{ end }}", true),
    ("control structure nesting", "{{if .X}}{{with .Y}}{{range .Z}}x{{end}}{{end}}{{end}}", true),
];

/// (name, input, text the error must contain), from errorTests. Go gives
/// line numbers only; ours carry `line:column`.
#[rustfmt::skip]
const ERROR_TESTS: &[(&str, &str, &str)] = &[
    ("unclosed1", "line1\n{{", "test:2:1: unclosed action"),
    ("unclosed2", "line1\n{{define `x`}}line2\n{{", "test:3:1: unclosed action"),
    ("unclosed3", "line1\n{{\"x\"\n\"y\"\n", "test:2:1: unclosed action"),
    ("var1", "line1\n{{\nx\n}}", "test:3:1: function \"x\" not defined"),
    ("function", "{{foo}}", "function \"foo\" not defined"),
    ("comment1", "{{/*}}", "test:1:1: unclosed comment"),
    ("comment2", "{{/*\nhello\n}}", "test:1:1: unclosed comment"),
    ("lparen", "{{.X (1 2 3}}", "unclosed left paren"),
    ("rparen", "{{.X 1 2 3 ) }}", "unexpected right paren"),
    ("rparen2", "{{(.X 1 2 3", "unclosed action"),
    ("space", "{{`x`3}}", "in operand"),
    ("idchar", "{{a#}}", "'#'"),
    ("charconst", "{{'a}}", "unterminated character constant"),
    ("stringconst", r#"{{"a}}"#, "unterminated quoted string"),
    ("rawstringconst", "{{`a}}", "unterminated raw quoted string"),
    ("number", "{{0xi}}", "number syntax"),
    ("multidefine", "{{define `a`}}a{{end}}{{define `a`}}b{{end}}", "multiple definition of template"),
    ("eof", "{{range .X}}", "unexpected EOF"),
    ("variable", "{{$x := 23}}{{with $x.y := 3}}{{$x 23}}{{end}}", "unexpected \":=\""),
    ("multidecl", "{{$a,$b,$c := 23}}", "too many declarations"),
    ("undefvar", "{{$a}}", "undefined variable"),
    ("wrongdot", "{{true.any}}", "unexpected . after term"),
    ("wrongpipeline", "{{12|false}}", "non executable command in pipeline"),
    ("emptypipeline", "{{ ( ) }}", "missing value for parenthesized pipeline"),
    ("multilinerawstring", "{{ $v := `\n` }} {{", "test:2:6: unclosed action"),
    ("rangeundefvar", "{{range $k}}{{end}}", "undefined variable"),
    ("rangeundefvars", "{{range $k, $v}}{{end}}", "undefined variable"),
    ("rangemissingvalue1", "{{range $k,}}{{end}}", "missing value for range"),
    ("rangemissingvalue2", "{{range $k, $v := }}{{end}}", "missing value for range"),
    ("rangenotvariable1", "{{range $k, .}}{{end}}", "range can only initialize variables"),
    ("rangenotvariable2", "{{range $k, 123 := .}}{{end}}", "range can only initialize variables"),
    ("unterminated raw string line", "hello\n\n{{`unterminated\n\n\n\n}}\n some more\n\n", "test:3:3: unterminated raw quoted string"),
];

#[test]
fn parse_tests() {
    let mut failures = Vec::new();
    for &(name, input, ok) in PARSE_TESTS {
        let got = parse(input);
        if got.is_ok() != ok {
            failures.push(format!("{name}: {input:?} -> {got:?}, want ok={ok}"));
        }
    }
    eprintln!("parseTests: {}/{} pass", PARSE_TESTS.len() - failures.len(), PARSE_TESTS.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_tests() {
    let mut failures = Vec::new();
    for &(name, input, want) in ERROR_TESTS {
        match parse(input) {
            Err(e) if e.contains(want) => {}
            other => failures.push(format!("{name}: {input:?} -> {other:?}, want {want:?}")),
        }
    }
    eprintln!("errorTests: {}/{} pass", ERROR_TESTS.len() - failures.len(), ERROR_TESTS.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The trimming cases of parseTests, checked by output rather than tree text.
#[test]
fn trimming_output() {
    let cases = [
        ("x \r\n\t{{- 3}}", "x3"),
        ("{{3 -}}\n\n\ty", "3y"),
        ("x \r\n\t{{- 3 -}}\n\n\ty", "x3y"),
        ("x\n{{-  3   -}}\ny", "x3y"),
        ("x \r\n\t{{- /* hi */}}", "x"),
        ("{{/* hi */ -}}\n\n\ty", "y"),
        ("x \r\n\t{{- /* */ -}}\n\n\ty", "xy"),
        ("+{{if .X}}X{{else if .Y}}Y{{else if .Z}}Z{{end}}+", "+Z+"),
    ];
    let data = Value::from(&serde_json::json!({"X": false, "Y": 0, "Z": true}));
    for (input, want) in cases {
        let mut set = Templates::go_only();
        set.parse("t", input).unwrap();
        let opts = Options { missing_key: MissingKey::GoDefault, ..Options::default() };
        assert_eq!(set.execute("t", &data, &opts).unwrap(), want, "{input:?}");
    }
}

/// isEmptyTests: a source of only definitions does not replace a template.
#[test]
fn definitions_only_source_keeps_existing_template() {
    let mut set = Templates::go_only();
    set.parse("root", "main").unwrap();
    set.parse("root", "{{define `x`}}something{{end}}\n\n{{define `y`}}something{{end}}\n\n").unwrap();
    let opts = Options::default();
    assert_eq!(set.execute("root", &Value::Null, &opts).unwrap(), "main");
    set.parse("root", "{{define `x`}}something{{end}}\nx\n").unwrap();
    assert_eq!(set.execute("root", &Value::Null, &opts).unwrap(), "\nx\n");
}
