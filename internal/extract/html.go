package extract

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// skipped are elements whose text is no content: code the page runs,
// styles, and the page's chrome (navigation, footer and side bars,
// forms).
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Nav: true,
	atom.Footer: true, atom.Aside: true, atom.Form: true, atom.Svg: true, atom.Iframe: true,
	atom.Head: true, atom.Button: true,
}

// blocks are elements that end a paragraph.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true, atom.Li: true,
	atom.Ul: true, atom.Ol: true, atom.Table: true, atom.Tr: true, atom.Blockquote: true, atom.Pre: true,
	atom.Br: true, atom.Hr: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Figure: true, atom.Body: true,
}

var headings = map[atom.Atom]int{atom.H1: 1, atom.H2: 2, atom.H3: 3, atom.H4: 4, atom.H5: 5, atom.H6: 6}

// htmlText returns the text of an HTML page as Markdown-like text: its
// headings as "#" lines, each block a paragraph.
func htmlText(data []byte) (string, error) {
	doc, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("parse html: %w", err)
	}
	var out strings.Builder
	var para strings.Builder
	flush := func() {
		if t := strings.Join(strings.Fields(para.String()), " "); t != "" {
			out.WriteString(t)
			out.WriteString("\n\n")
		}
		para.Reset()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if skipped[n.DataAtom] {
				return
			}
			if level, ok := headings[n.DataAtom]; ok {
				flush()
				var h strings.Builder
				collect(n, &h)
				if t := strings.Join(strings.Fields(h.String()), " "); t != "" {
					out.WriteString(strings.Repeat("#", level) + " " + t + "\n\n")
				}
				return
			}
			if n.DataAtom == atom.Li {
				flush()
				para.WriteString("- ")
			} else if blocks[n.DataAtom] {
				flush()
			}
		}
		if n.Type == html.TextNode {
			para.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && blocks[n.DataAtom] {
			flush()
		} else if n.Type == html.ElementNode && (n.DataAtom == atom.Td || n.DataAtom == atom.Th) {
			para.WriteString(" ")
		}
	}
	walk(doc)
	flush()
	return out.String(), nil
}

// collect appends the text under n, skipping what is no content.
func collect(n *html.Node, b *strings.Builder) {
	if n.Type == html.ElementNode && skipped[n.DataAtom] {
		return
	}
	if n.Type == html.TextNode {
		b.WriteString(n.Data)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		collect(c, b)
	}
}
