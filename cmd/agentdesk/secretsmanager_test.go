package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"agentdesk/internal/awssecret/awssecrettest"
)

// awsEnv adds to env what reads the secret id from the Secrets Manager
// double at endpoint: a region, test credentials and the endpoint, so
// nothing of the machine (files, instance role) is consulted.
func awsEnv(env map[string]string, endpoint, id string) map[string]string {
	env["AWS_SECRETS_MANAGER_SECRET_ID"] = id
	env["AWS_REGION"] = "eu-west-1"
	env["AWS_ENDPOINT_URL"] = endpoint
	env["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE"
	env["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	return env
}

// The server starts on a configuration from the secret: the admin's
// password and the JWT secret come from it, the environment overrides
// LOG_LEVEL, and the log names where each key came from without a value.
func TestSecretConfiguresServe(t *testing.T) {
	const jwtSecret = "jwt-from-the-secret-0123456789abcdef"
	secret, _ := json.Marshal(map[string]any{
		"ADMIN_PASSWORD": testAdminPassword,
		"JWT_SECRET":     jwtSecret,
		"LOG_LEVEL":      "error",
		"BCRYPT_COST":    4,
		"AWS_S3_BUKET":   "typo-bucket-value",
	})
	sm := awssecrettest.NewServer(t, map[string]string{"prod/agentdesk": string(secret)})
	env := awsEnv(cliEnv(t.TempDir()), sm.URL, "prod/agentdesk")
	delete(env, "BCRYPT_COST")
	base, logs := serveInBackground(t, env)
	login(t, base, "admin", testAdminPassword)
	if sm.Requests() != 1 {
		t.Errorf("the secret was read %d times, want once", sm.Requests())
	}

	var conf, unknown struct {
		Msg             string   `json:"msg"`
		Secret          string   `json:"secret"`
		FromSecret      []string `json:"from_secret"`
		FromEnvironment []string `json:"from_environment"`
		Overrides       []string `json:"environment_overrides_secret"`
		Keys            []string `json:"keys"`
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
		}
		_ = json.Unmarshal(sc.Bytes(), &line)
		switch {
		case line.Msg == "configuration":
			_ = json.Unmarshal(sc.Bytes(), &conf)
		case strings.HasPrefix(line.Msg, "the secret holds keys"):
			_ = json.Unmarshal(sc.Bytes(), &unknown)
		}
	}
	if conf.Secret != "prod/agentdesk" || !slices.Equal(conf.FromSecret, []string{"ADMIN_PASSWORD", "BCRYPT_COST", "JWT_SECRET"}) ||
		!slices.Contains(conf.FromEnvironment, "LOG_LEVEL") || !slices.Contains(conf.FromEnvironment, "DATA_DIR") ||
		!slices.Equal(conf.Overrides, []string{"LOG_LEVEL"}) {
		t.Errorf("configuration log line: got %+v", conf)
	}
	if !slices.Equal(unknown.Keys, []string{"AWS_S3_BUKET"}) {
		t.Errorf("unknown keys warning: got %+v, want AWS_S3_BUKET named", unknown)
	}
	for _, value := range []string{testAdminPassword, jwtSecret, "typo-bucket-value", "wJalrXUtnFEMI"} {
		if strings.Contains(logs.String(), value) {
			t.Errorf("the log holds the value %q", value)
		}
	}
}

// A secret that cannot be read or used stops every command that reads the
// configuration before it touches anything, with a message naming the
// secret and the problem.
func TestSecretErrorsStopTheStart(t *testing.T) {
	sm := awssecrettest.NewServer(t, map[string]string{
		"bad-json":   `{"JWT_SECRET": "hunter2hunter2`,
		"array":      `["hunter2hunter2"]`,
		"nested":     `{"MONGO": {"URI": "hunter2hunter2"}}`,
		"bad-config": `{"LOG_FORMAT": "xml"}`,
	})
	sm.Deny("locked")
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	tests := []struct {
		name, id, endpoint string
		args               []string
		want               string
	}{
		{"missing", "prod/missing", sm.URL, nil, `"prod/missing": no such secret in region eu-west-1`},
		{"denied", "locked", sm.URL, []string{"serve"}, `"locked": access denied`},
		{"malformed JSON", "bad-json", sm.URL, nil, `"bad-json": the secret is not valid JSON`},
		{"not an object", "array", sm.URL, nil, `"array": the secret is JSON but not an object`},
		{"nested value", "nested", sm.URL, nil, `"nested": key MONGO is an array or an object`},
		{"invalid setting", "bad-config", sm.URL, nil, `LOG_FORMAT "xml"`},
		{"no answer", "prod/agentdesk", "http://" + silent.Addr().String(), nil, `"prod/agentdesk": no answer from Secrets Manager within 1s`},
		{"users command", "prod/missing", sm.URL, []string{"users", "reset-password", "--generate", "admin"}, `"prod/missing": no such secret`},
		{"projections command", "prod/missing", sm.URL, []string{"projections", "status"}, `"prod/missing": no such secret`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			env := awsEnv(cliEnv(dir), tt.endpoint, tt.id)
			env["CONNECT_TIMEOUT"] = "1s"
			r := runCLI(t, context.Background(), env, "", tt.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tt.want)
			}
			if !strings.Contains(r.stderr, "AWS_SECRETS_MANAGER_SECRET_ID") && tt.name != "invalid setting" {
				t.Errorf("stderr %q does not name AWS_SECRETS_MANAGER_SECRET_ID", r.stderr)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr %q quotes the secret", r.stderr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("DATA_DIR: %v, want it never created", err)
			}
		})
	}
}
