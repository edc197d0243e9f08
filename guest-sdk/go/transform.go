package sealbox

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Input is the read-only input tree.
type Input struct {
	root      string
	documents string
	// Files lists every entry of the tree, sorted by path, as the host saw it.
	Files []FileEntry
}

// Read returns the bytes of the file at p (relative to the input root).
func (in Input) Read(p string) ([]byte, error) {
	at, err := checked(in.root, p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(at)
}

// Documents returns every YAML and JSON document of the tree, from the
// documents view (read as Kubernetes reads YAML, each field with its line),
// and the files that could not be read. ErrNoView when the step was not
// granted `documents: true`.
func (in Input) Documents() ([]Document, []FileError, error) {
	if in.documents == "" {
		return nil, nil, ErrNoView
	}
	return ReadView(in.documents)
}

// Output is the output tree: a file written here replaces (or adds) the
// file of the same path in the image.
type Output struct{ root string }

// Write writes content to p (relative to the output root), creating its
// directories. A path with `..` or a leading `/` is an error.
func (out Output) Write(p string, content []byte) error {
	at, err := checked(out.root, p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		return fmt.Errorf("creating the directory of %s: %w", p, err)
	}
	return os.WriteFile(at, content, 0o644)
}

func checked(root, p string) (string, error) {
	clean := path.Clean(p)
	if p == "" || path.IsAbs(p) || clean != p || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%q is not a plain relative path", p)
	}
	return filepath.Join(root, filepath.FromSlash(p)), nil
}

// Transform runs a transform module: reads the request, calls step with
// /in and /out, and answers with its diagnostics (a failure when one is an
// error, or when step returns an error).
func Transform(step func(req *Request, in Input, out Output) ([]Diagnostic, error)) {
	Run(func(req *Request) (Response, error) {
		return ApplyWith(InputDir, DocumentsDir, OutputDir, req, step), nil
	})
}

// Apply is the response Transform gives over the trees at input and output,
// with no documents view.
func Apply(input, output string, req *Request, step func(req *Request, in Input, out Output) ([]Diagnostic, error)) Response {
	return ApplyWith(input, "", output, req, step)
}

// ApplyWith is Apply with the documents view in documents ("": none).
func ApplyWith(input, documents, output string, req *Request, step func(req *Request, in Input, out Output) ([]Diagnostic, error)) Response {
	diagnostics, err := step(req, Input{root: input, documents: documents, Files: req.Files}, Output{root: output})
	if err != nil {
		return Answer([]Diagnostic{{Severity: Error, Message: err.Error()}}, nil)
	}
	return Answer(diagnostics, nil)
}
