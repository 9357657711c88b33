package retrieval

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"How do I reset my password?", []string{"reset", "password"}},
		{"Shipping, shipped, ships", []string{"ship", "ship", "ship"}},
		{"Returns returned returning", []string{"return", "return", "return"}},
		{"policies queries applied", []string{"policy", "query", "apply"}},
		{"boxes matches wishes addresses", []string{"box", "match", "wish", "address"}},
		{"charge charged charges charging", []string{"charg", "charg", "charg", "charg"}},
		{"cache caches cached", []string{"cach", "cach", "cach"}},
		{"cancel cancelled cancelling install installed billing call", []string{"cancel", "cancel", "cancel", "instal", "instal", "bill", "call"}},
		{"status analysis business", []string{"status", "analysis", "business"}},
		{"ring need speed bill pass", []string{"ring", "need", "speed", "bill", "pass"}},
		{"API keys: sk_live_42", []string{"api", "key", "sk", "liv", "42"}},
		{"Don't forget the customer's e-mail", []string{"forget", "customer", "mail"}},
		{"Café CAFÉ", []string{"café", "café"}},
		{"cafe\u0301", []string{"cafe\u0301"}},         // a combining accent stays in its word
		{"Größe STRASSE", []string{"größe", "strass"}}, // the final-e rule needs an ASCII letter before it
		{"東京 配送", []string{"東京", "配送"}},
		{"", nil},
		{"a b c 1 2", []string{"1", "2"}},
		{"the and of ... !!!", nil},
		{"bad\xffbyte", []string{"bad", "byt"}},
	}
	for _, c := range cases {
		if got := Tokenize(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestTokenizeCutsLongWords(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	got := Tokenize(long)
	if len(got) != 1 || len(got[0]) > maxTokenBytes || !utf8.ValidString(got[0]) {
		t.Fatalf("Tokenize(80-byte word) = %q, want one valid token of at most %d bytes", got, maxTokenBytes)
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"How do I reset my password?", "cafe\u0301 东京", "bad\xffbyte", "ies sses xes ing ed e", strings.Repeat("ß", 70), "İstanbul ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, tok := range Tokenize(text) {
			if tok == "" {
				t.Fatalf("Tokenize(%q) returned an empty token", text)
			}
			if len(tok) > maxTokenBytes {
				t.Fatalf("Tokenize(%q) returned %q, longer than %d bytes", text, tok, maxTokenBytes)
			}
			if !utf8.ValidString(tok) {
				t.Fatalf("Tokenize(%q) returned invalid UTF-8 %q", text, tok)
			}
		}
	})
}
