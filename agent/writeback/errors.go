package writeback

import (
	"strconv"
	"strings"
)

// A ValidationError reports why a document was rejected: every problem found, each naming
// the field at fault and the rule it breaks. It is the error to send back to the platform.
//
// Messages never quote the values of the document (patient details, summary, attachment
// content), so a ValidationError is safe to log.
type ValidationError struct {
	Problems []Problem
}

// Problem is one reason a document is invalid.
type Problem struct {
	// Field is the path of the field at fault, such as "patient.dateOfBirth" or
	// "attachments[1].dataBase64"; "" means the document as a whole.
	Field string
	// Message says in plain English what is wrong and how to fix it.
	Message string
}

// maxReportedProblems bounds the problems a ValidationError lists, so that a thoroughly
// broken document does not produce a huge error message.
const maxReportedProblems = 20

// String returns the problem as "field: message", or the message alone for the document as
// a whole.
func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Error lists the problems, separated by semicolons.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid writeback document: ")
	for i, p := range e.Problems {
		if i == maxReportedProblems {
			b.WriteString("; and ")
			b.WriteString(strconv.Itoa(len(e.Problems) - i))
			b.WriteString(" more problems")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// invalid returns a *ValidationError holding one problem.
func invalid(field, message string) *ValidationError {
	return &ValidationError{Problems: []Problem{{Field: field, Message: message}}}
}

// A pathElem is one step of the path to a value within a document: an object member or an
// array element.
type pathElem struct {
	key     string
	index   int
	isIndex bool
}

// maxPathKeyLen bounds how much of an unexpected member name a path repeats.
const maxPathKeyLen = 40

// formatPath renders a path in the dotted form used by Problem.Field:
// patient.familyName, codes[0].value. Member names that are not simple identifiers are
// quoted and shortened: attachments[0]["file name"].
func formatPath(path []pathElem) string {
	var b strings.Builder
	for _, e := range path {
		switch {
		case e.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
		case isIdentifier(e.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.key)
		default:
			k := e.key
			if len(k) > maxPathKeyLen {
				k = truncateUTF8(k, maxPathKeyLen) + "…"
			}
			b.WriteByte('[')
			b.WriteString(strconv.QuoteToGraphic(k))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// isIdentifier reports whether s is a short name of ASCII letters, digits and underscores
// not starting with a digit, which formatPath writes without quotes.
func isIdentifier(s string) bool {
	if s == "" || len(s) > maxPathKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// truncateUTF8 returns at most n bytes of s without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
