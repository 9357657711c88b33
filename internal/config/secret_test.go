package config

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	got, err := ParseSecret(`{"JWT_SECRET": "s3cr3t", "BCRYPT_COST": 12, "COMPANY_RATE_LIMIT": 0.5, "FLAG": true, "EMPTY": ""}`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"JWT_SECRET": "s3cr3t", "BCRYPT_COST": "12", "COMPANY_RATE_LIMIT": "0.5", "FLAG": "true", "EMPTY": ""}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestParseSecretRefuses(t *testing.T) {
	for _, tt := range []struct{ name, secret, want string }{
		{"not JSON", `JWT_SECRET=hunter2hunter2`, "not valid JSON"},
		{"truncated", `{"JWT_SECRET": "hunter2`, "not valid JSON"},
		{"array", `["hunter2"]`, "not an object"},
		{"string", `"hunter2"`, "not an object"},
		{"null", `null`, "not an object"},
		{"two values", `{} {"JWT_SECRET": "hunter2"}`, "more than one JSON value"},
		{"null value", `{"JWT_SECRET": null}`, "key JWT_SECRET is null"},
		{"nested", `{"MONGO": {"URI": "hunter2"}}`, "key MONGO is an array or an object"},
		{"empty", ``, "not valid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSecret(tt.secret)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q quotes the secret", err)
			}
		})
	}
}

func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{`{"A":"b"}`, `{"A":1e3,"B":false}`, `[1]`, `{"A":{"B":1}}`, `{"A":"\u00e9"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseSecret(s)
		if err == nil && m == nil {
			t.Fatal("no error and no map")
		}
	})
}

// The environment wins over the secret; an empty variable does not hide
// the secret's value; the sources name keys only.
func TestLoadEnvLayersTheSecretUnderTheEnvironment(t *testing.T) {
	environ := map[string]string{
		SecretIDVariable: "prod/agentdesk",
		"HTTP_ADDR":      "0.0.0.0:9000",
		"LOG_LEVEL":      "",
	}
	var fetched string
	fetch := func(_ context.Context, id string) (string, error) {
		fetched = id
		return `{"HTTP_ADDR": "127.0.0.1:1", "JWT_SECRET": "0123456789abcdef0123456789abcdef", "LOG_LEVEL": "debug", "MAX_CONNECTIONS": 64, "AWS_S3_BUKET": "typo"}`, nil
	}
	e, err := LoadEnv(context.Background(), env(environ), fetch)
	if err != nil {
		t.Fatal(err)
	}
	if fetched != "prod/agentdesk" {
		t.Fatalf("fetched %q, want prod/agentdesk", fetched)
	}
	c, err := FromEnv(e.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "0.0.0.0:9000" || string(c.JWTSecret) != "0123456789abcdef0123456789abcdef" || c.LogLevel != "debug" ||
		c.MaxConnections != 64 || c.SecretID != "prod/agentdesk" {
		t.Fatalf("got %+v", c)
	}
	s := e.Sources()
	for _, tt := range []struct {
		name      string
		got, want []string
	}{
		{"secret", s.Secret, []string{"JWT_SECRET", "LOG_LEVEL", "MAX_CONNECTIONS"}},
		{"environment", s.Environment, []string{"AWS_SECRETS_MANAGER_SECRET_ID", "HTTP_ADDR"}},
		{"overridden", s.Overridden, []string{"HTTP_ADDR"}},
		{"unknown", s.Unknown, []string{"AWS_S3_BUKET"}},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLoadEnvWithoutSecret(t *testing.T) {
	e, err := LoadEnv(context.Background(), env(map[string]string{"HTTP_ADDR": "x:1"}), func(context.Context, string) (string, error) {
		t.Fatal("fetched a secret nobody named")
		return "", nil
	})
	if err != nil || e.Getenv("HTTP_ADDR") != "x:1" || e.SecretID != "" {
		t.Fatalf("got %+v, %v", e, err)
	}
	if s := e.Sources(); !slices.Equal(s.Environment, []string{"HTTP_ADDR"}) || len(s.Secret) > 0 {
		t.Fatalf("sources %+v", s)
	}
}

func TestLoadEnvErrorsNameTheSecret(t *testing.T) {
	environ := env(map[string]string{SecretIDVariable: "prod/agentdesk"})
	_, err := LoadEnv(context.Background(), environ, func(context.Context, string) (string, error) {
		return "", errors.New("no such secret")
	})
	if err == nil || !strings.Contains(err.Error(), `AWS_SECRETS_MANAGER_SECRET_ID "prod/agentdesk": no such secret`) {
		t.Fatalf("got %v", err)
	}
	_, err = LoadEnv(context.Background(), environ, func(context.Context, string) (string, error) { return "{", nil })
	if err == nil || !strings.Contains(err.Error(), `"prod/agentdesk": the secret is not valid JSON`) {
		t.Fatalf("got %v", err)
	}
}

func TestVariables(t *testing.T) {
	v := Variables()
	for _, name := range []string{"MONGO_URI", "EVENTSTORE_URL", "JWT_SECRET", "SECRETS_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "NATS_URL", SecretIDVariable} {
		if !slices.Contains(v, name) {
			t.Errorf("Variables() lacks %s", name)
		}
	}
	if !slices.IsSorted(v) {
		t.Error("Variables() is not sorted")
	}
}
