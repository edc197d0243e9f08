module sealbox.dev/examples/go-add-header

go 1.21

require sealbox.dev/guest v0.0.0

replace sealbox.dev/guest => ../../../guest-sdk/go
