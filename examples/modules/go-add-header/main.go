// go-add-header: a sealbox transform in Go. Writes every YAML file of /in
// to the same path under /out with a first comment line (`config.header`,
// default `# managed by sealbox`); other files are left alone. It edits
// text, not YAML, so it needs no YAML reader.
package main

import (
	"encoding/json"
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
	for _, f := range in.Files {
		if f.Kind != "file" || !(strings.HasSuffix(f.Path, ".yaml") || strings.HasSuffix(f.Path, ".yml")) {
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
	return nil, nil
}

func main() { sealbox.Transform(step) }
