// Package config reads agentdesk's settings from the environment, with
// defaults that run the server on the embedded stores with nothing to set.
//
// With AWS_SECRETS_MANAGER_SECRET_ID set, the keys of that secret (a JSON
// object) stand in for variables the environment leaves unset; see
// LoadEnv. The package fetches nothing itself: the caller passes the
// FetchSecret that talks to AWS.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the server's configuration.
type Config struct {
	// SecretID names the AWS Secrets Manager secret whose keys supply the
	// variables the environment leaves unset
	// (AWS_SECRETS_MANAGER_SECRET_ID); see LoadEnv.
	SecretID string
	// HTTPAddr is where the server listens (HTTP_ADDR).
	HTTPAddr string
	// DataDir holds the embedded stores and generated secrets (DATA_DIR).
	DataDir string
	// JWTSecret signs tokens (JWT_SECRET); generated and kept in the data
	// dir when unset.
	JWTSecret []byte
	// SecretsKey seals the credentials of agent integrations (SECRETS_KEY,
	// 32 bytes as 64 hex digits or in base64); generated and kept in the
	// data dir when unset. See EnsureSecretsKey.
	SecretsKey []byte
	// TokenTTL is how long a token is valid (TOKEN_TTL).
	TokenTTL time.Duration
	// AdminUsername and AdminPassword create the superadmin on first start
	// (ADMIN_USERNAME, ADMIN_PASSWORD).
	AdminUsername string
	AdminPassword string
	// CORSOrigins are the browser origins allowed to call the API
	// (CORS_ORIGINS, comma-separated; "*" allows any).
	CORSOrigins []string
	// LogLevel is debug, info, warn or error (LOG_LEVEL).
	LogLevel string
	// LogFormat is text or json (LOG_FORMAT).
	LogFormat string
	// BcryptCost is the password hashing work factor (BCRYPT_COST).
	BcryptCost int
	// SignInLimit is the failed sign-ins allowed per minute from one
	// client address, all usernames together (SIGN_IN_RATE_LIMIT);
	// SignInUserLimit for one username from all addresses together
	// (SIGN_IN_USER_RATE_LIMIT); SignInClientUserLimit for one username
	// from one address (SIGN_IN_CLIENT_USER_RATE_LIMIT). 0 disables a
	// limit. See readapi.SignInLimits.
	SignInLimit           int
	SignInUserLimit       int
	SignInClientUserLimit int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (TRUSTED_PROXIES, comma-separated IPs and CIDR prefixes);
	// empty: the header is ignored and the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// IdempotencyTTL is how long the response to a request sent with an
	// Idempotency-Key is remembered and replayed (IDEMPOTENCY_TTL).
	IdempotencyTTL time.Duration
	// EventStoreURL selects EventStoreDB (or KurrentDB) as the event store
	// (EVENTSTORE_URL, esdb://…); empty means the embedded SQLite store.
	EventStoreURL string
	// MongoURI selects MongoDB for the read models (MONGO_URI,
	// mongodb://… or mongodb+srv://…); empty means the embedded SQLite
	// store. MongoDatabase names the database (MONGO_DATABASE).
	MongoURI      string
	MongoDatabase string
	// ConnectTimeout bounds how long the start waits for an external store
	// to answer before it gives up (CONNECT_TIMEOUT).
	ConnectTimeout time.Duration
	// MaxConnections caps the HTTP connections open at once
	// (MAX_CONNECTIONS): past it new ones wait, so idle connections can
	// never exhaust the process's file descriptors.
	MaxConnections int
	// WriteWait bounds how long a write waits for its record to be
	// readable (WRITE_WAIT); past it the write answers 202 Accepted with
	// the record's Location.
	WriteWait time.Duration
	// QueryTimeout is the deadline of every read (QUERY_TIMEOUT); past it
	// the request answers 503.
	QueryTimeout time.Duration
	// EventsKeepAlive is how often an idle realtime event stream sends a
	// keep-alive comment (EVENTS_KEEPALIVE).
	EventsKeepAlive time.Duration
	// AdminDir is the directory of the built admin app served at /admin
	// (ADMIN_DIR).
	AdminDir string
	// CompanyMaxInFlight caps one company's requests in flight
	// (COMPANY_MAX_IN_FLIGHT; 0 disables): past it, 429.
	CompanyMaxInFlight int
	// QueryConcurrency is how many list queries run at once over every
	// company (QUERY_CONCURRENCY; 0, the default, means one more than the
	// CPUs); companies waiting for a turn are served in turn.
	QueryConcurrency int
	// CompanyMaxQueries caps one company's list queries running at once
	// (COMPANY_MAX_QUERIES; 0, the default, means one less than
	// QueryConcurrency, so a turn is always free for other companies).
	CompanyMaxQueries int
	// CompanyRateLimit caps one company's requests a second
	// (COMPANY_RATE_LIMIT; 0, the default, disables): past it, 429.
	CompanyRateLimit float64
	// DebugAddr, when set (DEBUG_ADDR), is a second listen address that
	// serves /debug/pprof/ and /metrics; keep it private (loopback or an
	// internal network): profiles expose the process's internals.
	DebugAddr string

	// NATSURL, when set (NATS_URL), carries the reactions' messages over
	// NATS JetStream instead of the in-process GoChannel, so that several
	// processes share them.
	NATSURL string
	// NATSGroup (NATS_GROUP, default agentdesk) names the durable
	// consumers: processes with the same group share the work.
	NATSGroup string
	// IntegrationTopic (INTEGRATION_TOPIC, default agentdesk_integration)
	// is where integration events are published on NATS (they are not
	// published without a broker).
	IntegrationTopic string
	// ReactionRetries (REACTION_RETRIES, default 5) is how many times a
	// failing reaction message is tried again before it is parked.
	ReactionRetries int
	// SyncInterval (SYNC_INTERVAL; 0, the default, disables) is how
	// often every integration of every active agent is synced into its
	// knowledge, at least a minute.
	SyncInterval time.Duration

	// ReadyMaxLag (READY_MAX_LAG, default 10s) is how long a projection
	// may stay behind a head of the log before /readyz answers 503.
	ReadyMaxLag time.Duration
	// ProjectionRetries (PROJECTION_RETRIES, default 5) is how many times
	// a failing projection batch is tried again, with backoff, before the
	// projection halts (or parks the event, see ProjectionSkipFailing).
	ProjectionRetries int
	// ProjectionSkipFailing (PROJECTION_SKIP_FAILING: names, comma
	// separated, or *) lists the projections that park an event that
	// keeps failing and go on, instead of halting.
	ProjectionSkipFailing []string
	// LeaseTTL (LEASE_TTL, default 15s) is how long the lease of the
	// process that runs the projections and reactions lasts unrenewed, on
	// shared stores: another process takes over within it when that one
	// dies.
	LeaseTTL time.Duration

	// OpenAIAPIKey (OPENAI_API_KEY) enables the OpenAI models of the LLM
	// endpoints; OpenAIBaseURL (OPENAI_BASE_URL) sends them to any
	// OpenAI-compatible server instead (vLLM, Ollama, llama.cpp), which
	// may need no key.
	OpenAIAPIKey  string
	OpenAIBaseURL string
	// AnthropicAPIKey (ANTHROPIC_API_KEY) enables the claude models,
	// through Anthropic's OpenAI-compatible endpoint at
	// AnthropicBaseURL (ANTHROPIC_BASE_URL, default
	// https://api.anthropic.com/v1/).
	AnthropicAPIKey  string
	AnthropicBaseURL string
	// LLMModel (LLM_MODEL, default gpt-4o-mini) is the model of a
	// request that names none; a name starting with "claude" goes to
	// Anthropic, any other to OpenAI.
	LLMModel string
	// LLMTimeout (LLM_TIMEOUT, default 60s) bounds one completion,
	// retries and streaming included.
	LLMTimeout time.Duration
	// LLMEmbeddingModel (LLM_EMBEDDING_MODEL, default empty: off) is the
	// embeddings model of OpenAI or of the server at OPENAI_BASE_URL that
	// the embeddings reaction turns knowledge chunks into vectors with.
	LLMEmbeddingModel string
	// LLMMonthlyTokenQuota (LLM_MONTHLY_TOKEN_QUOTA, default 0: no limit)
	// is the tokens a company may spend on the LLM in a UTC month unless
	// a superadmin set its own quota.
	LLMMonthlyTokenQuota int64

	// S3Bucket (AWS_S3_BUCKET), when set, keeps blobs (uploaded
	// documents) in that S3 bucket instead of DATA_DIR/blobs; S3Prefix
	// (AWS_S3_PREFIX) is put before every key, and S3PathStyle
	// (AWS_S3_PATH_STYLE) addresses the bucket in the URL's path, as
	// S3-compatible servers need. The SDK reads the region, credentials
	// and AWS_ENDPOINT_URL itself.
	S3Bucket    string
	S3Prefix    string
	S3PathStyle bool
}

