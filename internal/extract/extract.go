// Package extract turns uploaded files (plain text, Markdown, HTML, PDF)
// into text with Markdown headings, and splits that text into pieces
// along headings and paragraphs within a token budget, each titled by
// its heading path.
package extract

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Kind is a supported kind of file.
type Kind string

// Kinds, with the content type each is stored under.
const (
	Text     Kind = "text/plain"
	Markdown Kind = "text/markdown"
	HTML     Kind = "text/html"
	PDF      Kind = "application/pdf"
)

// ErrUnsupported is returned by Sniff for a file of no supported kind.
var ErrUnsupported = errors.New("unsupported file type")

// ErrNoText is returned by Extract for a file that holds no text.
var ErrNoText = errors.New("the file holds no text")

// Sniff decides a file's kind from its content, helped by the declared
// content type and the file name's extension, which are never trusted
// alone: a PDF must start as one, and text must be valid UTF-8 without
// control bytes a text file never holds. Markdown and HTML are text
// declared or named so (HTML is also recognised by its content).
func Sniff(data []byte, declared, filename string) (Kind, error) {
	declaredType, _, _ := mime.ParseMediaType(declared)
	ext := strings.ToLower(filepath.Ext(filename))
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		return PDF, nil
	}
	if declaredType == string(PDF) || ext == ".pdf" {
		return "", fmt.Errorf("%w: the file is declared a PDF but does not start as one", ErrUnsupported)
	}
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if !strings.HasPrefix(sniffed, "text/") || !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return "", fmt.Errorf("%w: %s (want text, Markdown, HTML or PDF)", ErrUnsupported, sniffed)
	}
	switch {
	case declaredType == "text/html" || declaredType == "application/xhtml+xml" || ext == ".html" || ext == ".htm" || sniffed == "text/html":
		return HTML, nil
	case declaredType == "text/markdown" || declaredType == "text/x-markdown" || ext == ".md" || ext == ".markdown":
		return Markdown, nil
	}
	return Text, nil
}

// Extract returns the text of a file of kind k, with Markdown headings
// ("# Title") where the file has headings and blank lines between
// paragraphs.
func Extract(k Kind, data []byte) (string, error) {
	var text string
	switch k {
	case Text:
		// A plain text file has no headings: a line starting with '#'
		// is text, escaped so the splitter does not take it for one.
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				lines[i] = `\` + strings.TrimSpace(l)
			}
		}
		text = strings.Join(lines, "\n")
	case Markdown:
		text = string(data)
	case HTML:
		var err error
		if text, err = htmlText(data); err != nil {
			return "", err
		}
	case PDF:
		var err error
		if text, err = pdfText(data); err != nil {
			return "", err
		}
	default:
		return "", ErrUnsupported
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	if strings.TrimSpace(text) == "" {
		return "", ErrNoText
	}
	return text, nil
}
