package main

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if listData.dir != "" {
		os.RemoveAll(listData.dir)
	}
	os.Exit(code)
}
