package models

import (
	"strings"
	"unicode/utf8"
)

// Text rules (SPEC §3): every string a client stores — content, metadata keys
// and values, attachment fields, names — must be valid Unicode without NUL.
// PostgreSQL refuses NUL in text and jsonb and lone surrogates in jsonb, while
// SQLite stores them; checking before the write gives one answer on both.

// ErrInvalidText is the answer to text that breaks those rules.
func ErrInvalidText(field string) *Error {
	return ErrValidation("Invalid text in "+field+": NUL characters, lone surrogates and invalid UTF-8 are not allowed",
		Detail{"field", field})
}

// ValidText reports whether s is valid UTF-8 (which excludes lone
// surrogates) without NUL.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// ValidJSONText reports whether the strings inside a JSON text are valid
// Unicode without NUL: the bytes are valid UTF-8, and no escape encodes
// U+0000 or a surrogate that is not half of a pair. (Decoders turn such
// escapes into U+FFFD silently, so they must be caught in the raw text.)
func ValidJSONText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) {
			return true // not JSON; the decoder will say so
		}
		if raw[i+1] != 'u' {
			i++ // a two-character escape such as \" or \\
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return true // not JSON; the decoder will say so
		}
		i += 5
		switch {
		case r == 0:
			return false
		case r >= 0xDC00 && r <= 0xDFFF: // a low surrogate with no high one before it
			return false
		case r >= 0xD800 && r <= 0xDBFF: // a high surrogate must be followed by a low one
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return false
			}
			low, ok := hex4(raw, i+3)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 reads the four hex digits at raw[at:at+4].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
