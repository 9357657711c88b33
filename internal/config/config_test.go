package config

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
		c.BcryptCost != 10 || len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "*" || c.DebugAddr != "" {
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

func TestDebugAddr(t *testing.T) {
	cases := []struct {
		name, addr, httpAddr, want string // want: a substring of the error, "" for valid
	}{
		{"loopback", "127.0.0.1:6060", "", ""},
		{"any interface", ":6060", "", ""},
		{"no port", "127.0.0.1", "", "want host:port"},
		{"empty port", "127.0.0.1:", "", "want host:port"},
		{"the API's address", "127.0.0.1:8080", "", "must differ from HTTP_ADDR"},
		{"any free port, as the API's may be", "127.0.0.1:0", "127.0.0.1:0", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := FromEnv(env(map[string]string{"DEBUG_ADDR": c.addr, "HTTP_ADDR": c.httpAddr}))
			switch {
			case c.want == "" && (err != nil || cfg.DebugAddr != c.addr):
				t.Fatalf("got %q, %v; want %q accepted", cfg.DebugAddr, err, c.addr)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), "DEBUG_ADDR") || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error naming DEBUG_ADDR with %q", err, c.want)
			}
		})
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

func TestSecretsKeyFromEnv(t *testing.T) {
	want := []byte("0123456789abcdef0123456789ABCDEF")
	for name, v := range map[string]string{
		"hex":            hex.EncodeToString(want),
		"hex upper":      strings.ToUpper(hex.EncodeToString(want)),
		"base64":         base64.StdEncoding.EncodeToString(want),
		"base64 raw":     base64.RawStdEncoding.EncodeToString(want),
		"base64url":      base64.URLEncoding.EncodeToString(want),
		"base64url raw":  base64.RawURLEncoding.EncodeToString(want),
		"spaces trimmed": " " + hex.EncodeToString(want) + "\n",
	} {
		c, err := FromEnv(env(map[string]string{"SECRETS_KEY": v}))
		if err != nil || string(c.SecretsKey) != string(want) {
			t.Errorf("%s: got key %x, %v; want %x", name, c.SecretsKey, err, want)
			continue
		}
		k, err := c.EnsureSecretsKey()
		if err != nil || string(k) != string(want) {
			t.Errorf("%s: EnsureSecretsKey got %x, %v", name, k, err)
		}
	}
}

func TestBadSecretsKeysAreRefused(t *testing.T) {
	for name, v := range map[string]string{
		"too short hex":    hex.EncodeToString(make([]byte, 16)),
		"too long base64":  base64.StdEncoding.EncodeToString([]byte(strings.Repeat("key!", 12))),
		"not hex nor b64":  "this is not a key, it is a sentence!",
		"a plain password": "correct horse battery staple",
		"64 non-hex chars": strings.Repeat("z", 64) + "!",
	} {
		_, err := FromEnv(env(map[string]string{"SECRETS_KEY": v}))
		if err == nil || !strings.Contains(err.Error(), "SECRETS_KEY") || !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("%s: got %v, want an error naming SECRETS_KEY and 32 bytes", name, err)
			continue
		}
		if strings.Contains(err.Error(), v) {
			t.Errorf("%s: error %q quotes the key", name, err)
		}
	}
}

func TestGeneratedSecretsKeyPersists(t *testing.T) {
	dir := t.TempDir()
	c, _ := FromEnv(env(map[string]string{"DATA_DIR": dir}))
	k1, err := c.EnsureSecretsKey()
	if err != nil || len(k1) != SecretsKeySize {
		t.Fatalf("key %x, %v; want %d bytes", k1, err, SecretsKeySize)
	}
	path := filepath.Join(dir, "secrets-key")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v; want mode 0600", fi, err)
	}
	k2, _ := c.EnsureSecretsKey()
	if string(k1) != string(k2) {
		t.Fatal("key changed between calls")
	}
	if secret, _ := c.EnsureSecret(); string(secret) == hex.EncodeToString(k1) {
		t.Fatal("the JWT secret and the secrets key are the same")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
	// A damaged key file is an error that says what is at stake, never
	// silently replaced.
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureSecretsKey(); err == nil || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("damaged key file: got %v, want an error that mentions restoring a backup", err)
	}
}

func TestSecretsKeyWrittenOnceUnderRace(t *testing.T) {
	dir := t.TempDir()
	c, _ := FromEnv(env(map[string]string{"DATA_DIR": dir}))
	keys := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := c.EnsureSecretsKey()
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if string(k) != string(keys[0]) {
			t.Fatalf("concurrent first starts got different keys %x and %x", keys[0], k)
		}
	}
}

