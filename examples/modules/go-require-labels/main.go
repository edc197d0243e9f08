// go-require-labels: a sealbox policy in Go. Every Kubernetes object must
// carry the labels listed in `config.labels` (default `team`); each missing
// one is a finding at the object's `metadata` line. YAML comes from the
// documents view (grant `documents: true`), read as Kubernetes reads it.
package main

import (
	"encoding/json"
	"fmt"

	sealbox "sealbox.dev/guest"
)

const rule = "require-labels"

type config struct {
	Labels []string `json:"labels"`
}

// check is the policy: the findings about one document.
func check(doc *sealbox.Document, raw json.RawMessage) []sealbox.Finding {
	cfg := config{Labels: []string{"team"}}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return []sealbox.Finding{{Message: "config: " + err.Error(), Rule: rule}}
		}
	}
	if doc.Kind() == "" {
		return nil
	}
	line, _ := doc.LineOf("metadata")
	var findings []sealbox.Finding
	for _, label := range cfg.Labels {
		if _, ok := doc.Get("metadata", "labels", label); !ok {
			findings = append(findings, sealbox.Finding{
				Message: fmt.Sprintf("%s has no label %q", doc.ID(), label), Rule: rule, Line: line,
			})
		}
	}
	return findings
}

func main() { sealbox.Policy(check) }
