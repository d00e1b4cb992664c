package writeback

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"unicode/utf8"
)

// This file holds the first stage of Decode: a streaming JSON scanner.
//
// The scanner reads the document once, through a small buffer. It checks the JSON syntax,
// rejects duplicated member names, and copies the document, without insignificant
// whitespace, into a small in-memory "metadata" document, except for the content of each
// attachments[i].dataBase64 string: that is base64-decoded on the fly into the Spool, while
// its size and SHA-256 are computed, and replaced by "" in the copy. The copy is bounded by
// MaxMetadataBytes, so memory stays bounded whatever the size of the attachments. Later
// stages validate the copy against the JSON Schema and unmarshal it.
//
// encoding/json cannot do this job: its Decoder.Token materialises whole strings.

const (
	// readBufferSize is the size of the scanner's read buffer.
	readBufferSize = 32 << 10
	// maxDepth bounds the nesting of arrays and objects; a valid document nests 3 deep.
	maxDepth = 16
	// maxNumberLen bounds the length of a JSON number, which no sensible value exceeds.
	maxNumberLen = 100
)

// utf8BOM is the byte-order mark that some Windows tools put at the start of UTF-8 text.
// RFC 8259 lets parsers ignore it, and Decode does.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// attachmentDigest describes the decoded content of one attachment.
type attachmentDigest struct {
	size   int64
	sha256 []byte
}

// scanner is the state of the first stage of Decode.
type scanner struct {
	r  *bufio.Reader
	sp Spool

	off       int64 // bytes consumed from r
	dataBytes int64 // bytes consumed inside attachment data strings
	inData    bool  // whether the scanner is inside an attachment data string

	out  bytes.Buffer // the metadata document
	path []pathElem   // the path to the value being scanned

	digests map[int]attachmentDigest // by attachment index
	total   int64                    // decoded attachment bytes so far, all attachments
}

func newScanner(r io.Reader, sp Spool) *scanner {
	return &scanner{
		r:       bufio.NewReaderSize(r, readBufferSize),
		sp:      sp,
		digests: make(map[int]attachmentDigest),
	}
}

// scanDocument scans the whole input: one JSON value, optionally surrounded by whitespace
// and preceded by a byte-order mark. On success s.out holds the metadata document.
func (s *scanner) scanDocument() error {
	if b, err := s.r.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		if err := s.skip(len(utf8BOM)); err != nil {
			return err
		}
	}
	if err := s.skipSpace(); err != nil {
		return err
	}
	if _, err := s.r.Peek(1); errors.Is(err, io.EOF) {
		return invalid("", "the document is empty; send one JSON object")
	}
	if err := s.scanValue(0); err != nil {
		return err
	}
	if err := s.skipSpace(); err != nil {
		return err
	}
	switch _, err := s.r.Peek(1); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return s.readError(err)
	default:
		return invalid("", fmt.Sprintf("invalid JSON at byte %d: unexpected data after the end of the document; send exactly one JSON object", s.off))
	}
}

// scanValue scans one JSON value at s.path; depth is the nesting of its container.
func (s *scanner) scanValue(depth int) error {
	c, err := s.peekByte()
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		return s.scanObject(depth + 1)
	case c == '[':
		return s.scanArray(depth + 1)
	case c == '"':
		if err := s.skip(1); err != nil {
			return err
		}
		if s.atAttachmentData() {
			return s.scanAttachmentData()
		}
		_, err := s.scanString(false)
		return err
	case c == '-' || isDigit(c):
		return s.scanNumber()
	case c >= 'a' && c <= 'z':
		return s.scanLiteral()
	default:
		return s.syntaxError("expected a value but found " + describeByte(c))
	}
}

