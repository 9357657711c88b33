package extract

import (
	"strings"
	"unicode/utf8"
)

// Piece is one piece of a split text: its title (the document's title
// and the headings it is under, joined by " › ") and its content.
type Piece struct {
	Title   string
	Content string
}

// TitleSeparator joins the parts of a piece's title.
const TitleSeparator = " › "

// Splitter splits Markdown-like text into pieces.
type Splitter struct {
	// Budget is the most tokens a piece holds, as Tokens counts them.
	Budget int
	// MaxRunes is the most characters a piece holds, whatever Budget.
	MaxRunes int
	// MaxTitle is the most characters a title holds; longer ones are cut.
	MaxTitle int
	// Tokens estimates the tokens of a text.
	Tokens func(string) int
}

// Split splits text under title: a heading ("#" to "######" at a line's
// start, outside code fences) starts a new piece, and the paragraphs
// under it (blocks split by blank lines) are packed into pieces of at
// most Budget tokens; a paragraph larger than that is cut at line, then
// sentence, then word boundaries. Empty sections make no piece.
func (s Splitter) Split(title, text string) []Piece {
	var (
		out   []Piece
		path  []string // headings, by level
		paras []string
		para  []string
		fence bool
	)
	heading := func() string {
		parts := []string{title}
		for _, h := range path {
			// A heading that repeats the one before it (a document's
			// title and its first heading, most often) is said once.
			if h != "" && !strings.EqualFold(h, parts[len(parts)-1]) {
				parts = append(parts, h)
			}
		}
		return s.title(strings.Join(parts, TitleSeparator))
	}
	endPara := func() {
		if p := strings.TrimSpace(strings.Join(para, "\n")); p != "" {
			paras = append(paras, p)
		}
		para = para[:0]
	}
	endSection := func() {
		endPara()
		t := heading()
		for _, c := range s.pack(paras) {
			out = append(out, Piece{Title: t, Content: c})
		}
		paras = paras[:0]
	}
	for _, ln := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(ln)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = !fence
			para = append(para, ln)
			continue
		}
		if !fence {
			if level, h, ok := markdownHeading(trimmed); ok {
				endSection()
				for len(path) < level {
					path = append(path, "")
				}
				path = append(path[:level-1], h)
				continue
			}
			if trimmed == "" {
				endPara()
				continue
			}
		}
		para = append(para, strings.TrimRight(ln, " \t"))
	}
	endSection()
	return out
}

// markdownHeading reads an ATX heading line.
func markdownHeading(line string) (level int, text string, ok bool) {
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(line) && line[level] != ' ' && line[level] != '\t') {
		return 0, "", false
	}
	text = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(line[level:]), "#"))
	return level, text, text != ""
}

func (s Splitter) fits(text string) bool {
	return s.Tokens(text) <= s.Budget && utf8.RuneCountInString(text) <= s.MaxRunes
}

// pack joins paragraphs into pieces that fit, cutting those that do not
// fit alone.
func (s Splitter) pack(paras []string) []string {
	var out []string
	cur := ""
	for _, p := range paras {
		for _, part := range s.cut(p) {
			joined := part
			if cur != "" {
				joined = cur + "\n\n" + part
			}
			if s.fits(joined) {
				cur = joined
				continue
			}
			if cur != "" {
				out = append(out, cur)
			}
			cur = part
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// cut splits a paragraph that does not fit at line, sentence, then word
// boundaries, and a word that alone does not fit at rune boundaries.
func (s Splitter) cut(p string) []string {
	if s.fits(p) {
		return []string{p}
	}
	for _, sep := range []string{"\n", ". ", " "} {
		parts := strings.SplitAfter(p, sep)
		if len(parts) < 2 {
			continue
		}
		var out []string
		cur := ""
		for _, part := range parts {
			if cur != "" && !s.fits(cur+part) {
				out = append(out, strings.TrimSpace(cur))
				cur = ""
			}
			cur += part
		}
		if strings.TrimSpace(cur) != "" {
			out = append(out, strings.TrimSpace(cur))
		}
		var res []string
		for _, o := range out {
			res = append(res, s.cut(o)...)
		}
		return res
	}
	// One word longer than a piece: cut it by runes.
	var out []string
	runes := []rune(p)
	for len(runes) > 0 {
		n := len(runes)
		for n > 1 && !s.fits(string(runes[:n])) {
			n /= 2
		}
		out = append(out, string(runes[:n]))
		runes = runes[n:]
	}
	return out
}

// title cuts a title to MaxTitle characters, keeping its end (the
// nearest heading) readable.
func (s Splitter) title(t string) string {
	if utf8.RuneCountInString(t) <= s.MaxTitle {
		return t
	}
	r := []rune(t)
	return string(r[:s.MaxTitle-1]) + "…"
}
