package extract

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		file, declared, name string
		want                 Kind
		err                  error
	}{
		{"guide.md", "text/markdown", "guide.md", Markdown, nil},
		{"guide.md", "application/octet-stream", "guide.md", Markdown, nil},
		{"guide.md", "", "guide.txt", Text, nil},
		{"guide.html", "", "page", HTML, nil},
		{"guide.html", "text/plain", "guide.html", HTML, nil},
		{"notes.txt", "text/plain", "notes.txt", Text, nil},
		{"warranty.pdf", "application/octet-stream", "x.bin", PDF, nil},
		{"image.png", "text/plain", "notes.txt", "", ErrUnsupported},
		{"notes.txt", "application/pdf", "notes.pdf", "", ErrUnsupported},
	} {
		got, err := Sniff(read(t, tc.file), tc.declared, tc.name)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Sniff(%s, %q, %q) = %q, %v; want %q, %v", tc.file, tc.declared, tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestExtractHTML(t *testing.T) {
	got, err := Extract(HTML, read(t, "guide.html"))
	if err != nil {
		t.Fatal(err)
	}
	want := "# Shipping guide\n\nWe ship to every country in the European Union.\n\n## Delivery times\n\n" +
		"Standard delivery takes 3 to 5 business days.\n\n- Express: next day\n\n- Economy: up to 10 days\n\n" +
		"## Costs\n\nShipping is free above 50 €.\n\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	for _, never := range []string{"tracking", "alert", "Home", "Example Shop", "font-family"} {
		if strings.Contains(got, never) {
			t.Errorf("the text holds %q, which is no content", never)
		}
	}
}

func TestExtractPDF(t *testing.T) {
	got, err := Extract(PDF, read(t, "warranty.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	want := "# Warranty terms\n\n" +
		"Every product carries a two-year warranty\nagainst manufacturing defects.\n\n" +
		"Claims need the receipt and a description of the fault.\n\n" +
		"Batteries are covered for one year (café machines excluded)."
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestExtractPDFCorrupt(t *testing.T) {
	b := read(t, "warranty.pdf")
	if _, err := Extract(PDF, b[:len(b)/3]); err == nil {
		t.Fatal("a PDF cut short: got no error")
	}
}

func TestExtractText(t *testing.T) {
	got, err := Extract(Text, read(t, "notes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pieces := splitter().Split("Notes", got)
	if len(pieces) != 1 || pieces[0].Title != "Notes" {
		t.Fatalf("got %+v, want one piece titled Notes (a '#' line of a text file is no heading)", pieces)
	}
	if !strings.Contains(pieces[0].Content, `\# Saturday hours`) {
		t.Fatalf("got %q, want the '#' line kept as text", pieces[0].Content)
	}
	if _, err := Extract(Text, []byte(" \n\n ")); !errors.Is(err, ErrNoText) {
		t.Fatalf("blank file: got %v, want ErrNoText", err)
	}
}

func splitter() Splitter {
	return Splitter{Budget: 400, MaxRunes: 100000, MaxTitle: 200, Tokens: func(s string) int { return (len(s) + 3) / 4 }}
}

func TestSplitMarkdown(t *testing.T) {
	text, err := Extract(Markdown, read(t, "guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	got := splitter().Split("Guide", text)
	want := []Piece{
		{"Guide › Returns guide", "Everything a customer needs to know about sending an order back."},
		{"Guide › Returns guide › Time limits", "Items may be returned within 30 days of delivery.\nSale items may be returned within 14 days."},
		{"Guide › Returns guide › Refunds", "Refunds go to the original payment method within 5 business days.\n\n```sh\n# not a heading: inside a code fence\ncurl https://example.com/returns\n```"},
		{"Guide › Returns guide › Refunds › Store credit", "Customers may choose store credit instead; it never expires."},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d pieces %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("piece %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSplitBudget(t *testing.T) {
	para := strings.Repeat("A sentence of about ten words to fill the budget. ", 20) // ~250 tokens
	text := "# Big\n\n" + para + "\n\n" + para + "\n\n" + strings.Repeat("x", 5000) + "\n\n" + strings.Repeat(para, 4)
	s := splitter()
	pieces := s.Split("Doc", text)
	var total int
	for _, p := range pieces {
		if n := s.Tokens(p.Content); n > s.Budget {
			t.Errorf("a piece of %d tokens, over the budget of %d", n, s.Budget)
		}
		total += utf8.RuneCountInString(strings.Join(strings.Fields(p.Content), ""))
	}
	if want := utf8.RuneCountInString(strings.Join(strings.Fields(text[len("# Big"):]), "")); total != want {
		t.Fatalf("pieces hold %d non-space characters, want %d: text was lost or doubled", total, want)
	}
	if len(pieces) < 5 {
		t.Fatalf("got %d pieces, want the text split", len(pieces))
	}
}

func TestSplitTitleCut(t *testing.T) {
	s := splitter()
	s.MaxTitle = 20
	got := s.Split("A long document title", "# And a long heading\n\ntext")
	if n := utf8.RuneCountInString(got[0].Title); n != 20 {
		t.Fatalf("got a title of %d characters, want 20", n)
	}
}

func FuzzPageLines(f *testing.F) {
	f.Add([]byte("BT /F1 12 Tf 72 720 Td (Hello) Tj 0 -14 Td [(Wor) -300 (ld)] TJ ET"))
	f.Add([]byte("BT <48656c6c6f> Tj T* (a\\(b\\)\\101) ' 1 2 (x) \" ET BI /W 1 ID \x00\x01 EI"))
	f.Add([]byte("<< /A [1 2 [3 <<>>]] >> [[[[ (unterminated"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range pageLines(b) {
			if !utf8.ValidString(l.text) {
				t.Fatalf("line %q is not valid UTF-8", l.text)
			}
		}
	})
}

func FuzzSplit(f *testing.F) {
	f.Add("# A\n\ntext\n\n## B\n\n```\n# c\n```\n")
	f.Add(strings.Repeat("word ", 2000))
	f.Fuzz(func(t *testing.T, text string) {
		s := Splitter{Budget: 50, MaxRunes: 300, MaxTitle: 40, Tokens: func(s string) int { return (len(s) + 3) / 4 }}
		for _, p := range s.Split("T", text) {
			if strings.TrimSpace(p.Content) == "" {
				t.Fatal("an empty piece")
			}
			if !s.fits(p.Content) {
				t.Fatalf("a piece over the budget: %d tokens", s.Tokens(p.Content))
			}
			if utf8.RuneCountInString(p.Title) > 40 {
				t.Fatalf("a title over MaxTitle: %q", p.Title)
			}
		}
	})
}

func TestSplitSaysARepeatedHeadingOnce(t *testing.T) {
	got := splitter().Split("Returns guide", "# Returns guide\n\nIntro.\n\n## Refunds\n\nMoney back.")
	var titles []string
	for _, p := range got {
		titles = append(titles, p.Title)
	}
	if want := []string{"Returns guide", "Returns guide › Refunds"}; !slices.Equal(titles, want) {
		t.Errorf("titles %q, want %q", titles, want)
	}
}