// FromEnv reads the configuration from the environment through getenv.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		SecretID:      getenv(SecretIDVariable),
		HTTPAddr:      or(getenv("HTTP_ADDR"), "127.0.0.1:8080"),
		DataDir:       or(getenv("DATA_DIR"), "./data"),
		AdminUsername: or(getenv("ADMIN_USERNAME"), "admin"),
		AdminPassword: getenv("ADMIN_PASSWORD"),
		LogLevel:      or(getenv("LOG_LEVEL"), "info"),
		LogFormat:     or(getenv("LOG_FORMAT"), "text"),
		BcryptCost:    10,
		SignInLimit:   100,
		TokenTTL:      12 * time.Hour,
		EventStoreURL: getenv("EVENTSTORE_URL"),
		MongoURI:      getenv("MONGO_URI"),
		MongoDatabase: or(getenv("MONGO_DATABASE"), "agentdesk"),
		DebugAddr:     getenv("DEBUG_ADDR"),

		NATSURL:           getenv("NATS_URL"),
		NATSGroup:         or(getenv("NATS_GROUP"), "agentdesk"),
		IntegrationTopic:  or(getenv("INTEGRATION_TOPIC"), "agentdesk_integration"),
		ReactionRetries:   5,
		ReadyMaxLag:       10 * time.Second,
		ProjectionRetries: 5,
		LeaseTTL:          15 * time.Second,

		OpenAIAPIKey:      getenv("OPENAI_API_KEY"),
		OpenAIBaseURL:     getenv("OPENAI_BASE_URL"),
		AnthropicAPIKey:   getenv("ANTHROPIC_API_KEY"),
		AnthropicBaseURL:  or(getenv("ANTHROPIC_BASE_URL"), "https://api.anthropic.com/v1/"),
		LLMModel:          or(getenv("LLM_MODEL"), "gpt-4o-mini"),
		LLMTimeout:        60 * time.Second,
		LLMEmbeddingModel: getenv("LLM_EMBEDDING_MODEL"),

		S3Bucket: strings.TrimSpace(getenv("AWS_S3_BUCKET")),
		S3Prefix: strings.TrimSpace(getenv("AWS_S3_PREFIX")),

		SignInUserLimit:       20,
		SignInClientUserLimit: 5,

		IdempotencyTTL: 24 * time.Hour,
		ConnectTimeout: 10 * time.Second,
		MaxConnections: 4096,
		QueryTimeout:   5 * time.Second,

		EventsKeepAlive: 15 * time.Second,
		AdminDir:        or(getenv("ADMIN_DIR"), "./admin/dist"),
		WriteWait:       5 * time.Second,

		CompanyMaxInFlight: 256,
	}
	var errs []error
	if s := getenv("JWT_SECRET"); s != "" {
		c.JWTSecret = []byte(s)
		if len(c.JWTSecret) < 32 {
			errs = append(errs, errors.New("JWT_SECRET must be at least 32 bytes"))
		}
	}
	if s := getenv("SECRETS_KEY"); s != "" {
		k, err := parseSecretsKey(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("SECRETS_KEY: %w", err))
		}
		c.SecretsKey = k
	}
	if s := getenv("TOKEN_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute {
			errs = append(errs, fmt.Errorf("TOKEN_TTL %q: want a duration of at least 1m, such as 12h", s))
		}
		c.TokenTTL = d
	}
	if s := getenv("IDEMPOTENCY_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute {
			errs = append(errs, fmt.Errorf("IDEMPOTENCY_TTL %q: want a duration of at least 1m, such as 24h", s))
		}
		c.IdempotencyTTL = d
	}
	if s := getenv("CONNECT_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > 10*time.Minute {
			errs = append(errs, fmt.Errorf("CONNECT_TIMEOUT %q: want a duration from 1s to 10m, such as 10s", s))
		}
		c.ConnectTimeout = d
	}
	if s := c.EventStoreURL; s != "" && !strings.HasPrefix(s, "esdb://") && !strings.HasPrefix(s, "esdb+discover://") &&
		!strings.HasPrefix(s, "kurrentdb://") && !strings.HasPrefix(s, "kurrentdb+discover://") {
		errs = append(errs, errors.New("EVENTSTORE_URL: want an esdb:// or esdb+discover:// connection string"))
	}
	if s := c.MongoURI; s != "" && !strings.HasPrefix(s, "mongodb://") && !strings.HasPrefix(s, "mongodb+srv://") {
		errs = append(errs, errors.New("MONGO_URI: want a mongodb:// or mongodb+srv:// connection string"))
	}
	if !mongoDatabase.MatchString(c.MongoDatabase) {
		errs = append(errs, fmt.Errorf("MONGO_DATABASE %q: want 1 to 63 letters, digits, '_' or '-'", c.MongoDatabase))
	}
	if s := getenv("BCRYPT_COST"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 4 || n > 31 {
			errs = append(errs, fmt.Errorf("BCRYPT_COST %q: want an integer from 4 to 31", s))
		}
		c.BcryptCost = n
	}
	if s := getenv("MAX_CONNECTIONS"); s != "" {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n < 16 {
			errs = append(errs, fmt.Errorf("MAX_CONNECTIONS %q: want an integer of at least 16", s))
		}
		c.MaxConnections = n
	}
	if s := getenv("WRITE_WAIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 10*time.Millisecond || d > 10*time.Minute {
			errs = append(errs, fmt.Errorf("WRITE_WAIT %q: want a duration from 10ms to 10m, such as 5s", s))
		}
		c.WriteWait = d
	}
	if s := getenv("EVENTS_KEEPALIVE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
			errs = append(errs, fmt.Errorf("EVENTS_KEEPALIVE %q: want a duration from 100ms to 10m, such as 15s", s))
		}
		c.EventsKeepAlive = d
	}
	if s := getenv("QUERY_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
			errs = append(errs, fmt.Errorf("QUERY_TIMEOUT %q: want a duration from 100ms to 10m, such as 5s", s))
		}
		c.QueryTimeout = d
	}
	for _, v := range []struct {
		name string
		dst  *int
	}{{"COMPANY_MAX_IN_FLIGHT", &c.CompanyMaxInFlight}, {"QUERY_CONCURRENCY", &c.QueryConcurrency}, {"COMPANY_MAX_QUERIES", &c.CompanyMaxQueries}} {
		if s := getenv(v.name); s != "" {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s %q: want a non-negative integer (0: %s)", v.name, s,
					map[string]string{"COMPANY_MAX_IN_FLIGHT": "no cap", "QUERY_CONCURRENCY": "one more than the CPUs", "COMPANY_MAX_QUERIES": "one less than QUERY_CONCURRENCY"}[v.name]))
			}
			*v.dst = n
		}
	}
	if s := getenv("READY_MAX_LAG"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("READY_MAX_LAG %q: want a duration from 1s to 24h, such as 10s", s))
		}
		c.ReadyMaxLag = d
	}
	if s := getenv("LEASE_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > 10*time.Minute {
			errs = append(errs, fmt.Errorf("LEASE_TTL %q: want a duration from 1s to 10m, such as 15s", s))
		}
		c.LeaseTTL = d
	}
	if s := getenv("PROJECTION_RETRIES"); s != "" {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 100 {
			errs = append(errs, fmt.Errorf("PROJECTION_RETRIES %q: want an integer from 1 to 100", s))
		}
		c.ProjectionRetries = n
	}
	for _, v := range []struct{ name, value string }{{"OPENAI_BASE_URL", c.OpenAIBaseURL}, {"ANTHROPIC_BASE_URL", c.AnthropicBaseURL}} {
		if v.value == "" {
			continue
		}
		if u, err := url.Parse(v.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("%s %q: want an http:// or https:// base URL, such as http://127.0.0.1:11434/v1", v.name, v.value))
		}
	}
	if strings.TrimSpace(c.LLMModel) != c.LLMModel || strings.ContainsAny(c.LLMModel, " \t\r\n") {
		errs = append(errs, fmt.Errorf("LLM_MODEL %q: want a model name without spaces, such as gpt-4o-mini", c.LLMModel))
	}
	switch m := c.LLMEmbeddingModel; {
	case m == "":
	case strings.TrimSpace(m) != m || strings.ContainsAny(m, " \t\r\n"):
		errs = append(errs, fmt.Errorf("LLM_EMBEDDING_MODEL %q: want a model name without spaces, such as text-embedding-3-small", m))
	case strings.HasPrefix(m, "claude"):
		errs = append(errs, fmt.Errorf("LLM_EMBEDDING_MODEL %q: Anthropic has no embeddings API; name an OpenAI or OpenAI-compatible embeddings model, such as text-embedding-3-small", m))
	case c.OpenAIAPIKey == "" && c.OpenAIBaseURL == "":
		errs = append(errs, fmt.Errorf("LLM_EMBEDDING_MODEL %q needs OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (an OpenAI-compatible server)", m))
	}
	if s := getenv("LLM_MONTHLY_TOKEN_QUOTA"); s != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 || n > 1_000_000_000_000_000 {
			errs = append(errs, fmt.Errorf("LLM_MONTHLY_TOKEN_QUOTA %q: want a number of tokens such as 1000000, or 0 for no limit", s))
		}
		c.LLMMonthlyTokenQuota = n
	}
	if s := getenv("AWS_S3_PATH_STYLE"); s != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			errs = append(errs, fmt.Errorf("AWS_S3_PATH_STYLE %q: want true or false", s))
		}
		c.S3PathStyle = b
	}
	if c.S3Prefix != "" && c.S3Bucket == "" {
		errs = append(errs, errors.New("AWS_S3_PREFIX needs AWS_S3_BUCKET"))
	}
	if s := getenv("LLM_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > 30*time.Minute {
			errs = append(errs, fmt.Errorf("LLM_TIMEOUT %q: want a duration from 1s to 30m, such as 60s", s))
		}
		c.LLMTimeout = d
	}
	for _, name := range strings.Split(getenv("PROJECTION_SKIP_FAILING"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			c.ProjectionSkipFailing = append(c.ProjectionSkipFailing, name)
		}
	}
	if s := getenv("SYNC_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || (d != 0 && d < time.Minute) || d < 0 {
			errs = append(errs, fmt.Errorf("SYNC_INTERVAL %q: want a duration of at least 1m, such as 6h, or 0 for none", s))
		}
		c.SyncInterval = d
	}
	if s := getenv("REACTION_RETRIES"); s != "" {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 100 {
			errs = append(errs, fmt.Errorf("REACTION_RETRIES %q: want an integer from 1 to 100", s))
		}
		c.ReactionRetries = n
	}
	for _, v := range []struct{ name, value string }{{"NATS_GROUP", c.NATSGroup}, {"INTEGRATION_TOPIC", c.IntegrationTopic}} {
		for _, r := range v.value {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				errs = append(errs, fmt.Errorf("%s %q: want letters, digits, _ and - only (NATS names streams and consumers after it)", v.name, v.value))
				break
			}
		}
	}
	if s := getenv("COMPANY_RATE_LIMIT"); s != "" {
		var f float64
		if _, err := fmt.Sscan(s, &f); err != nil || f < 0 || f != f {
			errs = append(errs, fmt.Errorf("COMPANY_RATE_LIMIT %q: want requests a second, 0 or more (0 disables the limit)", s))
		}
		c.CompanyRateLimit = f
	}
	for _, v := range []struct {
		name string
		to   *int
	}{
		{"SIGN_IN_RATE_LIMIT", &c.SignInLimit},
		{"SIGN_IN_USER_RATE_LIMIT", &c.SignInUserLimit},
		{"SIGN_IN_CLIENT_USER_RATE_LIMIT", &c.SignInClientUserLimit},
	} {
		if s := getenv(v.name); s != "" {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s %q: want a non-negative integer (0 disables the limit)", v.name, s))
			}
			*v.to = n
		}
	}
	var err error
	if c.TrustedProxies, err = parseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		errs = append(errs, err)
	}
	if s := c.DebugAddr; s != "" {
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("DEBUG_ADDR %q: want host:port, such as 127.0.0.1:6060", s))
		} else if s == c.HTTPAddr && port != "0" {
			errs = append(errs, fmt.Errorf("DEBUG_ADDR %q: must differ from HTTP_ADDR", s))
		}
	}
	for _, o := range strings.Split(or(getenv("CORS_ORIGINS"), "*"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q: want text or json", c.LogFormat))
	}
	return c, errors.Join(errs...)
}

