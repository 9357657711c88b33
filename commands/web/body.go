package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Request bodies are decoded strictly, in two steps: one pass over the
// body's tokens (scanBody) refuses what encoding/json would let through
// silently, then encoding/json fills the body's type with unknown
// fields refused.
//
// The text rule lives here, not in the domain, because this is the one
// place every command body passes through, and the only one that sees
// what the client sent: encoding/json turns invalid UTF-8 into U+FFFD
// while decoding, and passwords and integration credentials are hashed
// or sealed before any command or aggregate sees them. It applies to
// every string of a body, nested ones and ignored read-only fields
// included, so a field added later is covered without a line here.

// multiLine names the fields whose text may span lines: tab, line feed
// and carriage return are allowed in them. Every other field is a single
// line, so a new field is strict until it is listed here on purpose.
var multiLine = map[string]bool{
	"description":   true, // tickets, agents, campaigns
	"system_prompt": true, // agents
	"body":          true, // comments, campaign content
	"content":       true, // knowledge chunks
}

// decodeBody reads body strictly into v: one JSON object, keys in lower
// case and each given once, no unknown fields, types as declared, and
// text that is valid UTF-8 without control characters. Errors are
// *requestError: 400 for what is not a well-formed body of v's shape,
// 422 (naming the fields) for text that breaks the text rule.
func decodeBody(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return &requestError{status: http.StatusBadRequest, msg: "a JSON body is required"}
	}
	if trimmed[0] != '{' {
		// null would decode into v as an empty object, and an array or
		// a scalar says nothing a command reads.
		return &requestError{status: http.StatusBadRequest, msg: "the body must be a JSON object"}
	}
	s := scanBody(body)
	if s.keyErr != nil {
		return s.keyErr
	}
	if s.broken && len(s.text) > 0 {
		// A raw control character ends the scan and makes the JSON
		// invalid; naming the field helps more than "malformed".
		return s.textErr()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// Not dec.More(), which says false before a stray '}' or ']'.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return &requestError{status: http.StatusBadRequest, msg: "the body must hold a single JSON object"}
	}
	return s.textErr()
}

// scanned is what one pass over a body found.
type scanned struct {
	// keyErr is a 400: a key given twice, or not in lower-case ASCII.
	keyErr error
	// text maps fields to what is wrong with their text (a 422).
	text map[string]string
	// broken reports that the scan stopped at a raw control character
	// inside a value, which also makes the JSON malformed.
	broken bool
}

// textErr returns the text problems as a 422, or nil.
func (s scanned) textErr() error {
	if len(s.text) == 0 {
		return nil
	}
	msg := "invalid text in " + strings.Join(sortedKeys(s.text), ", ")
	return &requestError{status: http.StatusUnprocessableEntity, msg: msg, fields: s.text}
}

// maxTextProblems caps the fields a 422 names: past it the answer is
// the same, and a body nested deep with a bad string at every level
// must not cost a path per level.
const maxTextProblems = 10

// frame is an object or array the scan is inside.
type frame struct {
	object bool
	keys   map[string]bool
	expect bool   // object: the next string token is a key
	key    string // object: the key of the value being read
	index  int    // array: the index of the next element
	up     *frame // the enclosing frame, nil at the top
	elem   string // the frame's element in up: a key or an index
	field  string // the nearest key: it says whether text is multi-line
}

// path is the frame's field path, such as "integrations.0"; "" at the
// top. It is built only for a problem to report: kept on every frame,
// paths would cost the square of the nesting depth.
func (f *frame) path() string {
	if f.up == nil {
		return f.elem
	}
	return join(f.up.path(), f.elem)
}

// valuePath is the path of the value being read in f, and the item it
// is in a list ("item 2 "), if it is in one.
func (f *frame) valuePath() (path, item string) {
	if f.object {
		return join(f.path(), f.key), ""
	}
	return f.path(), fmt.Sprintf("item %d ", f.index+1)
}

