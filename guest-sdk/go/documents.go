package sealbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Document is one JSON document of the input tree, decoded (numbers as
// json.Number), with the line each of its fields starts on.
type Document struct {
	// File is its path relative to the input root.
	File string
	// Index is its place in the file's stream of documents (0-based).
	Index int
	// Line is the line it starts on (1-based).
	Line  uint32
	Value any
	lines map[string]uint32
}

// Get returns the value at path (object keys, or array indices written as
// numbers) and whether there is one.
func (d *Document) Get(path ...string) (any, bool) {
	v := d.Value
	for _, seg := range path {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// String returns the string at path, or "".
func (d *Document) String(path ...string) string {
	v, _ := d.Get(path...)
	s, _ := v.(string)
	return s
}

// Kind is the document's `kind`, or "".
func (d *Document) Kind() string { return d.String("kind") }

// Name is its `metadata.name`, or "".
func (d *Document) Name() string { return d.String("metadata", "name") }

// ID is `Kind/name`, for messages.
func (d *Document) ID() string { return d.Kind() + "/" + d.Name() }

// LineOf returns the line of the field at path, or false when there is no
// such field: from the documents view, the line its value starts on (for a
// mapping written below its key, its first line); from ParseJSON, the line
// of its key (where a JSON value starts too).
func (d *Document) LineOf(path ...string) (uint32, bool) {
	line, ok := d.lines[pointer(path)]
	return line, ok
}

func pointer(path []string) string {
	var b strings.Builder
	for _, seg := range path {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(seg))
	}
	return b.String()
}

// ParseJSON reads a stream of JSON documents (one or more values) with the
// line of every field. The error names the line where the text stopped
// being JSON.
func ParseJSON(file string, text []byte) ([]Document, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	p := &parser{dec: dec, text: text}
	var docs []Document
	for dec.More() {
		lines := map[string]uint32{}
		p.lines = lines
		start := p.lineAt(p.dec.InputOffset())
		value, err := p.value("", true)
		if err != nil {
			return docs, fmt.Errorf("%s:%d: not valid JSON: %v", file, p.lineAt(p.dec.InputOffset()), err)
		}
		docs = append(docs, Document{File: file, Index: len(docs), Line: start, Value: value, lines: lines})
	}
	return docs, nil
}

// parser walks a decoder's tokens, noting the line each value starts on.
type parser struct {
	dec   *json.Decoder
	text  []byte
	lines map[string]uint32
}

// lineAt is the line of the first token at or after offset.
func (p *parser) lineAt(offset int64) uint32 {
	i := int(offset)
	for i < len(p.text) && strings.IndexByte(" \t\r\n,:", p.text[i]) >= 0 {
		i++
	}
	return uint32(bytes.Count(p.text[:i], []byte{'\n'})) + 1
}

func (p *parser) value(ptr string, note bool) (any, error) {
	if note {
		p.lines[ptr] = p.lineAt(p.dec.InputOffset())
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch delim {
	case '{':
		object := map[string]any{}
		for p.dec.More() {
			line := p.lineAt(p.dec.InputOffset())
			keyTok, err := p.dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := keyTok.(string)
			child := ptr + pointer([]string{key})
			p.lines[child] = line
			if object[key], err = p.value(child, false); err != nil {
				return nil, err
			}
		}
		_, err = p.dec.Token()
		return object, err
	case '[':
		array := []any{}
		for i := 0; p.dec.More(); i++ {
			v, err := p.value(ptr+"/"+strconv.Itoa(i), true)
			if err != nil {
				return nil, err
			}
			array = append(array, v)
		}
		_, err = p.dec.Token()
		return array, err
	}
	return nil, fmt.Errorf("unexpected %v", delim)
}
