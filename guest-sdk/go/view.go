package sealbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DocumentsDir is where the host mounts the documents view (read-only) for
// a step granted `documents: true` in its pipeline entry or test case.
const DocumentsDir = "/documents"

// ViewFile is the view's file under DocumentsDir: JSON Lines, one record
// per document or per file that could not be read (see guest-sdk/README.md).
const ViewFile = "documents.jsonl"

// FileError is a file of the tree that is not valid YAML (or breaks a
// limit, or is not UTF-8): Kubernetes would refuse it whole.
type FileError struct {
	File     string
	Document int
	Line     uint32
	Column   uint32
	Message  string
}

func (e FileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message) }

// ErrNoView is returned by ReadView when the step was not granted the
// documents view.
var ErrNoView = errors.New("no documents view: grant the step `documents: true` (pipeline file grants, or a test case's grants)")

// record is one line of the view.
type record struct {
	File     string            `json:"file"`
	Document int               `json:"document"`
	Line     uint32            `json:"line"`
	Value    json.RawMessage   `json:"value"`
	Lines    map[string]uint32 `json:"lines"`
	Error    *struct {
		Document int    `json:"document"`
		Line     uint32 `json:"line"`
		Column   uint32 `json:"column"`
		Message  string `json:"message"`
	} `json:"error"`
}

// ReadView reads the documents view in dir (DocumentsDir in a module): every
// YAML and JSON document of the input tree as the Kubernetes API server
// reads it (YAML 1.1 booleans and octals, merge keys, duplicate keys
// refused), with the line of each field, and the files that could not be
// read. ErrNoView when the step was not granted it.
func ReadView(dir string) ([]Document, []FileError, error) {
	f, err := os.Open(filepath.Join(dir, ViewFile))
	if err != nil {
		// Under WASI a path outside every preopened directory is EBADF,
		// not ENOENT: no /documents at all is no view too.
		if _, statErr := os.Stat(dir); errors.Is(err, fs.ErrNotExist) || statErr != nil {
			return nil, nil, ErrNoView
		}
		return nil, nil, fmt.Errorf("reading the documents view: %w", err)
	}
	defer f.Close()
	return parseView(f)
}

func parseView(in io.Reader) ([]Document, []FileError, error) {
	dec := json.NewDecoder(in)
	var docs []Document
	var errs []FileError
	for n := 1; ; n++ {
		var r record
		if err := dec.Decode(&r); err == io.EOF {
			return docs, errs, nil
		} else if err != nil {
			return nil, nil, fmt.Errorf("the documents view, record %d: %w", n, err)
		}
		if r.Error != nil {
			errs = append(errs, FileError{File: r.File, Document: r.Error.Document, Line: r.Error.Line,
				Column: r.Error.Column, Message: r.Error.Message})
			continue
		}
		value, err := decodeNumbers(r.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("the documents view, record %d (%s): %w", n, r.File, err)
		}
		docs = append(docs, Document{File: r.File, Index: r.Document, Line: r.Line, Value: value, lines: r.Lines})
	}
}

// decodeNumbers decodes JSON with numbers as json.Number, as ParseJSON does.
func decodeNumbers(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// LineAt is LineOf for a path written as Kubernetes tools write one:
// `spec.containers[0].securityContext.privileged` (a key with a dot in it
// goes in brackets and quotes: `metadata.labels["app.kubernetes.io/name"]`).
func (d *Document) LineAt(path string) (uint32, bool) {
	segs, ok := splitJSONPath(path)
	if !ok {
		return 0, false
	}
	return d.LineOf(segs...)
}

// splitJSONPath turns `a.b[0]["c.d"]` into ["a", "b", "0", "c.d"].
func splitJSONPath(path string) ([]string, bool) {
	var segs []string
	for i := 0; i < len(path); {
		switch path[i] {
		case '.':
			i++
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return nil, false
			}
			inner := path[i+1 : i+end]
			if unquoted, err := strconv.Unquote(inner); err == nil {
				inner = unquoted
			}
			segs = append(segs, inner)
			i += end + 1
		default:
			end := strings.IndexAny(path[i:], ".[")
			if end < 0 {
				end = len(path) - i
			}
			segs = append(segs, path[i:i+end])
			i += end
		}
	}
	return segs, true
}