// scanObject scans a JSON object. Members named twice are rejected: encoding/json would
// silently keep the last one, and the JSON Schema would never see the first.
func (s *scanner) scanObject(depth int) error {
	if depth > maxDepth {
		return invalid(formatPath(s.path), "is nested too deeply")
	}
	if err := s.expect('{'); err != nil {
		return err
	}
	c, err := s.peekNonSpace()
	if err != nil {
		return err
	}
	if c == '}' {
		return s.expect('}')
	}
	seen := make(map[string]struct{})
	for {
		c, err := s.peekNonSpace()
		if err != nil {
			return err
		}
		if c != '"' {
			return s.syntaxError("expected a field name in double quotes but found " + describeByte(c))
		}
		if err := s.skip(1); err != nil {
			return err
		}
		key, err := s.scanString(true)
		if err != nil {
			return err
		}
		s.path = append(s.path, pathElem{key: key})
		if _, dup := seen[key]; dup {
			return invalid(formatPath(s.path), "appears more than once in the same object; send each field once")
		}
		seen[key] = struct{}{}
		if c, err := s.peekNonSpace(); err != nil {
			return err
		} else if c != ':' {
			return s.syntaxError("expected ':' after the field name but found " + describeByte(c))
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := s.skipSpace(); err != nil {
			return err
		}
		if err := s.scanValue(depth); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]

		c, err = s.peekNonSpace()
		if err != nil {
			return err
		}
		switch c {
		case ',':
			if err := s.expect(','); err != nil {
				return err
			}
		case '}':
			return s.expect('}')
		default:
			return s.syntaxError("expected ',' or '}' after a field but found " + describeByte(c))
		}
	}
}

// scanArray scans a JSON array.
func (s *scanner) scanArray(depth int) error {
	if depth > maxDepth {
		return invalid(formatPath(s.path), "is nested too deeply")
	}
	if err := s.expect('['); err != nil {
		return err
	}
	c, err := s.peekNonSpace()
	if err != nil {
		return err
	}
	if c == ']' {
		return s.expect(']')
	}
	for i := 0; ; i++ {
		s.path = append(s.path, pathElem{index: i, isIndex: true})
		if err := s.skipSpace(); err != nil {
			return err
		}
		if err := s.scanValue(depth); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]

		c, err := s.peekNonSpace()
		if err != nil {
			return err
		}
		switch c {
		case ',':
			if err := s.expect(','); err != nil {
				return err
			}
		case ']':
			return s.expect(']')
		default:
			return s.syntaxError("expected ',' or ']' after an array element but found " + describeByte(c))
		}
	}
}

// scanString scans the rest of a string whose opening quote has been consumed, copying it
// as it is to s.out. If unescape is set it also returns the string's value (used for member
// names, which are short, being metadata).
func (s *scanner) scanString(unescape bool) (string, error) {
	start := s.out.Len()
	s.out.WriteByte('"')
	var val []byte
	for {
		run, err := s.plainRun()
		if err != nil {
			return "", err
		}
		if len(run) > 0 {
			s.out.Write(run)
			if unescape {
				val = append(val, run...)
			}
			if err := s.skip(len(run)); err != nil {
				return "", err
			}
			continue
		}
		c, err := s.readByte()
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			s.out.WriteByte('"')
			if !utf8.Valid(s.out.Bytes()[start:]) {
				return "", invalid(formatPath(s.path), "is not valid UTF-8 text; send the document in UTF-8")
			}
			return string(val), nil
		case '\\':
			r, err := s.scanEscape(true)
			if err != nil {
				return "", err
			}
			if unescape {
				val = utf8.AppendRune(val, r)
			}
		default: // a control character, which must be escaped
			return "", invalid(formatPath(s.path), fmt.Sprintf("invalid JSON at byte %d: a string contains an unescaped control character; escape it, e.g. as \\n or \\u0000", s.off-1))
		}
	}
}

// scanEscape scans an escape sequence whose backslash has been consumed and returns the
// character it stands for. If copy is set, the sequence is copied to s.out. UTF-16
// surrogates must come in pairs: a lone one is no character at all.
func (s *scanner) scanEscape(copy bool) (rune, error) {
	c, err := s.readByte()
	if err != nil {
		return 0, err
	}
	if copy {
		s.out.WriteByte('\\')
		s.out.WriteByte(c)
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := s.scanHex4(copy)
		if err != nil {
			return 0, err
		}
		if !utf16IsSurrogate(r) {
			return r, nil
		}
		if r >= 0xDC00 { // a low surrogate first
			return 0, s.badSurrogate()
		}
		// A high surrogate must be followed by \u and a low surrogate.
		for _, want := range []byte{'\\', 'u'} {
			c, err := s.readByte()
			if err != nil {
				return 0, err
			}
			if c != want {
				return 0, s.badSurrogate()
			}
			if copy {
				s.out.WriteByte(c)
			}
		}
		lo, err := s.scanHex4(copy)
		if err != nil {
			return 0, err
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return 0, s.badSurrogate()
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
	default:
		return 0, invalid(formatPath(s.path), fmt.Sprintf(`invalid JSON at byte %d: a string contains an invalid escape sequence; the escapes allowed are \" \\ \/ \b \f \n \r \t and \uXXXX`, s.off-2))
	}
}

func (s *scanner) badSurrogate() error {
	return invalid(formatPath(s.path), fmt.Sprintf(`invalid JSON at byte %d: a string contains a \u escape of an unpaired UTF-16 surrogate`, s.off))
}

func utf16IsSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDFFF }

