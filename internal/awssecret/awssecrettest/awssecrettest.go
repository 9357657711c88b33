// Package awssecrettest is a protocol test double of AWS Secrets Manager:
// an HTTP server that answers GetSecretValue in the service's wire
// protocol (AWS JSON 1.1: POST / with X-Amz-Target
// secretsmanager.GetSecretValue), enough for the real SDK client to talk
// to it through AWS_ENDPOINT_URL. It checks that a request is signed but
// not the signature, and knows no other operation.
package awssecrettest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server is a running double. Its fields may be changed between requests
// through the methods, which are safe for concurrent use.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	secrets  map[string]string
	denied   map[string]bool
	requests int
}

// NewServer starts a double that holds secrets (name → SecretString) and
// stops it when tb ends.
func NewServer(tb testing.TB, secrets map[string]string) *Server {
	tb.Helper()
	s := &Server{secrets: map[string]string{}, denied: map[string]bool{}}
	for k, v := range secrets {
		s.secrets[k] = v
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Put sets the string of the secret id.
func (s *Server) Put(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = secret
}

// Deny makes GetSecretValue of id answer AccessDeniedException.
func (s *Server) Deny(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[id] = true
}

// Requests returns how many GetSecretValue requests were answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(w, http.StatusNotFound, "UnknownOperationException", "POST / only")
		return
	}
	if t := r.Header.Get("X-Amz-Target"); t != "secretsmanager.GetSecretValue" {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "this double answers secretsmanager.GetSecretValue only, not "+t)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "Request is missing Authentication Token")
		return
	}
	var in struct{ SecretId string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretId == "" {
		fail(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	s.mu.Lock()
	s.requests++
	secret, ok := s.secrets[in.SecretId]
	denied := s.denied[in.SecretId]
	s.mu.Unlock()
	switch {
	case denied:
		fail(w, http.StatusBadRequest, "AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/test is not authorized to perform: secretsmanager:GetSecretValue on resource: "+in.SecretId)
		return
	case !ok:
		fail(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ARN":           "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + in.SecretId + "-AbCdEf",
		"Name":          in.SecretId,
		"SecretString":  secret,
		"VersionId":     "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
		"VersionStages": []string{"AWSCURRENT"},
		"CreatedDate":   1.523477145713e9,
	})
}

// fail answers an error the way the service does: status 400 and the
// error's type in __type.
func fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}
