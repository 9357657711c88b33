package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"agentdesk/domain/resource"
	"agentdesk/internal/config"
)

// TestREADMEDocumentsEveryResource: every declared resource has a row in
// the README's resource table that names each of its filter and sort
// fields, so the documentation cannot fall behind the declarations.
func TestREADMEDocumentsEveryResource(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if name, ok := strings.CutPrefix(line, "| `"); ok {
			if i := strings.Index(name, "`"); i > 0 {
				rows[name[:i]] += line
			}
		}
	}
	for _, r := range resource.All() {
		row, ok := rows[r.Name]
		if !ok {
			t.Errorf("README has no table row for %s", r.Name)
			continue
		}
		for _, f := range append(r.Filters(), r.Sorts()...) {
			if !strings.Contains(row, "`"+f+"`") {
				t.Errorf("README row of %s does not name %s", r.Name, f)
			}
		}
	}
}

// TestEveryVariableDocumented: every environment variable the
// configuration reads has a row in the README's Configuration table and
// is named in the commands' help.
func TestEveryVariableDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	if _, err := config.FromEnv(func(k string) string { read[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	if len(read) < 30 {
		t.Fatalf("the configuration read %d variables; the getenv hook saw nothing", len(read))
	}
	for name := range read {
		if !strings.Contains(string(raw), "| `"+name+"` |") {
			t.Errorf("README's Configuration table has no row for %s", name)
		}
		if !regexp.MustCompile(`\b` + name + `\b`).MatchString(envHelp) {
			t.Errorf("envHelp does not name %s", name)
		}
	}
}