// scanHex4 scans the four hex digits of a \u escape.
func (s *scanner) scanHex4(copy bool) (rune, error) {
	var r rune
	for range 4 {
		c, err := s.readByte()
		if err != nil {
			return 0, err
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, invalid(formatPath(s.path), fmt.Sprintf(`invalid JSON at byte %d: a \u escape must be followed by four hex digits`, s.off-1))
		}
		if copy {
			s.out.WriteByte(c)
		}
		r = r<<4 | rune(v)
	}
	return r, nil
}

// scanNumber scans a JSON number and checks its syntax.
func (s *scanner) scanNumber() error {
	var num []byte
	atEOF := false
	for {
		c, err := s.r.ReadByte()
		if errors.Is(err, io.EOF) {
			atEOF = true // a number may end the input; the caller decides whether that is right
			break
		}
		if err != nil {
			return s.readError(err)
		}
		if !isDigit(c) && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			if err := s.r.UnreadByte(); err != nil {
				return fmt.Errorf("read document: %w", err)
			}
			break
		}
		if err := s.consumed(1); err != nil {
			return err
		}
		if len(num) == maxNumberLen {
			return invalid(formatPath(s.path), fmt.Sprintf("is a number of more than %d characters; send a shorter number", maxNumberLen))
		}
		num = append(num, c)
	}
	if !validNumber(num) {
		if atEOF {
			return s.readError(io.EOF)
		}
		return s.syntaxError("a number is malformed; write numbers like 142, -0.5 or 1.2e3")
	}
	s.out.Write(num)
	return nil
}

// validNumber reports whether b is a number in JSON syntax:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	digits := func(i int) int { // index after the run of digits starting at i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i
	}
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		i = digits(i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(b)
}

// scanLiteral scans true, false or null.
func (s *scanner) scanLiteral() error {
	var lit []byte
	for len(lit) <= len("false") {
		c, err := s.r.ReadByte()
		if errors.Is(err, io.EOF) {
			for _, l := range []string{"true", "false", "null"} {
				if len(lit) < len(l) && l[:len(lit)] == string(lit) {
					return s.readError(io.EOF)
				}
			}
			break
		}
		if err != nil {
			return s.readError(err)
		}
		if c < 'a' || c > 'z' {
			if err := s.r.UnreadByte(); err != nil {
				return fmt.Errorf("read document: %w", err)
			}
			break
		}
		if err := s.consumed(1); err != nil {
			return err
		}
		lit = append(lit, c)
	}
	switch string(lit) {
	case "true", "false", "null":
		s.out.Write(lit)
		return nil
	}
	return s.syntaxError("expected a value; words must be true, false or null, and text must be in double quotes")
}

// atAttachmentData reports whether the string being scanned is the content of an
// attachment: the value of attachments[i].dataBase64.
func (s *scanner) atAttachmentData() bool {
	p := s.path
	return len(p) == 3 &&
		!p[0].isIndex && p[0].key == "attachments" &&
		p[1].isIndex &&
		!p[2].isIndex && p[2].key == "dataBase64"
}

// scanAttachmentData streams the content of attachments[i].dataBase64 (its opening quote
// consumed) through a base64 decoder into the spool, and writes "" in its place to s.out.
func (s *scanner) scanAttachmentData() (err error) {
	index := s.path[1].index
	field := formatPath(s.path)
	if index >= MaxAttachments {
		return invalid("attachments", fmt.Sprintf("has more than %d attachments; send at most %d", MaxAttachments, MaxAttachments))
	}
	w, err := s.sp.Create(index)
	if err != nil {
		return fmt.Errorf("%s: create spool file: %w", field, err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close spool file: %w", field, cerr)
		}
	}()

	s.inData = true
	defer func() { s.inData = false }()
	d := newDataSink(w, field, s.total)
	if err := s.streamData(d); err != nil {
		return err
	}
	if err := d.close(); err != nil {
		return err
	}
	s.total += d.size
	s.digests[index] = attachmentDigest{size: d.size, sha256: d.hash.Sum(nil)}
	s.out.WriteString(`""`)
	return nil
}

