package web

import (
	"errors"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// textBody has a field of each kind the text rule distinguishes.
type textBody struct {
	Title        *string   `json:"title"`
	Description  *string   `json:"description"`
	Password     *string   `json:"password"`
	Tags         *[]string `json:"tags"`
	Integrations []struct {
		Credential *string `json:"credential"`
	} `json:"integrations"`
	Status *string `json:"status"`
}

func TestDecodeBodyText(t *testing.T) {
	for _, c := range []struct {
		name, body string
		status     int               // 0: accepted
		fields     map[string]string // the expected errors, for a 422
	}{
		{name: "plain text", body: `{"title":"Printer on fire 🔥","description":"Où?\nÀ l'étage\r\n\tvite","tags":["é","日本"]}`},
		{name: "a literal replacement character", body: `{"title":"� and \ufffd are text"}`},
		{name: "line and paragraph separators", body: `{"title":"a\u2028b\u2029c"}`},
		{name: "a surrogate pair", body: `{"title":"\ud83d\ude00"}`},
		{name: "an escaped backslash before u", body: `{"title":"C:\\ud800\\users"}`},
		{name: "ANSI escape sequence", body: `{"title":"\u001b[31mred"}`, status: 422,
			fields: map[string]string{"title": "must not contain control characters (U+001B at character 1)"}},
		{name: "NUL", body: `{"title":"a\u0000"}`, status: 422,
			fields: map[string]string{"title": "must not contain control characters (U+0000 at character 2)"}},
		{name: "NUL in a multi-line field", body: `{"description":"x\u0000"}`, status: 422,
			fields: map[string]string{"description": "must not contain control characters (U+0000 at character 2)"}},
		{name: "BEL in a multi-line field", body: `{"description":"ding\u0007"}`, status: 422,
			fields: map[string]string{"description": "must not contain control characters (U+0007 at character 5)"}},
		{name: "DEL", body: `{"description":"\u007f"}`, status: 422,
			fields: map[string]string{"description": "must not contain control characters (U+007F at character 1)"}},
		{name: "C1 CSI", body: `{"title":"\u009b31m"}`, status: 422,
			fields: map[string]string{"title": "must not contain control characters (U+009B at character 1)"}},
		{name: "raw C1 CSI", body: "{\"title\":\"\u009b31m\"}", status: 422,
			fields: map[string]string{"title": "must not contain control characters (U+009B at character 1)"}},
		{name: "newline in a single-line field", body: `{"title":"one\ntwo"}`, status: 422,
			fields: map[string]string{"title": "must be a single line: no line breaks or tabs (U+000A at character 4)"}},
		{name: "tab in a password", body: `{"password":"pass\tword"}`, status: 422,
			fields: map[string]string{"password": "must be a single line: no line breaks or tabs (U+0009 at character 5)"}},
		{name: "raw ESC", body: "{\"title\":\"ab\x1b[0m\"}", status: 422,
			fields: map[string]string{"title": "must not contain control characters (U+001B at character 3)"}},
		{name: "raw newline in a single-line field", body: "{\"title\":\"é\nb\"}", status: 422,
			fields: map[string]string{"title": "must be a single line: no line breaks or tabs (U+000A at character 2)"}},
		{name: "raw tab in a multi-line field is malformed JSON", body: "{\"description\":\"a\tb\"}", status: 400},
		{name: "invalid UTF-8", body: "{\"title\":\"caf\xe9\"}", status: 422,
			fields: map[string]string{"title": "must be valid UTF-8 text"}},
		{name: "an overlong encoding", body: "{\"description\":\"\xc0\xaf\"}", status: 422,
			fields: map[string]string{"description": "must be valid UTF-8 text"}},
		{name: "an unpaired high surrogate", body: `{"title":"a\ud800b"}`, status: 422,
			fields: map[string]string{"title": `must be valid Unicode text: \ud800 is half of a surrogate pair`}},
		{name: "an unpaired low surrogate", body: `{"title":"\udc00"}`, status: 422,
			fields: map[string]string{"title": `must be valid Unicode text: \udc00 is half of a surrogate pair`}},
		{name: "two high surrogates", body: `{"title":"\ud800\ud800"}`, status: 422,
			fields: map[string]string{"title": `must be valid Unicode text: \ud800 is half of a surrogate pair`}},
		{name: "a tag", body: `{"tags":["ok","b\u001b"]}`, status: 422,
			fields: map[string]string{"tags": "item 2 must not contain control characters (U+001B at character 2)"}},
		{name: "a raw control character in a tag", body: "{\"tags\":[\"ok\",\"b\x07\"]}", status: 422,
			fields: map[string]string{"tags": "item 2 must not contain control characters (U+0007 at character 2)"}},
		{name: "a nested field", body: `{"integrations":[{"credential":"ok"},{"credential":"x\u0000"}]}`, status: 422,
			fields: map[string]string{"integrations.1.credential": "must not contain control characters (U+0000 at character 2)"}},
		{name: "every field at once", body: `{"title":"\u0001","status":"open\u0000","description":"fine\n"}`, status: 422,
			fields: map[string]string{
				"title":  "must not contain control characters (U+0001 at character 1)",
				"status": "must not contain control characters (U+0000 at character 5)",
			}},
		{name: "a raw control character under an empty key", body: "{\"\":\"\x1a\xea0", status: 400},
		{name: "a raw control character in a list at the top", body: "[\"\x1b\"]", status: 400},
		{name: "a stray brace after the object", body: `{"title":"a"}}`, status: 400},
		{name: "a stray bracket after the object", body: "{} ]", status: 400},
		{name: "a second object", body: `{"title":"a"} {"title":"b"}`, status: 400},
		{name: "spaces after the object", body: "{\"title\":\"a\"} \r\n\t", status: 0},
		{name: "NUL in a key is an unknown field", body: `{"ti\u0000tle":"x"}`, status: 400},
		{name: "an unknown field wins over its text", body: `{"title":"ok","nope":"\u001b"}`, status: 400},
		{name: "a key folded by Unicode", body: `{"ſtatus":"open"}`, status: 400},
		{name: "a key in another case", body: `{"Title":"x"}`, status: 400},
		{name: "a key given twice", body: `{"title":"a","title":"b"}`, status: 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v textBody
			err := decodeBody([]byte(c.body), &v)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("got %v, want the body accepted", err)
				}
				return
			}
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *requestError with status %d", err, c.status)
			}
			if re.status != c.status {
				t.Fatalf("got status %d (%v), want %d", re.status, err, c.status)
			}
			if c.fields != nil && !maps.Equal(re.fields, c.fields) {
				t.Fatalf("got fields %q, want %q", re.fields, c.fields)
			}
		})
	}
}