var mongoDatabase = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// parseTrustedProxies reads TRUSTED_PROXIES: IP addresses (a /32 or /128)
// and CIDR prefixes, comma-separated. Every bad entry is named.
func parseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			if err != nil || p.Addr().Zone() != "" {
				errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR prefix such as 10.0.0.0/8 or fd00::/8", entry))
				continue
			}
			// A v4-mapped prefix (::ffff:10.0.0.0/104) would never match:
			// peers are compared in their plain IPv4 form.
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(entry)
		if err != nil || a.Zone() != "" {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %q is not an IP address or a CIDR prefix (such as 10.0.0.5 or 10.0.0.0/8)", entry))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// EnsureSecret returns c.JWTSecret, or the secret kept in the data dir,
// creating it (32 random bytes, mode 0600) the first time.
func (c Config) EnsureSecret() ([]byte, error) {
	if len(c.JWTSecret) > 0 {
		return c.JWTSecret, nil
	}
	path := filepath.Join(c.DataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("%s: secret too short; delete it to generate a new one", path)
		}
		return []byte(s), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	if err := writeNew(path, secret); err != nil {
		return nil, err
	}
	return []byte(secret), nil
}

// SecretsKeySize is the size of the key that seals credentials (AES-256).
const SecretsKeySize = 32

// EnsureSecretsKey returns c.SecretsKey, or the key kept in
// DATA_DIR/secrets-key, creating it (32 random bytes in hex, mode 0600)
// the first time. Unlike the JWT secret, this key cannot be replaced
// without loss: the credentials sealed with it can only be opened with
// it, so the file must be backed up with the event log, and it is never
// overwritten (two servers starting at once on one data dir agree on the
// first key written).
func (c Config) EnsureSecretsKey() ([]byte, error) {
	if len(c.SecretsKey) > 0 {
		if len(c.SecretsKey) != SecretsKeySize {
			return nil, fmt.Errorf("SECRETS_KEY: want %d bytes, got %d", SecretsKeySize, len(c.SecretsKey))
		}
		return c.SecretsKey, nil
	}
	path := filepath.Join(c.DataDir, "secrets-key")
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			k, err := parseSecretsKey(strings.TrimSpace(string(b)))
			if err != nil {
				return nil, fmt.Errorf("%s: %w; restore it from a backup (the credentials sealed with it cannot be opened without it), "+
					"or delete it to generate a new key and enter the integration credentials again", path, err)
			}
			return k, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		key, err := randomHex(SecretsKeySize)
		if err != nil {
			return nil, err
		}
		switch err := writeOnce(path, key); {
		case err == nil:
			return hex.DecodeString(key)
		case errors.Is(err, os.ErrExist):
			// Another process wrote it first: use that one.
		default:
			return nil, err
		}
	}
}

