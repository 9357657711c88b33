package extract

import (
	"strconv"
)

// tokenKind is what a content stream token is.
type tokenKind uint8

const (
	tokNumber tokenKind = iota
	tokString
	tokName
	tokArray
	tokDict
	tokOperator
)

// token is one token of a content stream: a string's decoded bytes in
// text, an array's elements in items.
type token struct {
	kind  tokenKind
	text  string
	items []token
}

// lexer reads the tokens of a PDF content stream (ISO 32000-1, 7.2 and
// 7.8.2). It never fails: what it cannot read it skips.
type lexer struct {
	b []byte
	i int
}

func newLexer(b []byte) *lexer { return &lexer{b: b} }

// maxDepth bounds nested arrays and dictionaries, and maxItems the
// elements of one array, so that no stream makes the lexer recurse or
// allocate without end.
const (
	maxDepth = 32
	maxItems = 100000
)

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// next returns the next token; false at the end.
func (l *lexer) next() (token, bool) { return l.token(0) }

func (l *lexer) skipSpace() {
	for l.i < len(l.b) {
		c := l.b[l.i]
		switch {
		case isSpace(c):
			l.i++
		case c == '%':
			for l.i < len(l.b) && l.b[l.i] != '\n' && l.b[l.i] != '\r' {
				l.i++
			}
		default:
			return
		}
	}
}

func (l *lexer) token(depth int) (token, bool) {
	for {
		l.skipSpace()
		if l.i >= len(l.b) {
			return token{}, false
		}
		c := l.b[l.i]
		switch {
		case c == '(':
			l.i++
			return token{kind: tokString, text: l.literal()}, true
		case c == '<' && l.i+1 < len(l.b) && l.b[l.i+1] == '<':
			l.i += 2
			l.skipDict(depth)
			return token{kind: tokDict}, true
		case c == '<':
			l.i++
			return token{kind: tokString, text: l.hex()}, true
		case c == '[':
			l.i++
			arr := token{kind: tokArray}
			for {
				l.skipSpace()
				if l.i >= len(l.b) {
					return arr, true
				}
				if l.b[l.i] == ']' {
					l.i++
					return arr, true
				}
				if depth >= maxDepth {
					l.i++
					continue
				}
				el, ok := l.token(depth + 1)
				if !ok {
					return arr, true
				}
				if len(arr.items) < maxItems {
					arr.items = append(arr.items, el)
				}
			}
		case c == '/':
			start := l.i
			l.i++
			for l.i < len(l.b) && !isSpace(l.b[l.i]) && !isDelim(l.b[l.i]) {
				l.i++
			}
			return token{kind: tokName, text: string(l.b[start:l.i])}, true
		case c == ']' || c == '>' || c == ')' || c == '{' || c == '}':
			l.i++ // stray: skip
			continue
		}
		start := l.i
		for l.i < len(l.b) && !isSpace(l.b[l.i]) && !isDelim(l.b[l.i]) {
			l.i++
		}
		word := string(l.b[start:l.i])
		if _, err := strconv.ParseFloat(word, 64); err == nil {
			return token{kind: tokNumber, text: word}, true
		}
		if word == "BI" {
			l.skipInlineImage()
			continue
		}
		return token{kind: tokOperator, text: word}, true
	}
}

// literal reads a literal string after its '(' (7.3.4.2).
func (l *lexer) literal() string {
	var out []byte
	depth := 1
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return string(out)
			}
		case '\\':
			if l.i >= len(l.b) {
				return string(out)
			}
			e := l.b[l.i]
			l.i++
			switch e {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case '\r':
				if l.i < len(l.b) && l.b[l.i] == '\n' {
					l.i++
				}
			case '\n':
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for k := 0; k < 2 && l.i < len(l.b) && l.b[l.i] >= '0' && l.b[l.i] <= '7'; k++ {
						v = v*8 + int(l.b[l.i]-'0')
						l.i++
					}
					out = append(out, byte(v))
				} else {
					out = append(out, e)
				}
			}
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// hex reads a hexadecimal string after its '<' (7.3.4.3).
func (l *lexer) hex() string {
	var out []byte
	var hi byte
	half := false
	for l.i < len(l.b) {
		c := l.b[l.i]
		l.i++
		var v byte
		switch {
		case c == '>':
			if half {
				out = append(out, hi<<4)
			}
			return string(out)
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			continue
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	return string(out)
}

// skipDict skips a dictionary after its "<<".
func (l *lexer) skipDict(depth int) {
	for {
		l.skipSpace()
		if l.i >= len(l.b) {
			return
		}
		if l.i+1 < len(l.b) && l.b[l.i] == '>' && l.b[l.i+1] == '>' {
			l.i += 2
			return
		}
		if depth >= maxDepth {
			l.i++
			continue
		}
		if _, ok := l.token(depth + 1); !ok {
			return
		}
	}
}

// skipInlineImage skips an inline image's data after BI, up to EI.
func (l *lexer) skipInlineImage() {
	for l.i+2 < len(l.b) {
		if l.b[l.i] == 'E' && l.b[l.i+1] == 'I' && isSpace(l.b[l.i-1]) && (l.i+2 == len(l.b) || isSpace(l.b[l.i+2])) {
			l.i += 2
			return
		}
		l.i++
	}
	l.i = len(l.b)
}
