package extract

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

func init() {
	// pdfcpu would otherwise create a configuration directory in the
	// user's home on first use.
	api.DisableConfigDir()
}

// pdfText returns the text of a PDF. pdfcpu parses the file (cross
// references, object streams, filters) and hands over each page's
// decoded content stream; pdfcpu has no text extraction of its own, so
// the text operators of those streams are read here (see pageLines).
// Lines set in a font clearly larger than the body's become headings.
func pdfText(data []byte) (text string, err error) {
	defer func() {
		// A malformed file must be a refusal, not a crashed request.
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("read pdf: %v", r)
		}
	}()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadContext(bytes.NewReader(data), conf)
	if err != nil {
		return "", fmt.Errorf("read pdf: %w", err)
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return "", fmt.Errorf("read pdf: %w", err)
	}
	var lines []line
	for page := 1; page <= ctx.PageCount; page++ {
		d, _, _, err := ctx.PageDict(page, false)
		if err != nil || d == nil {
			continue
		}
		content, err := ctx.PageContent(d, page)
		if err != nil {
			continue // a page without content
		}
		lines = append(lines, pageLines(content)...)
		lines = append(lines, line{para: true})
	}
	return renderLines(lines), nil
}

// line is one line of text in a PDF, with the size of its font; para
// marks a paragraph break before it.
type line struct {
	text string
	size float64
	para bool
}

// renderLines joins lines into paragraphs, making the lines set in a
// font at least a quarter larger than the most used one headings.
func renderLines(lines []line) string {
	weight := map[float64]int{}
	for _, l := range lines {
		weight[math.Round(l.size*10)/10] += len(l.text)
	}
	body, most := 0.0, -1
	sizes := make([]float64, 0, len(weight))
	for s := range weight {
		sizes = append(sizes, s)
	}
	sort.Float64s(sizes)
	for _, s := range sizes {
		if weight[s] > most {
			body, most = s, weight[s]
		}
	}
	var b strings.Builder
	inPara := false
	for _, l := range lines {
		t := strings.Join(strings.Fields(l.text), " ")
		if l.para && inPara {
			b.WriteString("\n\n")
			inPara = false
		}
		if t == "" {
			continue
		}
		if body > 0 && l.size >= body*1.25 && utf8.RuneCountInString(t) <= 120 {
			if inPara {
				b.WriteString("\n\n")
			}
			level := "## "
			if l.size >= body*1.8 {
				level = "# "
			}
			b.WriteString(level + t + "\n\n")
			inPara = false
			continue
		}
		if inPara {
			b.WriteString("\n")
		}
		b.WriteString(t)
		inPara = true
	}
	return strings.TrimSpace(b.String())
}

