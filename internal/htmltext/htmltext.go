// Package htmltext turns the HTML of a shop's product description or a
// site's post into plain text for knowledge chunks: tags dropped, entities
// decoded, block elements on lines of their own, scripts and styles left
// out.
package htmltext

import (
	"strings"

	"golang.org/x/net/html"
)

// blocks are the elements that begin and end a line.
var blocks = map[string]bool{
	"p": true, "div": true, "br": true, "li": true, "ul": true, "ol": true, "tr": true, "table": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true,
	"section": true, "article": true, "header": true, "footer": true, "figure": true, "figcaption": true, "hr": true,
}

// Text returns the text of an HTML fragment: each line trimmed, runs of
// spaces collapsed, no empty lines.
func Text(fragment string) string {
	z := html.NewTokenizer(strings.NewReader(fragment))
	var b strings.Builder
	skip := 0 // depth inside script and style
	for {
		switch z.Next() {
		case html.ErrorToken:
			// The end of the input, or a fragment too broken to read on:
			// what was read so far is the text.
			return tidy(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case tag == "script" || tag == "style":
				if z.Token().Type == html.StartTagToken {
					skip++
				}
			case blocks[tag]:
				b.WriteByte('\n')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case tag == "script" || tag == "style":
				skip = max(0, skip-1)
			case blocks[tag]:
				b.WriteByte('\n')
			}
		}
	}
}

// tidy trims each line, collapses its spaces and drops empty lines.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
