// go-add-header: a sealbox transform in Go. Writes every YAML file of /in
// to the same path under /out with a first comment line (`config.header`,
// default `# managed by sealbox`); other files are left alone. It edits
// text; with the documents view granted (`documents: true`) it leaves a
// file that Kubernetes would refuse as it is, with a warning at its line.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sealbox "sealbox.dev/guest"
)

type config struct {
	Header string `json:"header"`
}

func step(req *sealbox.Request, in sealbox.Input, out sealbox.Output) ([]sealbox.Diagnostic, error) {
	cfg := config{Header: "# managed by sealbox"}
	if len(req.Config) > 0 && string(req.Config) != "null" {
		if err := json.Unmarshal(req.Config, &cfg); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	if !strings.HasPrefix(cfg.Header, "#") || strings.Contains(cfg.Header, "\n") {
		return nil, fmt.Errorf("config header %q: must be one line starting with #", cfg.Header)
	}
	// The files Kubernetes would refuse, from the view when the step has it.
	refused := map[string]sealbox.FileError{}
	if _, bad, err := in.Documents(); err == nil {
		for _, e := range bad {
			refused[e.File] = e
		}
	} else if !errors.Is(err, sealbox.ErrNoView) {
		return nil, err
	}
	var diagnostics []sealbox.Diagnostic
	for _, f := range in.Files {
		if f.Kind != "file" || !(strings.HasSuffix(f.Path, ".yaml") || strings.HasSuffix(f.Path, ".yml")) {
			continue
		}
		if e, ok := refused[f.Path]; ok {
			diagnostics = append(diagnostics, sealbox.Diagnostic{Severity: sealbox.Warning, File: f.Path, Line: e.Line,
				Message: "left without a header, not valid YAML: " + e.Message})
			continue
		}
		text, err := in.Read(f.Path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		}
		if strings.HasPrefix(string(text), cfg.Header+"\n") {
			continue
		}
		if err := out.Write(f.Path, append([]byte(cfg.Header+"\n"), text...)); err != nil {
			return nil, err
		}
	}
	return diagnostics, nil
}

func main() { sealbox.Transform(step) }
