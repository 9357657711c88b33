package blob_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"agentdesk/internal/blob"
	"agentdesk/internal/blob/blobtest"
)

func TestDir(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

func TestS3(t *testing.T) {
	f := blobtest.NewFakeS3(t)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// Each store its own prefix of the one bucket: a fresh empty store.
		s, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: f.Bucket, Prefix: fmt.Sprintf("run%d", n.Add(1)), Client: f.Client})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestS3Presign(t *testing.T) {
	f := blobtest.NewFakeS3(t)
	s, err := blob.NewS3(context.Background(), blob.S3Config{Bucket: f.Bucket, Prefix: "p/", Client: f.Client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "doc/guide.md", strings.NewReader("hello"), 5, "text/markdown"); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet(ctx, "doc/guide.md", "Guide é.md", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, f.URL+"/"+f.Bucket+"/p/doc/guide.md?") {
		t.Fatalf("got URL %s, want one for the bucket's key under the prefix", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "hello" {
		t.Fatalf("GET presigned: got %d %q, want 200 hello", resp.StatusCode, b)
	}
}

func TestS3ConfigValidate(t *testing.T) {
	if err := (blob.S3Config{}).Validate(); err == nil {
		t.Fatal("no bucket: got no error")
	}
	if err := (blob.S3Config{Bucket: "b", Prefix: "../x"}).Validate(); err == nil {
		t.Fatal("prefix ../x: got no error")
	}
}

func TestContentDisposition(t *testing.T) {
	got := blob.ContentDisposition(`a"b é.pdf`)
	want := `attachment; filename="a_b __.pdf"; filename*=UTF-8''a%22b%20%C3%A9.pdf`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
