// {{name}}: a sealbox transform. Writes every YAML file of /in to the same
// path under /out with a first line "# processed by {{name}}"; the host
// applies /out to the image as a layer.
package main

import (
	"strings"

	sealbox "sealbox.dev/guest"
)

const header = "# processed by {{name}}\n"

func step(req *sealbox.Request, in sealbox.Input, out sealbox.Output) ([]sealbox.Diagnostic, error) {
	for _, f := range in.Files {
		if f.Kind != "file" || !(strings.HasSuffix(f.Path, ".yaml") || strings.HasSuffix(f.Path, ".yml")) {
			continue
		}
		text, err := in.Read(f.Path)
		if err != nil {
			return nil, err
		}
		if err := out.Write(f.Path, append([]byte(header), text...)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func main() { sealbox.Transform(step) }
