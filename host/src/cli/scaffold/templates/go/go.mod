module example.com/{{name}}

go 1.21

require sealbox.dev/guest v0.0.0

// The SDK of the sealbox that made this project, written beside it: the
// build needs no module proxy.
replace sealbox.dev/guest => ./sdk/go