func TestTextProblem(t *testing.T) {
	for r := rune(0); r < 0x200; r++ {
		control := r < 0x20 || r >= 0x7f && r <= 0x9f
		lineBreak := r == '\t' || r == '\n' || r == '\r'
		s := "a" + string(r)
		if got := textProblem(s, true) != ""; got != (control && !lineBreak) {
			t.Errorf("multi-line %U: got refused=%v, want %v", r, got, control && !lineBreak)
		}
		if got := textProblem(s, false) != ""; got != control {
			t.Errorf("single-line %U: got refused=%v, want %v", r, got, control)
		}
	}
}

// The message of a 422 names every field, in a stable order.
func TestDecodeBodyTextMessage(t *testing.T) {
	err := decodeBody([]byte(`{"title":"\u0001","description":"\u0002","password":"\u0003"}`), &textBody{})
	if got, want := err.Error(), "invalid text in description, password, title"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	var re *requestError
	if !errors.As(err, &re) || re.HTTPStatus() != http.StatusUnprocessableEntity {
		t.Fatalf("got %v, want a 422", err)
	}
	if strings.Contains(err.Error(), "\x01") {
		t.Fatalf("the message %q repeats the control character", err)
	}
}

// A body nested as deep as encoding/json allows, with a bad string at
// every level, costs no path per level: paths are built for the fields
// reported only, and those are capped.
func TestDecodeBodyDeepNesting(t *testing.T) {
	const depth = 9000
	var b strings.Builder
	b.WriteString(`{"tags":`)
	for range depth {
		b.WriteString(`["\u0001",`)
	}
	b.WriteString(`"x"`)
	b.WriteString(strings.Repeat("]", depth))
	b.WriteString(`}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := scanBody([]byte(b.String()))
	runtime.ReadMemStats(&after)
	if len(s.text) != maxTextProblems {
		t.Fatalf("got %d fields, want %d", len(s.text), maxTextProblems)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
		t.Fatalf("scanning %d bytes allocated %d MiB, want less than 32", b.Len(), got>>20)
	}
	if _, ok := s.text["tags.1.1"]; !ok {
		t.Fatalf("got fields %v, want tags.1.1 among them", slices.Sorted(maps.Keys(s.text)))
	}
}