// streamData feeds the characters of a string, unescaped, to d, up to the closing quote.
func (s *scanner) streamData(d *dataSink) error {
	for {
		run, err := s.plainRun()
		if err != nil {
			return err
		}
		if len(run) > 0 {
			if err := d.write(run); err != nil {
				return err
			}
			if err := s.skip(len(run)); err != nil {
				return err
			}
			continue
		}
		c, err := s.readByte()
		if err != nil {
			return err
		}
		switch c {
		case '"':
			return nil
		case '\\':
			// JSON allows any character to be escaped, e.g. "\/" for "/".
			r, err := s.scanEscape(false)
			if err != nil {
				return err
			}
			if r >= utf8.RuneSelf {
				return d.badChar()
			}
			if err := d.write([]byte{byte(r)}); err != nil {
				return err
			}
		default:
			return d.badChar()
		}
	}
}

// plainRun returns the longest run of buffered input, at least one byte if any is left, that
// holds no quote, backslash or control character. It does not consume it: the slice is valid
// until the next read.
func (s *scanner) plainRun() ([]byte, error) {
	if s.r.Buffered() == 0 {
		if _, err := s.r.Peek(1); err != nil {
			return nil, s.readError(err)
		}
	}
	buf, _ := s.r.Peek(s.r.Buffered())
	for i, c := range buf {
		if c == '"' || c == '\\' || c < 0x20 {
			return buf[:i], nil
		}
	}
	return buf, nil
}

// peekByte returns the next byte without consuming it.
func (s *scanner) peekByte() (byte, error) {
	b, err := s.r.Peek(1)
	if err != nil {
		return 0, s.readError(err)
	}
	return b[0], nil
}

// peekNonSpace skips whitespace and returns the next byte without consuming it.
func (s *scanner) peekNonSpace() (byte, error) {
	if err := s.skipSpace(); err != nil {
		return 0, err
	}
	return s.peekByte()
}

// readByte consumes and returns the next byte.
func (s *scanner) readByte() (byte, error) {
	c, err := s.r.ReadByte()
	if err != nil {
		return 0, s.readError(err)
	}
	return c, s.consumed(1)
}

// expect consumes the next byte, which the caller has peeked and knows to be c, and copies
// it to s.out.
func (s *scanner) expect(c byte) error {
	if err := s.skip(1); err != nil {
		return err
	}
	s.out.WriteByte(c)
	return nil
}

// skipSpace consumes JSON whitespace; it is not copied to s.out.
func (s *scanner) skipSpace() error {
	for {
		if _, err := s.r.Peek(1); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return s.readError(err)
		}
		buf, _ := s.r.Peek(s.r.Buffered())
		n := 0
		for n < len(buf) && (buf[n] == ' ' || buf[n] == '\t' || buf[n] == '\n' || buf[n] == '\r') {
			n++
		}
		if n == 0 {
			return nil
		}
		if err := s.skip(n); err != nil {
			return err
		}
	}
}

// skip consumes n buffered bytes.
func (s *scanner) skip(n int) error {
	if _, err := s.r.Discard(n); err != nil {
		return s.readError(err)
	}
	return s.consumed(n)
}

// consumed accounts for n bytes consumed and enforces MaxMetadataBytes.
func (s *scanner) consumed(n int) error {
	s.off += int64(n)
	if s.inData {
		s.dataBytes += int64(n)
		return nil
	}
	if s.off-s.dataBytes > MaxMetadataBytes {
		return invalid("", fmt.Sprintf("the document is too large: without its attachments' content it may be at most %d bytes", MaxMetadataBytes))
	}
	return nil
}

// readError turns an error from the reader into the error to return: a ValidationError
// if the document is truncated, else a read error.
func (s *scanner) readError(err error) error {
	if errors.Is(err, io.EOF) {
		return invalid(formatPath(s.path), fmt.Sprintf("invalid JSON: the document ends unexpectedly after %d bytes; it may have been truncated", s.off))
	}
	return fmt.Errorf("read document at byte %d: %w", s.off, err)
}

