module sealbox.dev/guest

go 1.21
