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
	os.Exit(code)
}