// syntaxError returns a ValidationError for malformed JSON at the current position.
func (s *scanner) syntaxError(what string) error {
	return invalid(formatPath(s.path), fmt.Sprintf("invalid JSON at byte %d: %s", s.off, what))
}

// describeByte names an unexpected byte for a syntax error. Only structural characters
// are quoted: a letter or digit might belong to a patient's details, which errors never
// repeat.
func describeByte(c byte) string {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return "a letter"
	case isDigit(c):
		return "a digit"
	case c >= utf8.RuneSelf:
		return "a non-ASCII character"
	case c < 0x20 || c == 0x7F:
		return "a control character"
	default:
		return strconv.QuoteRune(rune(c))
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// dataSink decodes the base64 content of one attachment as it arrives, and passes the
// decoded bytes to the spool and a SHA-256 hash, enforcing the size limits.
//
// It accepts the standard alphabet with '=' padding only (RFC 4648 section 4), decoding
// in the strict mode that rejects non-zero padding bits, so that each content has exactly
// one encoding.
type dataSink struct {
	w     io.Writer
	hash  hash.Hash
	field string // the path of the data, for errors

	enc    [4096]byte // base64 characters not yet decoded; a multiple of 4
	n      int        // len of enc in use
	dec    [4096 / 4 * 3]byte
	chars  int64 // characters received
	padded bool  // whether a '=' has been received
	size   int64 // bytes decoded
	before int64 // bytes decoded for earlier attachments
}

func newDataSink(w io.Writer, field string, before int64) *dataSink {
	return &dataSink{w: w, hash: sha256.New(), field: field, before: before}
}

// write receives unescaped characters of the data.
func (d *dataSink) write(p []byte) error {
	for _, c := range p {
		if c == '=' {
			d.padded = true
		} else if d.padded || base64Value[c] == 0xFF {
			return d.badChar()
		}
	}
	d.chars += int64(len(p))
	for len(p) > 0 {
		k := copy(d.enc[d.n:], p)
		d.n += k
		p = p[k:]
		if d.n == len(d.enc) {
			if err := d.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// close decodes what is left at the end of the data.
func (d *dataSink) close() error {
	if d.chars%4 != 0 {
		return invalid(d.field, "is not valid base64: its length must be a multiple of 4, padded with '=' (standard base64, RFC 4648 section 4)")
	}
	return d.flush()
}

// flush decodes the pending characters, checks the size limits and passes the bytes on.
func (d *dataSink) flush() error {
	if d.n == 0 {
		return nil
	}
	m, err := base64Strict.Decode(d.dec[:], d.enc[:d.n])
	d.n = 0
	if err != nil {
		return invalid(d.field, "is not valid base64: padding '=' may only end the data, and the bits it pads must be zero (standard base64, RFC 4648 section 4)")
	}
	if d.size+int64(m) > MaxAttachmentBytes {
		return invalid(d.field, fmt.Sprintf("the attachment is larger than %d MiB once decoded; send files of at most %d MiB", MaxAttachmentBytes>>20, MaxAttachmentBytes>>20))
	}
	if d.before+d.size+int64(m) > MaxTotalAttachBytes {
		return invalid("attachments", fmt.Sprintf("the attachments are larger than %d MiB in total once decoded; send at most %d MiB of attachments per writeback", MaxTotalAttachBytes>>20, MaxTotalAttachBytes>>20))
	}
	d.size += int64(m)
	d.hash.Write(d.dec[:m]) // a hash never returns an error
	if _, err := d.w.Write(d.dec[:m]); err != nil {
		return fmt.Errorf("%s: write spool file: %w", d.field, err)
	}
	return nil
}

func (d *dataSink) badChar() error {
	return invalid(d.field, "is not valid base64: it may contain only A-Z, a-z, 0-9, '+', '/' and '=' padding at the end, without line breaks (standard base64, RFC 4648 section 4)")
}

// base64Strict is the encoding of attachment content.
var base64Strict = base64.StdEncoding.Strict()

// base64Value maps each byte to its value in the standard base64 alphabet, or 0xFF.
var base64Value = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = 0xFF
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()