// pageLines reads the text a page's content stream shows: the strings
// of Tj, TJ, ' and " between BT and ET, broken into lines where the text
// position moves down, and into paragraphs where it moves down by more
// than one and a half lines. Strings are read as single bytes in
// WinAnsiEncoding, which is what the standard fonts and most simple
// fonts use; text in composite (CID) fonts, which needs the font's
// ToUnicode map, is not extracted, and strings that decode to control
// bytes are dropped rather than kept as noise.
func pageLines(content []byte) []line {
	var (
		lines    []line
		cur      strings.Builder
		operands []token
		tfSize   = 12.0
		scale    = 1.0
		lastY    = math.NaN()
		y        = 0.0
		leading  = 0.0
		breakTo  = false // a paragraph break before the next line
		// shownAt is the font size the current line was shown in.
		shownAt = 0.0
	)
	size := func() float64 { return math.Abs(tfSize * scale) }
	newLine := func() {
		if strings.TrimSpace(cur.String()) != "" {
			lines = append(lines, line{text: cur.String(), size: shownAt, para: breakTo})
			breakTo = false
		}
		cur.Reset()
		shownAt = 0
	}
	moveTo := func(newY float64) {
		if !math.IsNaN(lastY) && newY != lastY {
			newLine()
			if gap := math.Abs(lastY - newY); gap > 1.5*math.Max(size(), shownAt) && size() > 0 {
				breakTo = true
			}
		}
		lastY, y = newY, newY
	}
	show := func(t token) {
		if s, ok := decodePDFString(t); ok {
			cur.WriteString(s)
			shownAt = math.Max(shownAt, size())
		}
	}
	num := func(i int) float64 {
		if i < 0 || i >= len(operands) {
			return 0
		}
		f, _ := strconv.ParseFloat(operands[i].text, 64)
		return f
	}
	lx := newLexer(content)
	for {
		t, ok := lx.next()
		if !ok {
			break
		}
		if t.kind != tokOperator {
			operands = append(operands, t)
			if len(operands) > 64 {
				operands = operands[1:]
			}
			continue
		}
		n := len(operands)
		switch t.text {
		case "BT":
			y, scale = 0, 1
		case "Tf":
			if n >= 1 {
				tfSize = num(n - 1)
			}
		case "TL":
			leading = num(n - 1)
		case "Td", "TD":
			if n >= 2 {
				if t.text == "TD" {
					leading = -num(n - 1)
				}
				if dy := num(n - 1); dy != 0 {
					moveTo(y + dy*scale)
				} else if dx := num(n - 2); dx > 0 && cur.Len() > 0 && !strings.HasSuffix(cur.String(), " ") {
					cur.WriteString(" ")
				}
			}
		case "Tm":
			if n >= 6 {
				if d := num(n - 3); d != 0 {
					scale = d
				}
				moveTo(num(n - 1))
			}
		case "T*":
			moveTo(y - math.Max(leading, size()))
		case "Tj":
			if n >= 1 {
				show(operands[n-1])
			}
		case "'", "\"":
			moveTo(y - math.Max(leading, size()))
			if n >= 1 {
				show(operands[n-1])
			}
		case "TJ":
			if n >= 1 && operands[n-1].kind == tokArray {
				for _, el := range operands[n-1].items {
					if el.kind == tokNumber {
						if f, _ := strconv.ParseFloat(el.text, 64); f < -200 && !strings.HasSuffix(cur.String(), " ") {
							cur.WriteString(" ")
						}
						continue
					}
					show(el)
				}
			}
		case "ET":
			newLine()
		}
		operands = operands[:0]
	}
	newLine()
	return lines
}

// decodePDFString returns the text of a string operand in
// WinAnsiEncoding; false for no string, or one of control bytes (a
// composite font's glyph ids).
func decodePDFString(t token) (string, bool) {
	if t.kind != tokString {
		return "", false
	}
	control := 0
	var b strings.Builder
	for _, c := range []byte(t.text) {
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(' ')
		case c < 0x20:
			control++
		case c >= 0x80 && c < 0xa0:
			if r, ok := winAnsi[c]; ok {
				b.WriteRune(r)
			}
		case c >= 0xa0:
			b.WriteRune(rune(c))
		default:
			b.WriteByte(c)
		}
	}
	if control > 0 && control*4 >= len(t.text) {
		return "", false
	}
	return b.String(), true
}

// winAnsi maps the bytes 0x80–0x9f of WinAnsiEncoding (Windows-1252),
// which differ from Latin-1.
var winAnsi = map[byte]rune{
	0x80: '€', 0x82: '‚', 0x83: 'ƒ', 0x84: '„', 0x85: '…', 0x86: '†', 0x87: '‡', 0x88: 'ˆ', 0x89: '‰',
	0x8a: 'Š', 0x8b: '‹', 0x8c: 'Œ', 0x8e: 'Ž', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•',
	0x96: '–', 0x97: '—', 0x98: '˜', 0x99: '™', 0x9a: 'š', 0x9b: '›', 0x9c: 'œ', 0x9e: 'ž', 0x9f: 'Ÿ',
}
