{{ define "unused" }}kind: Nothing{{ end }}
