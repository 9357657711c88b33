package retrieval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTokenBytes bounds a token; a longer run of letters (a pasted hash, a
// URL without separators) is cut there, on a rune boundary.
const maxTokenBytes = 64

// Tokenize splits text into the terms the index ranks by. Any UTF-8 is
// accepted (invalid bytes separate words) and every term is non-empty.
//
// A word is a run of letters, digits and combining marks (so a decomposed
// "café" stays one word); everything else separates words. Words are
// lower-cased by Unicode rules and cut at 64 bytes. Single letters and the
// words of a short English stop-word list ("the", "how", "my", the pieces
// of "don't"…) are dropped; single digits stay. The rest are stemmed
// conservatively, for English plurals and verb forms only, in this order:
//
//  1. plurals: "ies" → "y" (policies → policy), "sses" → "ss",
//     "xes", "zes", "ches", "shes" lose "es" (boxes → box), and a final
//     "s" goes unless it follows s, u or i (keys → key; address, status,
//     analysis stay);
//  2. "ied" → "y" (applied → apply); "ing" and "ed" go when at least
//     three letters with a vowel remain and "ed" does not follow "e"
//     (returned → return; ring, need, speed stay), and the stem left
//     loses one of a doubled final consonant other than l, s or z
//     (shipping → ship; billing → bill);
//  3. a final "e" goes when at least three letters remain (charge →
//     charg, so that charged and charges meet it);
//  4. a final "ll" loses an l when what is left holds two vowel-consonant
//     sequences, as in Porter's stemmer (cancelled → cancell → cancel,
//     install → instal; bill, call stay).
//
// The rules match ASCII suffixes, so words wholly of other scripts pass
// through unchanged. The stems are not words; they only need to agree
// between a query and the text.
func Tokenize(text string) []string {
	var out []string
	for w := range strings.FieldsFuncSeq(text, isSeparator) {
		w = strings.ToLower(w)
		if len(w) > maxTokenBytes {
			w = cut(w, maxTokenBytes)
		}
		if stopWords[w] || len(w) == 1 && isASCIILetter(w[0]) {
			continue
		}
		if w = stem(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func isSeparator(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
}

// cut returns the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cut(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// stopWords are dropped from text and queries alike: they occur in
// nearly every chunk, and a question's wording ("how do I…") should not
// decide what it finds. Contractions split at the apostrophe leave the
// single letters and the "don" of don't.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does doing
		for from had has have how i if in into is it its me my of on or our ours so than that the
		their them then there these they this those to too was we were what when where which who
		whom why will with would you your yours am any some about also just should
		s t d ll re ve m don doesn didn isn aren wasn won`) {
		m[w] = true
	}
	return m
}()

// stem applies the suffix rules of Tokenize; it never returns "" for a
// non-empty word.
func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case len(w) > 4 && (strings.HasSuffix(w, "xes") || strings.HasSuffix(w, "zes") ||
		strings.HasSuffix(w, "ches") || strings.HasSuffix(w, "shes")):
		w = w[:len(w)-2]
	case len(w) > 3 && w[len(w)-1] == 's' && !strings.ContainsRune("sui", rune(w[len(w)-2])):
		w = w[:len(w)-1]
	}
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ied"):
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ing") && stemmable(w[:len(w)-3]):
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && !strings.HasSuffix(w, "eed") && stemmable(w[:len(w)-2]):
		w = undouble(w[:len(w)-2])
	}
	if len(w) > 3 && w[len(w)-1] == 'e' && isASCIILetter(w[len(w)-2]) {
		w = w[:len(w)-1]
	}
	if strings.HasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		w = w[:len(w)-1]
	}
	return w
}

// measure counts the vowel-consonant sequences of an ASCII stem, Porter's
// m: 1 for "bil", 2 for "cancel".
func measure(s string) int {
	m := 0
	for i := 1; i < len(s); i++ {
		if isVowel(s[i-1]) && !isVowel(s[i]) && isASCIILetter(s[i]) {
			m++
		}
	}
	return m
}

func isVowel(b byte) bool { return strings.IndexByte("aeiou", b) >= 0 }

// stemmable reports whether a stem left by removing a suffix is long
// enough to stand: three letters, one of them a vowel.
func stemmable(s string) bool {
	return len(s) >= 3 && strings.ContainsAny(s, "aeiouy")
}

// undouble drops the last letter of a stem ending in a doubled consonant
// other than l, s or z.
func undouble(s string) string {
	n := len(s)
	if n >= 2 && s[n-1] == s[n-2] && isASCIILetter(s[n-1]) && !strings.ContainsRune("aeioulsz", rune(s[n-1])) {
		return s[:n-1]
	}
	return s
}

func isASCIILetter(b byte) bool { return 'a' <= b && b <= 'z' }
