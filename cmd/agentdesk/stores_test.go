package main

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestServerOfHidesCredentials(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"esdb://admin:changeit@db1:2113,db2:2113?tls=false", "esdb://db1:2113,db2:2113"},
		{"mongodb://user:p%40ss@mongo-0:27017,mongo-1:27017/agentdesk?replicaSet=rs0", "mongodb://mongo-0:27017,mongo-1:27017"},
		{"mongodb+srv://u:p@cluster0.example.net", "mongodb+srv://cluster0.example.net"},
		{"esdb://127.0.0.1:2113", "esdb://127.0.0.1:2113"},
		{"not a url", "(unparsable connection string)"},
	} {
		if got := serverOf(c.in); got != c.want {
			t.Errorf("serverOf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestUnreachableStoreStopsTheStart: a store URI that is set but does not
// answer stops the start within CONNECT_TIMEOUT, with a message that names
// the setting and keeps the password out.
func TestUnreachableStoreStopsTheStart(t *testing.T) {
	// A port that was free a moment ago: nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		name, setting string
		env           map[string]string
	}{
		{"event store", "EVENTSTORE_URL", map[string]string{"EVENTSTORE_URL": "esdb://admin:s3cret-pw@" + addr + "?tls=false"}},
		{"read store", "MONGO_URI", map[string]string{"MONGO_URI": "mongodb://admin:s3cret-pw@" + addr + "/?serverSelectionTimeoutMS=60000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.env["CONNECT_TIMEOUT"] = "2s"
			cfg := testConfigOn(t, t.TempDir(), backend{env: c.env})
			start := time.Now()
			srv, err := Open(context.Background(), cfg, quietLogger(t))
			took := time.Since(start)
			if err == nil {
				srv.Shutdown(context.Background())
				t.Fatal("the server started on an unreachable store")
			}
			if took > 8*time.Second {
				t.Fatalf("gave up after %s, want about CONNECT_TIMEOUT (2s)", took)
			}
			if !strings.Contains(err.Error(), c.setting) || strings.Contains(err.Error(), "s3cret-pw") {
				t.Fatalf("error %q: want it to name %s and not the password", err, c.setting)
			}
			t.Logf("%s after %s: %v", c.setting, took.Round(time.Millisecond), err)
		})
	}
}

// TestDataFilesArePrivate: every file the server keeps in the data dir
// (the stores hold password hashes and sealed credentials) is readable by
// its owner only.
func TestDataFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	login(t, ts.URL, "admin", testAdminPassword)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
		seen++
	}
	if seen < 4 {
		t.Fatalf("found %d files in the data dir, want the stores and secrets", seen)
	}
}
