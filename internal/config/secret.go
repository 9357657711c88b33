package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// SecretIDVariable is the environment variable that names the AWS Secrets
// Manager secret the configuration is read from, under the environment.
const SecretIDVariable = "AWS_SECRETS_MANAGER_SECRET_ID"

// FetchSecret returns the SecretString of the secret named id. Its errors
// say what went wrong (no such secret, access denied, no answer) without
// the secret's content; LoadEnv adds the secret's name.
type FetchSecret func(ctx context.Context, id string) (string, error)

// Env is the environment the configuration is read from: the process's
// own variables over the keys of a secret. An empty variable counts as
// unset, so it does not hide the secret's value.
type Env struct {
	// SecretID names the secret, empty when none is configured.
	SecretID string
	getenv   func(string) string
	secret   map[string]string
}

// LoadEnv returns getenv's environment, laid over the keys of the secret
// that AWS_SECRETS_MANAGER_SECRET_ID names, fetched with fetch, when that
// variable is set. A secret that cannot be fetched or is not a flat JSON
// object of strings, numbers and booleans is an error that names the
// secret and the problem, never a value.
func LoadEnv(ctx context.Context, getenv func(string) string, fetch FetchSecret) (Env, error) {
	e := Env{SecretID: getenv(SecretIDVariable), getenv: getenv}
	if e.SecretID == "" {
		return e, nil
	}
	if fetch == nil {
		return e, fmt.Errorf("%s %q: no way to fetch secrets in this build", SecretIDVariable, e.SecretID)
	}
	s, err := fetch(ctx, e.SecretID)
	if err != nil {
		return e, fmt.Errorf("%s %q: %w", SecretIDVariable, e.SecretID, err)
	}
	if e.secret, err = ParseSecret(s); err != nil {
		return e, fmt.Errorf("%s %q: %w", SecretIDVariable, e.SecretID, err)
	}
	return e, nil
}

// ParseSecret reads a secret's string: one JSON object whose keys are
// variable names. Strings are taken as they are; numbers as written
// (8080, 0.5) and booleans as true or false, since a variable is text.
// Null, arrays and nested objects are refused, naming the key. Errors
// never quote the secret's text.
func ParseSecret(s string) (map[string]string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("the secret is not valid JSON (syntax error at byte %d); want an object such as {\"JWT_SECRET\": \"…\"}", syn.Offset)
		case errors.As(err, &typ), err == nil:
			return nil, errors.New("the secret is JSON but not an object; want an object of variable names to values, such as {\"JWT_SECRET\": \"…\"}")
		default:
			return nil, errors.New("the secret is not valid JSON; want an object such as {\"JWT_SECRET\": \"…\"}")
		}
	}
	if dec.More() {
		return nil, errors.New("the secret holds more than one JSON value; want one object")
	}
	out := make(map[string]string, len(raw))
	var errs []error
	for k, v := range raw {
		var val any
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		_ = d.Decode(&val) // raw came from a valid document
		switch x := val.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		case nil:
			errs = append(errs, fmt.Errorf("key %s is null; want a string, a number or a boolean (leave the key out to unset it)", k))
		default:
			errs = append(errs, fmt.Errorf("key %s is an array or an object; want a string, a number or a boolean", k))
		}
	}
	// Map order is random: sorted, the message is the same every time.
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return out, errors.Join(errs...)
}

// Getenv returns the variable name: the environment's value when it is
// set (not empty), else the secret's.
func (e Env) Getenv(name string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return e.secret[name]
}

// Sources says where each variable the configuration reads and that is
// set came from, by name only; it never holds a value.
type Sources struct {
	// SecretID names the secret, empty when none is configured.
	SecretID string
	// Secret lists the variables taken from the secret.
	Secret []string
	// Environment lists the variables taken from the environment.
	Environment []string
	// Overridden lists the variables both set, where the environment won
	// (they are in Environment too).
	Overridden []string
	// Unknown lists the secret's keys that the configuration does not
	// read: a typo, or a setting of another version; they are ignored.
	Unknown []string
}

// Sources reports where the set variables came from, sorted by name.
func (e Env) Sources() Sources {
	s := Sources{SecretID: e.SecretID}
	known := Variables()
	for _, name := range known {
		inEnv, inSecret := e.getenv(name) != "", e.secret[name] != ""
		_, hasKey := e.secret[name]
		switch {
		case inEnv:
			s.Environment = append(s.Environment, name)
			if hasKey {
				s.Overridden = append(s.Overridden, name)
			}
		case inSecret:
			s.Secret = append(s.Secret, name)
		}
	}
	for k := range e.secret {
		if !slices.Contains(known, k) {
			s.Unknown = append(s.Unknown, k)
		}
	}
	sort.Strings(s.Unknown)
	return s
}

// Variables returns the names of the environment variables that FromEnv
// reads, sorted.
func Variables() []string {
	variablesOnce.Do(func() {
		seen := map[string]bool{}
		_, _ = FromEnv(func(k string) string { seen[k] = true; return "" })
		for k := range seen {
			variables = append(variables, k)
		}
		sort.Strings(variables)
	})
	return slices.Clone(variables)
}

var (
	variablesOnce sync.Once
	variables     []string
)
