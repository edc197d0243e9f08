// {{name}}: a sealbox policy. Every Kubernetes object must carry the label
// named by `config.label` (default `team`); each object without it is a
// finding at its `metadata` line.
package main

import (
	"encoding/json"
	"fmt"

	sealbox "sealbox.dev/guest"
)

const rule = "{{name}}"

// check is the policy: the findings about one document.
func check(doc *sealbox.Document, raw json.RawMessage) []sealbox.Finding {
	cfg := struct {
		Label string `json:"label"`
	}{Label: "team"}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			finding := sealbox.Finding{Message: "config: " + err.Error(), Rule: rule}
			return []sealbox.Finding{finding}
		}
	}
	if doc.Kind() == "" {
		return nil
	}
	if _, ok := doc.Get("metadata", "labels", cfg.Label); ok {
		return nil
	}
	line, _ := doc.LineOf("metadata")
	finding := sealbox.Finding{Message: fmt.Sprintf("%s has no label %q", doc.ID(), cfg.Label), Rule: rule, Line: line}
	return []sealbox.Finding{finding}
}

func main() { sealbox.Policy(check) }
