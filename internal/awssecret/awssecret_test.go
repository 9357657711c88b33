package awssecret_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"agentdesk/internal/awssecret"
	"agentdesk/internal/awssecret/awssecrettest"
)

// env is an AWS environment that talks to endpoint with test
// credentials, so that nothing of the machine's (files, instance role)
// is consulted.
func env(endpoint string, extra ...string) func(string) string {
	m := map[string]string{
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL":      endpoint,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestFetch(t *testing.T) {
	srv := awssecrettest.NewServer(t, map[string]string{"prod/agentdesk": `{"JWT_SECRET":"x"}`})
	srv.Deny("locked")
	src := awssecret.Source{Getenv: env(srv.URL)}

	got, err := src.Fetch(context.Background(), "prod/agentdesk")
	if err != nil || got != `{"JWT_SECRET":"x"}` {
		t.Fatalf("Fetch: got %q, %v; want the secret's string", got, err)
	}

	for _, tt := range []struct{ id, want string }{
		{"missing", "no such secret"},
		{"locked", "access denied"},
	} {
		_, err := src.Fetch(context.Background(), tt.id)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("Fetch(%s): got %v, want an error saying %q and naming the endpoint", tt.id, err, tt.want)
		}
	}
}

// The service-specific endpoint variable wins over AWS_ENDPOINT_URL, as
// in the SDK.
func TestServiceEndpointWins(t *testing.T) {
	srv := awssecrettest.NewServer(t, map[string]string{"s": `{}`})
	src := awssecret.Source{Getenv: env("http://127.0.0.1:1", "AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)}
	if _, err := src.Fetch(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
}

func TestNoRegion(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_PROFILE", "")
	src := awssecret.Source{Getenv: env("http://127.0.0.1:1", "AWS_REGION", "")}
	_, err := src.Fetch(context.Background(), "s")
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("got %v, want an error naming AWS_REGION", err)
	}
}

// An endpoint that accepts connections but never answers fails within
// the timeout, saying so.
func TestSilentEndpointTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	src := awssecret.Source{Getenv: env("http://" + ln.Addr().String()), Timeout: 500 * time.Millisecond}
	start := time.Now()
	_, err = src.Fetch(context.Background(), "s")
	if err == nil || !strings.Contains(err.Error(), "no answer from Secrets Manager within 500ms") {
		t.Fatalf("got %v, want a timeout error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s, want about 500ms", d)
	}
}
