package checks

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MediaType is an attachment type the clinical system takes.
type MediaType struct {
	Name       string   // e.g. "application/pdf"
	Label      string   // as staff know it, e.g. "PDF"
	Extensions []string // file name endings that go with it, lower case with the dot
	// Signatures are the ways a file of the type can begin; content that begins with none of
	// them is refused. None: the content is not checked.
	Signatures [][]byte
}

// DefaultMediaTypes are the attachment types filed by default: documents and images EMIS Web
// shows without conversion.
var DefaultMediaTypes = []MediaType{
	{"application/pdf", "PDF", []string{".pdf"}, [][]byte{[]byte("%PDF-")}},
	{"image/jpeg", "JPEG", []string{".jpg", ".jpeg"}, [][]byte{{0xff, 0xd8, 0xff}}},
	{"image/png", "PNG", []string{".png"}, [][]byte{{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}}},
	{"image/gif", "GIF", []string{".gif"}, [][]byte{[]byte("GIF87a"), []byte("GIF89a")}},
	{"image/tiff", "TIFF", []string{".tif", ".tiff"}, [][]byte{{'I', 'I', 42, 0}, {'M', 'M', 0, 42}}},
	{"text/plain", "text", []string{".txt"}, nil},
	{"application/rtf", "RTF", []string{".rtf"}, [][]byte{[]byte(`{\rtf`)}},
	{"application/msword", "Word 97-2003", []string{".doc"}, [][]byte{{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1}}},
	{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word", []string{".docx"}, [][]byte{{'P', 'K', 3, 4}}},
}

// HeadSize is how many leading bytes of an attachment AttachmentContent needs.
const HeadSize = 16

// attachments checks the attachments' names, types and sizes.
func (p *Policy) attachments(atts []Attachment) *Failure {
	var total int64
	for i, a := range atts {
		n := i + 1
		if !safeFileName(a.FileName) {
			return &Failure{Code: CodeAttachmentNameUnsafe,
				Text: fmt.Sprintf("Attachment %d's file name (%q) is not safe to file: it holds a folder, a reserved name or character, or control characters.", n, a.FileName),
				Fix:  "Rename the file in the platform to a plain name such as letter.pdf and send the outcome again, then reject this one."}
		}
		mt, ok := p.mediaType(a.MediaType)
		if !ok {
			return &Failure{Code: CodeAttachmentTypeNotAllowed,
				Text: fmt.Sprintf("Attachment %d (%s) is of type %s, which is not filed into the record.", n, a.FileName, a.MediaType),
				Fix:  fmt.Sprintf("Convert it to one of %s and send the outcome again, then reject this one; or attach it by hand.", p.labels())}
		}
		if !hasExtension(a.FileName, mt.Extensions) {
			return &Failure{Code: CodeAttachmentExtensionMismatch,
				Text: fmt.Sprintf("Attachment %d (%s) is declared as %s, but its name does not end in %s.", n, a.FileName, mt.Label, strings.Join(mt.Extensions, " or ")),
				Fix:  "Check the file in the platform: give it the name its type goes with and send the outcome again, then reject this one."}
		}
		switch {
		case a.Size == 0:
			return &Failure{Code: CodeAttachmentEmpty,
				Text: fmt.Sprintf("Attachment %d (%s) is empty.", n, a.FileName),
				Fix:  "Attach the file again in the platform and send the outcome again, then reject this one."}
		case p.MaxAttachmentBytes > 0 && a.Size > p.MaxAttachmentBytes:
			return &Failure{Code: CodeAttachmentTooLarge,
				Text: fmt.Sprintf("Attachment %d (%s) is %s; at most %s can be filed per file.", n, a.FileName, megabytes(a.Size), megabytes(p.MaxAttachmentBytes)),
				Fix:  "Reduce the file (scan at a lower resolution, or split it) and send the outcome again, then reject this one; or attach it by hand."}
		}
		total += a.Size
	}
	if p.MaxTotalAttachmentBytes > 0 && total > p.MaxTotalAttachmentBytes {
		return &Failure{Code: CodeAttachmentsTooLarge,
			Text: fmt.Sprintf("The attachments come to %s; at most %s can be filed with one consultation.", megabytes(total), megabytes(p.MaxTotalAttachmentBytes)),
			Fix:  "Send fewer or smaller files with the outcome, then reject this one; or attach some by hand."}
	}
	return nil
}

// AttachmentContent checks that attachment index (counted from 0) begins as its declared type
// does; head holds its first HeadSize bytes (fewer if it is shorter). Run it after Writeback,
// which checks the type is allowed.
func (p *Policy) AttachmentContent(index int, a Attachment, head []byte) *Failure {
	mt, ok := p.mediaType(a.MediaType)
	if !ok || len(mt.Signatures) == 0 {
		return nil
	}
	for _, sig := range mt.Signatures {
		if bytes.HasPrefix(head, sig) {
			return nil
		}
	}
	return &Failure{Code: CodeAttachmentContentMismatch,
		Text: fmt.Sprintf("Attachment %d (%s) is declared as %s, but its content is not a %s file.", index+1, a.FileName, mt.Label, mt.Label),
		Fix:  "Check the file in the platform: attach the right file and send the outcome again, then reject this one."}
}

func (p *Policy) mediaType(name string) (MediaType, bool) {
	for _, mt := range p.MediaTypes {
		if strings.EqualFold(mt.Name, strings.TrimSpace(name)) {
			return mt, true
		}
	}
	return MediaType{}, false
}

func (p *Policy) labels() string {
	var l []string
	for _, mt := range p.MediaTypes {
		l = append(l, mt.Label)
	}
	return strings.Join(l, ", ")
}

func hasExtension(name string, exts []string) bool {
	ext := strings.ToLower(path.Ext(name))
	for _, e := range exts {
		if ext == e {
			return true
		}
	}
	return false
}

// safeFileName reports whether name can be filed as it is: one plain file name, with no
// folder, drive or stream part, no control or invisible formatting characters (such as the
// right-to-left override that disguises "fdp.exe" as "exe.pdf"), none of the characters
// Windows forbids, not a name Windows reserves for devices, and not ending in a dot or space.
func safeFileName(name string) bool {
	if name == "" || name == "." || name == ".." || !utf8.ValidString(name) ||
		strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") || strings.HasPrefix(name, " ") {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || strings.ContainsRune(`/\:*?"<>|`, r) {
			return false
		}
	}
	base, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch base {
	case "CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9":
		return false
	}
	return true
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
