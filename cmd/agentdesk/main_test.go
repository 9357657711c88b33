package main

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFill.temp {
		os.RemoveAll(benchFill.dir)
	}
	if auditBench.temp {
		os.RemoveAll(auditBench.dir)
	}
	os.Exit(code)
}
