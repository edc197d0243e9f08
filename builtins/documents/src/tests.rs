use serde_json::json;

use super::*;

#[test]
fn every_node_has_its_line_under_its_json_pointer() {
    let text = "kind: Pod\nmetadata:\n  name: a\n  annotations: {a/b: x, t~: y}\nspec:\n  containers:\n    - name: c\n      securityContext:\n        privileged: yes\n";
    let records = records("m/pod.yaml", text);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r["file"].as_str(), r["document"].as_u64(), r["line"].as_u64()),
        (Some("m/pod.yaml"), Some(0), Some(1))
    );
    assert_eq!(r["value"]["spec"]["containers"][0]["securityContext"]["privileged"], json!(true));
    let line = |pointer: &str| r["lines"][pointer].as_u64();
    assert_eq!(line(""), Some(1));
    assert_eq!(line("/metadata"), Some(3), "a member's line is where its value starts");
    assert_eq!(line("/metadata/annotations/a~1b"), Some(4));
    assert_eq!(line("/metadata/annotations/t~0"), Some(4));
    assert_eq!(line("/spec/containers/0"), Some(7), "an item's line is its own");
    assert_eq!(line("/spec/containers/0/securityContext"), Some(9));
    assert_eq!(line("/spec/containers/0/securityContext/privileged"), Some(9));
    assert_eq!(line("/spec/volumes"), None);
}

#[test]
fn a_file_that_is_not_yaml_is_one_error_record_and_the_view_goes_on() {
    let dir = std::env::temp_dir().join(format!("sealbox-documents-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("m")).expect("dir");
    std::fs::write(dir.join("m/a.yaml"), "a: 1\n---\nb: 2\n").expect("write");
    std::fs::write(dir.join("m/bad.yml"), "a: 1\n---\nb: [1,\n").expect("write");
    std::fs::write(dir.join("m/bin.json"), [0xff, 0xfe, b'{']).expect("write");
    std::fs::write(dir.join("m/c.json"), "{\"kind\": \"Pod\"}").expect("write");
    let mut out = Vec::new();
    let summary =
        write_view(&dir, &["m/a.yaml", "m/bad.yml", "m/bin.json", "m/c.json", "m/gone.yaml"], &mut out).expect("view");
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(summary, Summary { files: 5, documents: 3, errors: 3 });
    let lines: Vec<Value> =
        std::str::from_utf8(&out).expect("utf-8").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let shape: Vec<(&str, Option<u64>, Option<u64>)> = lines
        .iter()
        .map(|r| (r["file"].as_str().unwrap_or(""), r["document"].as_u64(), r["error"]["line"].as_u64()))
        .collect();
    assert_eq!(
        shape,
        [
            ("m/a.yaml", Some(0), None),
            ("m/a.yaml", Some(1), None),
            ("m/bad.yml", None, Some(4)),
            ("m/bin.json", None, Some(1)),
            ("m/c.json", Some(0), None),
            ("m/gone.yaml", None, Some(1)),
        ]
    );
    assert_eq!(lines[2]["error"]["document"], 1, "the error names the document it is in");
    assert!(lines[3]["error"]["message"].as_str().unwrap_or("").contains("not UTF-8"), "{}", lines[3]);
    assert!(lines[5]["error"]["message"].as_str().unwrap_or("").contains("cannot read"), "{}", lines[5]);
}

#[test]
fn document_files_are_named_by_extension_in_any_case() {
    for yes in ["a.yaml", "b/c.YML", "d.Json"] {
        assert!(is_document_file(yes), "{yes}");
    }
    for no in ["a.tmpl", "yaml", "a.yaml.bak", "Kubefile"] {
        assert!(!is_document_file(no), "{no}");
    }
}

#[test]
fn a_json_file_may_hold_several_values_one_after_the_other_as_kubectl_reads_it() {
    let text = "{\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"a}{\"}\n}\n{\n  \"kind\": \"Service\"\n}\n";
    let two = records("m/two.json", text);
    let shape: Vec<_> = two
        .iter()
        .map(|r| (r["document"].as_u64(), r["line"].as_u64(), r["lines"]["/kind"].as_u64(), r["value"]["kind"].clone()))
        .collect();
    assert_eq!(shape, [(Some(0), Some(1), Some(2), json!("Pod")), (Some(1), Some(5), Some(6), json!("Service"))]);
    assert_eq!(two[0]["value"]["metadata"]["name"], "a}{", "braces in strings do not split values");
    let broken = records("m/bad.json", "{\"a\": 1}\n{\"b\": [1,\n");
    assert_eq!(broken.len(), 1);
    assert_eq!((broken[0]["error"]["document"].as_u64(), broken[0]["error"]["line"].as_u64()), (Some(1), Some(3)));
    let dup = records("m/dup.json", "{\"a\": 1,\n \"a\": 2}\n");
    assert_eq!(dup[0]["error"]["line"], 2, "duplicate keys are refused in JSON too");
}

/// `guest-sdk/schema/documents.schema.json` names exactly the fields the
/// view writes, for a document and for an error.
#[test]
fn the_schema_lists_the_fields_the_view_writes() {
    let schema: Value =
        serde_json::from_str(include_str!("../../../guest-sdk/schema/documents.schema.json")).expect("schema");
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        k.sort();
        k
    };
    let document = &records("a.yaml", "a: 1\n")[0];
    let error = &records("b.yaml", "a: [\n")[0];
    assert_eq!(keys(document), keys(&schema["oneOf"][0]["properties"]));
    assert_eq!(keys(error), keys(&schema["oneOf"][1]["properties"]));
    assert_eq!(keys(&error["error"]), keys(&schema["oneOf"][1]["properties"]["error"]["properties"]));
}
