package sealbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestFieldsAreFoundAtTheirLines(t *testing.T) {
	text := "{\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"a\"},\n  \"spec\": {\n    \"containers\": [\n      {\"name\": \"c\"}\n    ]\n  }\n}\n{\"kind\": \"ConfigMap\"}\n"
	docs, err := ParseJSON("pods.json", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].ID() != "Pod/a" || docs[1].Line != 10 || docs[1].Index != 1 {
		t.Fatalf("documents: %+v", docs)
	}
	for path, want := range map[string]uint32{"kind": 2, "metadata/name": 3, "spec/containers": 5, "spec/containers/0": 6, "spec/containers/0/name": 6} {
		got, ok := docs[0].LineOf(splitPath(path)...)
		if !ok || got != want {
			t.Errorf("%s: line %d (found %v), want %d", path, got, ok, want)
		}
	}
	if _, ok := docs[0].LineOf("spec", "volumes"); ok {
		t.Error("a missing field has no line")
	}
	if _, err := ParseJSON("bad.json", []byte("{\n\"a\": [1,\n")); err == nil {
		t.Error("truncated JSON must be an error")
	}
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

// privilegedCheck is a policy as an author writes one: a container whose
// securityContext.privileged is true is a finding at that field's line.
func privilegedCheck(doc *Document, _ json.RawMessage) []Finding {
	var out []Finding
	containers, _ := doc.Get("spec", "containers")
	list, _ := containers.([]any)
	for i := range list {
		path := fmt.Sprintf("spec.containers[%d].securityContext.privileged", i)
		if v, _ := doc.Get("spec", "containers", strconv.Itoa(i), "securityContext", "privileged"); v == true {
			line, _ := doc.LineAt(path)
			out = append(out, Finding{Message: doc.ID() + " is privileged", Rule: "no-privileged", Line: line})
		}
	}
	return out
}

// The view of tests/fixtures/yaml-agreement/privileged.yaml (kept in
// testdata; a Rust test checks it is what the view writes): `privileged:
// yes` and a merge key bringing in `privileged: on` are both true, as the
// API server reads them, so neither gets past the check.
func TestAPrivilegedCheckOnTheViewIsNotBypassedByYAML11(t *testing.T) {
	req := &Request{APIVersion: APIVersion}
	resp := EvaluateWith(t.TempDir(), "testdata/privileged", req, privilegedCheck)
	if resp.Status != Failure {
		t.Fatalf("status %s: %+v", resp.Status, resp)
	}
	var got []string
	for _, d := range resp.Diagnostics {
		got = append(got, fmt.Sprintf("%s:%d %s", d.File, d.Line, d.Message))
	}
	want := []string{"privileged.yaml:10 Pod/spelled-yes is privileged", "privileged.yaml:16 Pod/by-merge-key is privileged"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	if resp.Data.(map[string]any)["resources"] != 3 {
		t.Fatalf("data %v", resp.Data)
	}
}

func TestWithoutTheViewYAMLIsAnErrorNotAPass(t *testing.T) {
	req := &Request{APIVersion: APIVersion, Files: []FileEntry{{Path: "pod.yaml", Kind: "file"}}}
	resp := EvaluateWith(t.TempDir(), t.TempDir(), req, privilegedCheck)
	if resp.Status != Failure || len(resp.Diagnostics) != 1 || !strings.Contains(resp.Diagnostics[0].Message, "documents: true") {
		t.Fatalf("%+v", resp)
	}
}

func TestJSONPathsTurnIntoLines(t *testing.T) {
	docs, _, err := ReadView("testdata/privileged")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]uint32{"spec.containers[0].securityContext.privileged": 10, "metadata.name": 4, `["kind"]`: 2}
	for path, want := range cases {
		if got, ok := docs[0].LineAt(path); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", path, got, ok, want)
		}
	}
	if _, ok := docs[0].LineAt("spec.volumes[0]"); ok {
		t.Error("a missing path has no line")
	}
}
