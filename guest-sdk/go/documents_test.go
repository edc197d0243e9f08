package sealbox

import "testing"

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
