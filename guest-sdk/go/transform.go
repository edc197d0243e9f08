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
	root string
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
	Run(func(req *Request) (Response, error) { return Apply(InputDir, OutputDir, req, step), nil })
}

// Apply is the response Transform gives over the trees at input and output.
func Apply(input, output string, req *Request, step func(req *Request, in Input, out Output) ([]Diagnostic, error)) Response {
	diagnostics, err := step(req, Input{root: input, Files: req.Files}, Output{root: output})
	if err != nil {
		return Answer([]Diagnostic{{Severity: Error, Message: err.Error()}}, nil)
	}
	return Answer(diagnostics, nil)
}
