// Package sealbox is the Go SDK for sealbox step modules: the step contract
// v1 (the same shapes as the Rust types in guest-sdk/src/contract.rs and the
// JSON Schema in guest-sdk/schema/), and helpers that turn a policy check or
// a transform into a module. Standard library only; build with
// GOOS=wasip1 GOARCH=wasm.
package sealbox

import "encoding/json"

// APIVersion is the apiVersion every request and response carries.
const APIVersion = "sealbox.dev/step/v1"

// InputDir is where a module finds its input tree (read-only); OutputDir is
// where a transform writes its results (empty at start).
const (
	InputDir  = "/in"
	OutputDir = "/out"
)

// Request is what the host sends on stdin.
type Request struct {
	APIVersion string            `json:"apiVersion"`
	Step       string            `json:"step"`
	Config     json.RawMessage   `json:"config,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Image      ImageInfo         `json:"image"`
	Files      []FileEntry       `json:"files,omitempty"`
}

// ImageInfo holds facts about the image a step contributes to.
type ImageInfo struct {
	Platform        Platform          `json:"platform"`
	SourceDateEpoch uint64            `json:"sourceDateEpoch"`
	Env             map[string]string `json:"env,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// Platform is an OCI platform.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// FileEntry is one entry of the input tree as the host listed it.
type FileEntry struct {
	Path     string `json:"path"`
	Kind     string `json:"kind"` // "file", "dir" or "symlink"
	Mode     uint32 `json:"mode"`
	Size     uint64 `json:"size"`
	Link     string `json:"link,omitempty"`
	Hardlink string `json:"hardlink,omitempty"`
	Source   string `json:"source,omitempty"`
}

// Status values of a Response.
const (
	Success = "success"
	Failure = "failure"
)

// Severity values of a Diagnostic.
const (
	Info    = "info"
	Warning = "warning"
	Error   = "error"
)

// Response is what a module prints on stdout.
type Response struct {
	APIVersion  string       `json:"apiVersion"`
	Status      string       `json:"status"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	Data        any          `json:"data,omitempty"`
}

// Diagnostic is one finding, located in the input tree where it can be.
type Diagnostic struct {
	Severity string `json:"severity"`
	Message  string `json:"message"`
	File     string `json:"file,omitempty"`
	Line     uint32 `json:"line,omitempty"`
	Column   uint32 `json:"column,omitempty"`
	Rule     string `json:"rule,omitempty"`
}

// Answer is a response with these diagnostics: a failure when one is an error.
func Answer(diagnostics []Diagnostic, data any) Response {
	status := Success
	for _, d := range diagnostics {
		if d.Severity == Error {
			status = Failure
		}
	}
	return Response{APIVersion: APIVersion, Status: status, Diagnostics: diagnostics, Data: data}
}