// parseSecretsKey decodes a key given as 64 hex digits or in base64
// (standard or URL alphabet, padded or not). Errors never quote the value.
func parseSecretsKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*SecretsKeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != SecretsKeySize {
				return nil, fmt.Errorf("want %d bytes, got %d (generate one with: openssl rand -base64 32)", SecretsKeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("want %d bytes as 64 hex digits or in base64 (generate one with: openssl rand -base64 32)", SecretsKeySize)
}

// writeOnce writes a secret file durably and only if it does not exist:
// a temporary file, fsync, then a hard link to path, which fails with
// os.ErrExist when path is there already.
func writeOnce(path, content string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(content + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// InitialAdminPassword returns c.AdminPassword or, when unset, a random
// password written to DATA_DIR/initial-admin-password (mode 0600), whose
// path it also returns.
func (c Config) InitialAdminPassword() (password, path string, err error) {
	if c.AdminPassword != "" {
		return c.AdminPassword, "", nil
	}
	path = filepath.Join(c.DataDir, "initial-admin-password")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), path, nil
	}
	pw, err := randomHex(12)
	if err != nil {
		return "", "", err
	}
	if err := writeNew(path, pw); err != nil {
		return "", "", err
	}
	return pw, path, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeNew writes a secret file durably: temp file, fsync, rename.
func writeNew(path, content string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
