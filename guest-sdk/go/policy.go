package sealbox

import (
	"encoding/json"
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
// document under /in and answers with one diagnostic per finding at its
// file and line (a failure when one is an error).
//
// It reads the tree's `.json` files. YAML files get a warning and are
// skipped: Go's standard library has no YAML reader, and this SDK does not
// carry one of its own, so that every module reads YAML the one way sealbox
// does (Kubernetes' YAML 1.1 rules) once the host hands modules parsed
// documents (sealbox issue #14, the documents view).
func Policy(check Check) {
	Run(func(req *Request) (Response, error) { return Evaluate(InputDir, req, check), nil })
}

// Evaluate is the response Policy gives for req with its input tree at root:
// for tests and native runs of the same check.
func Evaluate(root string, req *Request, check Check) Response {
	var diagnostics []Diagnostic
	documents := 0
	for _, f := range req.Files {
		if f.Kind != "file" {
			continue
		}
		switch strings.ToLower(filepath.Ext(f.Path)) {
		case ".yaml", ".yml":
			diagnostics = append(diagnostics, Diagnostic{Severity: Warning, File: f.Path,
				Message: "not read: the Go SDK reads .json documents only (YAML waits for the documents view)"})
			continue
		case ".json":
		default:
			continue
		}
		from := f.Source
		if from == "" {
			from = f.Path
		}
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(from)))
		if err != nil {
			diagnostics = append(diagnostics, Diagnostic{Severity: Warning, File: f.Path, Message: "not read: " + err.Error()})
			continue
		}
		docs, err := ParseJSON(f.Path, text)
		if err != nil {
			diagnostics = append(diagnostics, Diagnostic{Severity: Warning, File: f.Path, Message: err.Error()})
		}
		for i := range docs {
			doc := &docs[i]
			if _, ok := doc.Value.(map[string]any); !ok {
				continue
			}
			documents++
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
					File: f.Path, Line: line, Rule: finding.Rule})
			}
		}
	}
	return Answer(diagnostics, map[string]any{"resources": documents})
}
