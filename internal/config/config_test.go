package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.DataDir != "./data" || c.AdminUsername != "admin" || c.TokenTTL != 12*time.Hour ||
		c.BcryptCost != 10 || len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "*" {
		t.Fatalf("got %+v", c)
	}
}

func TestInvalidValuesAreAllReported(t *testing.T) {
	_, err := FromEnv(env(map[string]string{"JWT_SECRET": "short", "TOKEN_TTL": "soon", "BCRYPT_COST": "99", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml"}))
	if err == nil {
		t.Fatal("got nil error")
	}
	for _, name := range []string{"JWT_SECRET", "TOKEN_TTL", "BCRYPT_COST", "LOG_LEVEL", "LOG_FORMAT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestGeneratedSecretsPersist(t *testing.T) {
	dir := t.TempDir()
	c, _ := FromEnv(env(map[string]string{"DATA_DIR": dir}))
	s1, err := c.EnsureSecret()
	if err != nil || len(s1) < 32 {
		t.Fatalf("secret %q, %v", s1, err)
	}
	s2, _ := c.EnsureSecret()
	if string(s1) != string(s2) {
		t.Fatal("secret changed between calls")
	}
	pw, path, err := c.InitialAdminPassword()
	if err != nil || pw == "" || path != filepath.Join(dir, "initial-admin-password") {
		t.Fatalf("got %q %q %v", pw, path, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file mode: %v %v", fi.Mode(), err)
	}
	pw2, _, _ := c.InitialAdminPassword()
	if pw2 != pw {
		t.Fatal("initial password changed between calls")
	}
}
