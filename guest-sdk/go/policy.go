package sealbox

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Finding is what a policy says about one document: a message, how bad it
// is (Error fails the step, Warning does not), the rule, and the line it
// points at (the document's first line when 0).
type Finding struct {
	Severity string
	Message  string
	Rule     string
	Line     uint32
}

// Check is a policy: the findings about one document, given the step's config.
type Check func(doc *Document, config json.RawMessage) []Finding

// Policy runs a policy module: reads the request, calls check for every
// document of the input tree and answers with one diagnostic per finding at
// its file and line (a failure when one is an error).
//
// YAML is read from the documents view, which the host makes with the one
// YAML reader sealbox has (Kubernetes' rules: `privileged: yes` is true,
// `0755` is 493, merge keys apply, duplicate keys are refused), so a policy
// sees what the API server would. Grant the step `documents: true`. Without
// the view only `.json` files are read, and each YAML file is an error
// finding: a policy must not pass what it could not read.
func Policy(check Check) {
	Run(func(req *Request) (Response, error) {
		return EvaluateWith(InputDir, DocumentsDir, req, check), nil
	})
}

// Evaluate is the response Policy gives for req with its input tree at root
// and no documents view: for tests and native runs of the same check.
func Evaluate(root string, req *Request, check Check) Response {
	return EvaluateWith(root, "", req, check)
}

// EvaluateWith is the response Policy gives for req with its input tree at
// root and the documents view in documents ("" or a directory without the
// view: none).
func EvaluateWith(root, documents string, req *Request, check Check) Response {
	var diagnostics []Diagnostic
	var docs []Document
	view := false
	if documents != "" {
		read, bad, err := ReadView(documents)
		switch {
		case err == nil:
			view = true
			docs = read
			for _, e := range bad {
				diagnostics = append(diagnostics, Diagnostic{Severity: Warning, File: e.File, Line: e.Line,
					Column: e.Column, Message: "not read (Kubernetes would refuse it): " + e.Message})
			}
		case errors.Is(err, ErrNoView):
		default:
			return Answer([]Diagnostic{{Severity: Error, Message: err.Error()}}, nil)
		}
	}
	if !view {
		var more []Diagnostic
		docs, more = readJSONFiles(root, req)
		diagnostics = append(diagnostics, more...)
	}
	documentsChecked := 0
	for i := range docs {
		doc := &docs[i]
		if _, ok := doc.Value.(map[string]any); !ok {
			continue
		}
		documentsChecked++
		for _, finding := range check(doc, req.Config) {
			line := finding.Line
			if line == 0 {
				line = doc.Line
			}
			severity := finding.Severity
			if severity == "" {
				severity = Error
			}
			diagnostics = append(diagnostics, Diagnostic{Severity: severity, Message: finding.Message,
				File: doc.File, Line: line, Rule: finding.Rule})
		}
	}
	return Answer(diagnostics, map[string]any{"resources": documentsChecked})
}

// readJSONFiles reads the tree's `.json` files itself (for a step without
// the view); each YAML file is an error naming the grant that reads it.
func readJSONFiles(root string, req *Request) ([]Document, []Diagnostic) {
	var docs []Document
	var diagnostics []Diagnostic
	for _, f := range req.Files {
		if f.Kind != "file" {
			continue
		}
		switch strings.ToLower(filepath.Ext(f.Path)) {
		case ".yaml", ".yml":
			diagnostics = append(diagnostics, Diagnostic{Severity: Error, File: f.Path,
				Message: "not read: YAML comes from the documents view; grant this step `documents: true`"})
			continue
		case ".json":
		default:
			continue
		}
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		if err != nil {
			diagnostics = append(diagnostics, Diagnostic{Severity: Warning, File: f.Path, Message: "not read: " + err.Error()})
			continue
		}
		parsed, err := ParseJSON(f.Path, text)
		if err != nil {
			diagnostics = append(diagnostics, Diagnostic{Severity: Warning, File: f.Path, Message: err.Error()})
		}
		docs = append(docs, parsed...)
	}
	return docs, diagnostics
}
