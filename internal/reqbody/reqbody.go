// Package reqbody reads HTTP request bodies under a size limit.
package reqbody

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Error is a body that could not be read: too large (413) or cut short
// (400). It carries its HTTP status for the API's error mapping.
type Error struct {
	Status int
	Msg    string
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// HTTPStatus is the status to answer.
func (e *Error) HTTPStatus() int { return e.Status }

// Read reads r's body, at most limit bytes: a longer one is an *Error
// with 413, refused before anything is read when its Content-Length says
// so (a client that declares more than it sends would otherwise hold the
// connection until the read timeout, then get a 400). A body that cannot
// be read is an *Error with 400.
func Read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooBig := &Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the body must be at most %d bytes", limit)}
	if r.ContentLength > limit {
		return nil, tooBig
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooBig
		}
		return nil, &Error{Status: http.StatusBadRequest, Msg: "cannot read the body"}
	}
	return body, nil
}
