// Package blobtest is the acceptance suite every blob.Store passes, and
// an in-process S3 server (gofakes3) to run the S3 store against through
// the real SDK.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"agentdesk/internal/blob"
)

// Run runs the acceptance suite against the stores newStore returns, a
// fresh empty one for each call.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Run("PutGet", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		body := []byte("# Guide\n\nReturns within 30 days.\n")
		if err := s.Put(ctx, "c1/doc/abc.md", bytes.NewReader(body), int64(len(body)), "text/markdown"); err != nil {
			t.Fatalf("put: %v", err)
		}
		got, info := mustGet(t, s, "c1/doc/abc.md")
		if !bytes.Equal(got, body) {
			t.Fatalf("got %q, want %q", got, body)
		}
		if info.Size != int64(len(body)) || info.ContentType != "text/markdown" {
			t.Fatalf("got info %+v, want size %d and text/markdown", info, len(body))
		}
	})
	t.Run("StreamNotSeekable", func(t *testing.T) {
		s := newStore(t)
		body := strings.Repeat("paragraph\n", 10000)
		r := io.MultiReader(strings.NewReader(body[:5]), strings.NewReader(body[5:]))
		if err := s.Put(context.Background(), "k", r, int64(len(body)), "text/plain"); err != nil {
			t.Fatalf("put: %v", err)
		}
		if got, _ := mustGet(t, s, "k"); string(got) != body {
			t.Fatalf("got %d bytes, want %d", len(got), len(body))
		}
	})
	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		for _, v := range []string{"first", "second, longer"} {
			if err := s.Put(ctx, "k", strings.NewReader(v), int64(len(v)), "text/plain"); err != nil {
				t.Fatalf("put %q: %v", v, err)
			}
		}
		if got, _ := mustGet(t, s, "k"); string(got) != "second, longer" {
			t.Fatalf("got %q, want the second version", got)
		}
	})
	t.Run("ShortReaderStoresNothing", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(context.Background(), "short", io.MultiReader(strings.NewReader("abc")), 10, "text/plain"); err == nil {
			t.Fatal("put of 3 bytes announced as 10: got no error")
		}
		if _, _, err := s.Get(context.Background(), "short"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("get after a failed put: got %v, want ErrNotFound", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, _, err := s.Get(context.Background(), "missing/key"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		if err := s.Put(ctx, "a/b", strings.NewReader("x"), 1, "text/plain"); err != nil {
			t.Fatal(err)
		}
		for i := range 2 { // the second delete finds nothing, and is fine
			if err := s.Delete(ctx, "a/b"); err != nil {
				t.Fatalf("delete %d: %v", i+1, err)
			}
		}
		if _, _, err := s.Get(ctx, "a/b"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("get after delete: got %v, want ErrNotFound", err)
		}
	})
	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		for _, k := range []string{"", "../escape", "a/../../b", "/abs", "a//b", "a/", ".hidden", "sp ace", "x.meta", strings.Repeat("k", blob.MaxKey+1)} {
			if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("put %q: got %v, want ErrInvalidKey", k, err)
			}
			if _, _, err := s.Get(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("get %q: got %v, want ErrInvalidKey", k, err)
			}
			if err := s.Delete(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("delete %q: got %v, want ErrInvalidKey", k, err)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := strings.Repeat(string(rune('a'+i)), 4096)
				if err := s.Put(ctx, "shared", strings.NewReader(v), int64(len(v)), "text/plain"); err != nil {
					t.Errorf("put: %v", err)
				}
			}()
		}
		wg.Wait()
		got, _ := mustGet(t, s, "shared")
		if len(got) != 4096 || strings.Count(string(got), string(got[:1])) != 4096 {
			t.Fatalf("got a blob mixed of several writes (%d bytes)", len(got))
		}
	})
}

func mustGet(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b, info
}

// FakeS3 is an in-process S3 server (gofakes3, in memory) on an
// httptest server: a protocol test double, not S3. Bucket exists.
type FakeS3 struct {
	URL    string
	Bucket string
	Client *s3.Client
}

// NewFakeS3 starts a FakeS3 with one bucket, stopped when tb ends.
func NewFakeS3(tb testing.TB) *FakeS3 {
	tb.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithTimeSkewLimit(time.Hour))
	srv := httptest.NewServer(faker.Server())
	tb.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(srv.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:                 &http.Client{Timeout: 30 * time.Second},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	f := &FakeS3{URL: srv.URL, Bucket: "agentdesk-test", Client: client}
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &f.Bucket}); err != nil {
		tb.Fatalf("fake s3: create bucket: %v", err)
	}
	return f
}
