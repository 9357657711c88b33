package reqbody_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"agentdesk/internal/reqbody"
)

func TestRead(t *testing.T) {
	for _, c := range []struct {
		name          string
		body          string
		contentLength int64 // -1: unknown
		want          int   // 0: read
	}{
		{"within the limit", "12345678", 8, 0},
		{"at the limit, length unknown", "1234567890", -1, 0},
		{"over the limit, length unknown", "12345678901", -1, http.StatusRequestEntityTooLarge},
		{"over the limit by its Content-Length, body short", "1", 1 << 40, http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
			r.ContentLength = c.contentLength
			got, err := reqbody.Read(httptest.NewRecorder(), r, 10)
			var re *reqbody.Error
			switch {
			case c.want == 0 && (err != nil || string(got) != c.body):
				t.Fatalf("Read = %q, %v; want %q", got, err, c.body)
			case c.want != 0 && (!errors.As(err, &re) || re.HTTPStatus() != c.want):
				t.Fatalf("Read error %v; want one with status %d", err, c.want)
			}
		})
	}
}