// scanBody walks body's tokens once. It refuses a key given twice in
// one object (encoding/json would keep the last) and a key that is not
// lower-case ASCII (encoding/json matches keys case-insensitively, with
// Unicode folding: "Title" or "ſtatus" would fill title or status); API
// field names are all lower-case ASCII. It checks every string value
// against the text rule, on the raw bytes for UTF-8. Malformed JSON is
// left to the decoder, which says where it breaks.
func scanBody(body []byte) scanned {
	var s scanned
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*frame
	var prev int64 // where the previous token ended
	for {
		tok, err := dec.Token()
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) && strings.Contains(syn.Error(), "in string literal") && top != nil && !(top.object && top.expect) {
				s.rawControl(body[prev:], top)
			}
			return s
		}
		raw := body[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		if tok == json.Delim('}') || tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object && top.expect {
			if key, ok := tok.(string); ok {
				switch {
				case top.keys[key]:
					s.keyErr = &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("field %q appears twice", key),
						fields: map[string]string{key: "appears twice"}}
					return s
				case !lowerASCII(key):
					s.keyErr = &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("unknown field %q (field names are lower-case)", key),
						fields: map[string]string{key: "unknown field"}}
					return s
				}
				top.keys[key] = true
				top.key = key
				top.expect = false
				continue
			}
		}
		// A value, of the frame on top.
		if top == nil {
			if d, ok := tok.(json.Delim); ok {
				stack = append(stack, &frame{object: d == '{', expect: d == '{', keys: map[string]bool{}})
			}
			continue // not an object: the decoder refuses it
		}
		if str, ok := tok.(string); ok {
			// A string: a list of them (tags) is one field in a form,
			// so an item is reported on its list.
			if len(s.text) < maxTextProblems {
				field := top.field
				if top.object {
					field = top.key
				}
				msg := rawTextProblem(raw)
				if msg == "" {
					msg = textProblem(str, multiLine[field])
				}
				if msg != "" {
					path, item := top.valuePath()
					s.add(path, item+msg)
				}
			}
		}
		if d, ok := tok.(json.Delim); ok { // '{' or '['
			f := &frame{object: d == '{', expect: d == '{', up: top, field: top.field}
			if top.object {
				f.elem, f.field = top.key, top.key
			} else {
				f.elem = strconv.Itoa(top.index)
			}
			if f.object {
				f.keys = map[string]bool{}
			}
			stack = append(stack, f)
		}
		if top.object {
			top.expect = true // a key comes next
		} else {
			top.index++
		}
	}
}

func (s *scanned) add(field, msg string) {
	if field == "" {
		return // not in an object: the decoder refuses the body
	}
	if s.text == nil {
		s.text = map[string]string{}
	}
	if _, ok := s.text[field]; !ok {
		s.text[field] = msg
	}
}

// rawControl records the raw control character that stopped the scan
// inside the string value rest begins with (after separators), unless
// it is one that the field allows, in which case the JSON is simply
// malformed: control characters must be escaped in JSON strings.
func (s *scanned) rawControl(rest []byte, top *frame) {
	field := top.field
	if top.object {
		field = top.key
	}
	open := bytes.IndexByte(rest, '"')
	if open < 0 {
		return
	}
	str := rest[open+1:]
	i := bytes.IndexFunc(str, func(r rune) bool { return r < 0x20 })
	if i < 0 {
		return
	}
	r := rune(str[i])
	if (r == '\t' || r == '\n' || r == '\r') && multiLine[field] {
		return
	}
	var before string
	_ = json.Unmarshal(append(append([]byte{'"'}, str[:i]...), '"'), &before)
	path, item := top.valuePath()
	if path == "" {
		return // not a field: the decoder says the JSON is malformed
	}
	s.add(path, item+textProblem(before+string(r), multiLine[field]))
	s.broken = true
}

// textProblem returns what is wrong with s as the text of a field, or ""
// when nothing is: control characters (C0, DEL and C1, which include
// NUL and the ESC or CSI that start ANSI escape sequences) are refused,
// except tab, line feed and carriage return in a multi-line field.
func textProblem(s string, multiLine bool) string {
	n := 0
	for _, r := range s {
		n++
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			if !multiLine {
				return fmt.Sprintf("must be a single line: no line breaks or tabs (%U at character %d)", r, n)
			}
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
			return fmt.Sprintf("must not contain control characters (%U at character %d)", r, n)
		}
	}
	return ""
}

// rawTextProblem checks a string token as sent (with any separators
// before it): encoding/json replaces invalid UTF-8 and unpaired UTF-16
// surrogate escapes (\ud800) with U+FFFD without a word, which would
// store something other than what the client meant.
func rawTextProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "must be valid UTF-8 text"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			continue
		}
		i++ // the escaped character
		if raw[i] != 'u' {
			continue
		}
		r, ok := hex4(raw[i+1:])
		if !ok {
			continue // the decoder refuses the escape
		}
		i += 4
		switch {
		case r >= 0xdc00 && r <= 0xdfff:
			return fmt.Sprintf("must be valid Unicode text: \\u%04x is half of a surrogate pair", r)
		case r >= 0xd800 && r <= 0xdbff:
			if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(raw[i+3:]); ok && lo >= 0xdc00 && lo <= 0xdfff {
					i += 6
					continue
				}
			}
			return fmt.Sprintf("must be valid Unicode text: \\u%04x is half of a surrogate pair", r)
		}
	}
	return ""
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(n), err == nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lowerASCII reports whether key is in lower case and ASCII.
func lowerASCII(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("malformed JSON at byte %d", syn.Offset)}
	case errors.As(err, &typ):
		// The path names embedded structs too ("ticketBody.title"); the
		// client knows only the JSON field.
		field := typ.Field[strings.LastIndexByte(typ.Field, '.')+1:]
		if field == "" {
			return &requestError{status: http.StatusBadRequest, msg: "the body must be a JSON object"}
		}
		msg := "must be " + jsonKind(typ.Type.Kind().String())
		return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("field %s %s", field, msg), fields: map[string]string{field: msg}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{status: http.StatusBadRequest, msg: "malformed JSON: unexpected end"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf("unknown field %q", field), fields: map[string]string{field: "unknown field"}}
	}
	return &requestError{status: http.StatusBadRequest, msg: "malformed JSON: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "int", "int64", "float64", "uint64":
		return "a number"
	}
	return "of another type"
}