func TestSignInLimits(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SignInLimit != 100 || c.SignInUserLimit != 20 || c.SignInClientUserLimit != 5 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: got %d, %d, %d, %v, want 100, 20, 5 and no trusted proxy",
			c.SignInLimit, c.SignInUserLimit, c.SignInClientUserLimit, c.TrustedProxies)
	}
	c, err = FromEnv(env(map[string]string{"SIGN_IN_RATE_LIMIT": "0", "SIGN_IN_USER_RATE_LIMIT": " 7 ", "SIGN_IN_CLIENT_USER_RATE_LIMIT": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SignInLimit != 0 || c.SignInUserLimit != 7 || c.SignInClientUserLimit != 3 {
		t.Fatalf("got %d, %d, %d, want 0, 7, 3", c.SignInLimit, c.SignInUserLimit, c.SignInClientUserLimit)
	}
	_, err = FromEnv(env(map[string]string{"SIGN_IN_RATE_LIMIT": "30abc", "SIGN_IN_USER_RATE_LIMIT": "-1", "SIGN_IN_CLIENT_USER_RATE_LIMIT": "many"}))
	for _, name := range []string{`SIGN_IN_RATE_LIMIT "30abc"`, `SIGN_IN_USER_RATE_LIMIT "-1"`, `SIGN_IN_CLIENT_USER_RATE_LIMIT "many"`} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("got %v, want an error naming %s", err, name)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7,::1 ,fd00::/8,10.1.2.3/16,::ffff:172.16.0.0/108,::ffff:127.0.0.2,"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128", "fd00::/8", "10.1.0.0/16", "172.16.0.0/12", "127.0.0.2/32"}
	got := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		got[i] = p.String()
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}

	_, err = FromEnv(env(map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.300,proxy.example.com,10.0.0.0/33,fe80::1%eth0,10.0.0.1/"}))
	if err == nil {
		t.Fatal("got nil, want an error naming every bad entry")
	}
	for _, bad := range []string{`"10.0.0.300"`, `"proxy.example.com"`, `"10.0.0.0/33"`, `"fe80::1%eth0"`, `"10.0.0.1/"`} {
		if !strings.Contains(err.Error(), "TRUSTED_PROXIES: "+bad) {
			t.Errorf("error %q does not name %s", err, bad)
		}
	}
	if strings.Contains(err.Error(), `"10.0.0.0/8"`) {
		t.Errorf("error %q names a good entry", err)
	}
}

func TestLLMSettings(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.LLMModel != "gpt-4o-mini" || c.LLMTimeout != 60*time.Second || c.AnthropicBaseURL != "https://api.anthropic.com/v1/" ||
		c.OpenAIAPIKey != "" || c.OpenAIBaseURL != "" || c.AnthropicAPIKey != "" || c.LLMMonthlyTokenQuota != 0 {
		t.Fatalf("defaults: got %+v", c)
	}
	c, err = FromEnv(env(map[string]string{"OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
		"ANTHROPIC_API_KEY": "sk-a", "ANTHROPIC_BASE_URL": "https://proxy.example/v1/", "LLM_MODEL": "claude-haiku-4-5", "LLM_TIMEOUT": "2m",
		"LLM_MONTHLY_TOKEN_QUOTA": "1000000"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OpenAIAPIKey != "sk-o" || c.OpenAIBaseURL != "http://127.0.0.1:11434/v1" || c.AnthropicAPIKey != "sk-a" ||
		c.AnthropicBaseURL != "https://proxy.example/v1/" || c.LLMModel != "claude-haiku-4-5" || c.LLMTimeout != 2*time.Minute ||
		c.LLMMonthlyTokenQuota != 1000000 {
		t.Fatalf("got %+v", c)
	}
	_, err = FromEnv(env(map[string]string{"OPENAI_BASE_URL": "localhost:11434", "ANTHROPIC_BASE_URL": "ftp://x/", "LLM_MODEL": "gpt 4", "LLM_TIMEOUT": "0s",
		"LLM_MONTHLY_TOKEN_QUOTA": "-5"}))
	for _, name := range []string{"OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "LLM_MODEL", "LLM_TIMEOUT", "LLM_MONTHLY_TOKEN_QUOTA"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

func TestLLMEmbeddingModel(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil || c.LLMEmbeddingModel != "" {
		t.Fatalf("default: got %q, %v, want off", c.LLMEmbeddingModel, err)
	}
	c, err = FromEnv(env(map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "LLM_EMBEDDING_MODEL": "nomic-embed-text"}))
	if err != nil || c.LLMEmbeddingModel != "nomic-embed-text" {
		t.Fatalf("got %q, %v", c.LLMEmbeddingModel, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OPENAI_API_KEY": "sk", "LLM_EMBEDDING_MODEL": "text embedding"}, "without spaces"},
		{map[string]string{"OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "sk", "LLM_EMBEDDING_MODEL": "claude-haiku-4-5"}, "Anthropic has no embeddings API"},
		{map[string]string{"ANTHROPIC_API_KEY": "sk", "LLM_EMBEDDING_MODEL": "text-embedding-3-small"}, "needs OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL"},
	} {
		_, err := FromEnv(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), "LLM_EMBEDDING_MODEL") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming LLM_EMBEDDING_MODEL: %s", tc.env, err, tc.want)
		}
	}
}
