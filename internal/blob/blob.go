// Package blob stores files (uploaded documents, attachments) by key: in
// a directory on the local disk by default, in an S3 bucket (or an
// S3-compatible server) when one is configured. The event log records a
// blob's key, size and hash; the bytes live here.
package blob

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is returned by Get for a key that holds no blob.
var ErrNotFound = errors.New("blob not found")

// ErrInvalidKey is returned for a key that is empty, too long, or not a
// clean relative path of letters, digits and "-_.=" segments split by
// "/".
var ErrInvalidKey = errors.New("invalid blob key")

// Info describes a stored blob.
type Info struct {
	Size        int64
	ContentType string
	Modified    time.Time
}

// Store keeps blobs by key. Put replaces a blob whole: a reader sees the
// old blob or the new, never part of one. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores size bytes read from r under key. A reader that ends
	// early or yields more than size bytes is an error, and nothing is
	// stored.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the blob under key; ErrNotFound when there is none. The
	// caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Delete removes the blob under key; a missing blob is no error.
	Delete(ctx context.Context, key string) error
}

// MaxKey is the longest key, in bytes (S3's limit is 1,024 with the
// prefix).
const MaxKey = 512

// ValidKey reports whether key is acceptable to every Store: segments of
// ASCII letters, digits, '-', '_', '.' and '=', split by single '/', none
// starting with '.' (no "..") nor ending in ".meta", so that a key never
// leaves the directory it is stored under, never names Dir's own files,
// and needs no escaping in a URL.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKey {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg[0] == '.' || strings.HasSuffix(seg, metaSuffix) {
			return false
		}
		for _, c := range []byte(seg) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '=':
			default:
				return false
			}
		}
	}
	return true
}

// metaSuffix ends the name of the file beside a Dir blob that holds its
// content type.
const metaSuffix = ".meta"

// exactly reads r and fails unless it yields exactly size bytes.
type exactly struct {
	r    io.Reader
	left int64
}

func (e *exactly) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if e.left < 0 {
		return n, errors.New("blob: reader yields more bytes than its size")
	}
	if err == io.EOF && e.left > 0 {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Presigner is a Store that can hand out a URL a client downloads a blob
// from directly (S3); the local directory cannot, and its blobs are
// streamed through the server instead.
type Presigner interface {
	PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, error)
}

// ContentDisposition is the Content-Disposition header that names a
// download filename: an ASCII fallback and the UTF-8 name (RFC 6266).
func ContentDisposition(filename string) string {
	ascii := make([]byte, 0, len(filename))
	for _, c := range []byte(filename) {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			c = '_'
		}
		ascii = append(ascii, c)
	}
	return `attachment; filename="` + string(ascii) + `"; filename*=UTF-8''` + url.PathEscape(filename)
}
