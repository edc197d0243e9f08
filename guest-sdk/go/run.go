package sealbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Run reads the request on stdin, calls step and prints its response on
// stdout. When step returns an error, it is printed to stderr and the
// module exits with status 1 (the host reports the step as failed).
func Run(step func(req *Request) (Response, error)) {
	if err := run(os.Stdin, os.Stdout, step); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, step func(req *Request) (Response, error)) error {
	req, err := ReadRequest(in)
	if err != nil {
		return err
	}
	resp, err := step(req)
	if err != nil {
		return err
	}
	bytes, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("writing the response: %w", err)
	}
	_, err = out.Write(append(bytes, '\n'))
	return err
}

// ReadRequest reads and checks one request.
func ReadRequest(in io.Reader) (*Request, error) {
	var req Request
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return nil, fmt.Errorf("reading request: %w", err)
	}
	if req.APIVersion != APIVersion {
		return nil, fmt.Errorf("unsupported apiVersion %q, this module speaks %s", req.APIVersion, APIVersion)
	}
	return &req, nil
}
