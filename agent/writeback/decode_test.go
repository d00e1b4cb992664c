package writeback

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/docs"
)

// examplePNG is the content of the example's attachment.
func examplePNG(t *testing.T) []byte {
	t.Helper()
	att := obj(t, exampleDoc(t), "attachments.0")
	b, err := base64.StdEncoding.DecodeString(att["dataBase64"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeExample(t *testing.T) {
	var sp MemorySpool
	w, err := Decode(bytes.NewReader(docs.ExampleWriteback), &sp)
	if err != nil {
		t.Fatalf("Decode(example): %v", err)
	}
	png := examplePNG(t)
	sum := sha256.Sum256(png)
	value := 142.0
	want := &Writeback{
		Schema:      SchemaV1,
		JobID:       "ocp-2026-11-21:job.000123",
		PracticeODS: "A12345",
		Author:      Author{ClinicalUserID: "G8123456", DisplayName: "Dr A Patel"},
		Patient: Patient{
			NHSNumber:        "9434765919",
			FamilyName:       "O'Neill",
			GivenNames:       "Siobhán Máire",
			DateOfBirth:      "1980-02-29",
			Sex:              "female",
			IdentityVerified: true,
		},
		Summary: w.Summary, // checked below
		Codes: []Code{
			{System: SNOMEDSystem, Code: "25064002", Display: "Headache"},
			{System: SNOMEDSystem, Code: "271649006", Display: "Systolic blood pressure", Value: &value, Unit: "mm[Hg]"},
		},
		Attachments: []Attachment{{
			FileName: "photo.png", MediaType: "image/png",
			Size: int64(len(png)), SHA256: sum[:],
		}},
		CreatedAt: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
	}
	if !strings.HasPrefix(w.Summary, "Online consultation: headaches") || !strings.Contains(w.Summary, "\n") {
		t.Errorf("Summary = %q", w.Summary)
	}
	if !w.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", w.CreatedAt, want.CreatedAt)
	}
	w.CreatedAt = want.CreatedAt
	if !reflect.DeepEqual(w, want) {
		t.Errorf("Decode(example) =\n%+v\nwant\n%+v", w, want)
	}
	if got, ok := sp.Bytes(0); !ok || !bytes.Equal(got, png) {
		t.Errorf("spooled attachment 0 = %d bytes (present %v), want the %d-byte PNG", len(got), ok, len(png))
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("the example's attachment is not a PNG")
	}
	if sp.Len() != 1 {
		t.Errorf("spool holds %d attachments, want 1", sp.Len())
	}
}

func TestDecodeBytesKeepsContent(t *testing.T) {
	w, err := DecodeBytes(docs.ExampleWriteback)
	if err != nil {
		t.Fatal(err)
	}
	want := obj(t, exampleDoc(t), "attachments.0")["dataBase64"]
	if got := w.Attachments[0].DataBase64; got != want {
		t.Errorf("DataBase64 = %q, want %q", got, want)
	}
	if w.Attachments[0].Size != int64(len(examplePNG(t))) || len(w.Attachments[0].SHA256) != sha256.Size {
		t.Errorf("Size, SHA256 = %d, %x", w.Attachments[0].Size, w.Attachments[0].SHA256)
	}
}

// TestDecodeValidVariants checks documents that are unusual but valid.
func TestDecodeValidVariants(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, m map[string]any)
		check  func(t *testing.T, w *Writeback)
	}{
		{"empty NHS number", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["nhsNumber"] = "" }, nil},
		{"NHS number with spaces", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["nhsNumber"] = "943 476 5919" }, nil},
		{"NHS number failing modulus 11 (a later check)", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["nhsNumber"] = "1234567890" }, nil},
		{"identity not verified (a later check)", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["identityVerified"] = false }, nil},
		{"no optional fields", func(t *testing.T, m map[string]any) {
			delete(m, "codes")
			delete(m, "attachments")
			delete(obj(t, m, "patient"), "givenNames")
			delete(obj(t, m, "patient"), "sex")
		}, func(t *testing.T, w *Writeback) {
			if w.Codes != nil || w.Attachments != nil {
				t.Errorf("Codes, Attachments = %v, %v; want nil", w.Codes, w.Attachments)
			}
		}},
		{"empty arrays become nil", func(t *testing.T, m map[string]any) {
			m["codes"] = []any{}
			m["attachments"] = []any{}
		}, func(t *testing.T, w *Writeback) {
			if w.Codes != nil || w.Attachments != nil {
				t.Errorf("Codes, Attachments = %v, %v; want nil", w.Codes, w.Attachments)
			}
		}},
		{"empty summary", func(t *testing.T, m map[string]any) { m["summary"] = "" }, nil},
		{"summary of the maximum length", func(t *testing.T, m map[string]any) {
			m["summary"] = strings.Repeat("é", MaxSummaryChars)
		}, nil},
		{"summary with escapes and astral characters", func(t *testing.T, m map[string]any) {
			m["summary"] = "line 1\nline 2\t\"quoted\" \\ 🩺 \u2028"
		}, func(t *testing.T, w *Writeback) {
			if w.Summary != "line 1\nline 2\t\"quoted\" \\ 🩺 \u2028" {
				t.Errorf("Summary = %q", w.Summary)
			}
		}},
		{"zero-byte attachment", func(t *testing.T, m map[string]any) { obj(t, m, "attachments.0")["dataBase64"] = "" },
			func(t *testing.T, w *Writeback) {
				empty := sha256.Sum256(nil)
				if w.Attachments[0].Size != 0 || !bytes.Equal(w.Attachments[0].SHA256, empty[:]) {
					t.Errorf("Size, SHA256 = %d, %x", w.Attachments[0].Size, w.Attachments[0].SHA256)
				}
			}},
		{"twenty attachments", func(t *testing.T, m map[string]any) {
			atts := m["attachments"].([]any)
			for len(atts) < MaxAttachments {
				atts = append(atts, atts[0])
			}
			m["attachments"] = atts
		}, func(t *testing.T, w *Writeback) {
			if len(w.Attachments) != MaxAttachments || w.Attachments[19].Size != 96 {
				t.Errorf("got %d attachments", len(w.Attachments))
			}
		}},
		{"value without unit", func(t *testing.T, m map[string]any) { delete(obj(t, m, "codes.1"), "unit") }, nil},
		{"negative fractional value", func(t *testing.T, m map[string]any) { obj(t, m, "codes.1")["value"] = json.Number("-0.5e-3") },
			func(t *testing.T, w *Writeback) {
				if *w.Codes[1].Value != -0.0005 {
					t.Errorf("Value = %v", *w.Codes[1].Value)
				}
			}},
		{"createdAt with offset and fraction", func(t *testing.T, m map[string]any) { m["createdAt"] = "2026-06-01T10:30:00.123+01:00" },
			func(t *testing.T, w *Writeback) {
				if want := time.Date(2026, 6, 1, 9, 30, 0, 123e6, time.UTC); !w.CreatedAt.Equal(want) {
					t.Errorf("CreatedAt = %v, want %v", w.CreatedAt, want)
				}
			}},
		{"born today", func(t *testing.T, m map[string]any) {
			obj(t, m, "patient")["dateOfBirth"] = time.Now().Format(time.DateOnly)
		}, nil},
		{"leap day", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["dateOfBirth"] = "2000-02-29" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := exampleDoc(t)
			tt.change(t, m)
			w, err := DecodeBytes(encodeDoc(t, m))
			if err != nil {
				t.Fatalf("DecodeBytes: %v", err)
			}
			if tt.check != nil {
				tt.check(t, w)
			}
		})
	}
}

// TestDecodeValidRaw checks valid documents whose form encoding/json cannot produce.
func TestDecodeValidRaw(t *testing.T) {
	ex := string(docs.ExampleWriteback)
	tests := []struct{ name, doc string }{
		{"byte-order mark", "\uFEFF" + ex},
		{"compact", string(mustCompact(t, docs.ExampleWriteback))},
		{"whitespace everywhere", " \r\n\t" + strings.ReplaceAll(string(mustIndent(t, docs.ExampleWriteback, "\r\n", "\t ")), `": `, `"`+" \t:\r\n ") + "\n\t "},
		{"escaped member names", strings.Replace(ex, `"jobId"`, `"job\u0049d"`, 1)},
		{"escaped solidus in values", strings.Replace(ex, `"mm[Hg]"`, `"mm\/Hg"`, 1)},
		{"no trailing newline", strings.TrimSpace(ex)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeBytes([]byte(tt.doc)); err != nil {
				t.Fatalf("DecodeBytes: %v", err)
			}
		})
	}
}

func mustIndent(t *testing.T, b []byte, prefix, indent string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, prefix, indent); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func mustCompact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestBase64Escapes checks that JSON escapes inside attachment content, legal JSON, are
// decoded before the base64.
func TestBase64Escapes(t *testing.T) {
	png := examplePNG(t)
	enc := base64.StdEncoding.EncodeToString(png)
	if !strings.Contains(enc, "/") || !strings.Contains(enc, "+") {
		t.Fatal("test needs content whose base64 has '/' and '+'")
	}
	variants := map[string]string{
		"escaped solidus": strings.ReplaceAll(enc, "/", `\/`),
		"unicode escapes": strings.NewReplacer("+", `\u002B`, "/", `\u002f`, "A", `\u0041`, "=", `\u003D`).Replace(enc),
	}
	for name, data := range variants {
		t.Run(name, func(t *testing.T) {
			doc := strings.Replace(string(docs.ExampleWriteback), enc, data, 1)
			if doc == string(docs.ExampleWriteback) {
				t.Fatal("content not found in the example")
			}
			var sp MemorySpool
			w, err := Decode(strings.NewReader(doc), &sp)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got, _ := sp.Bytes(0); !bytes.Equal(got, png) {
				t.Errorf("spooled content differs from the PNG")
			}
			if w.Attachments[0].Size != int64(len(png)) {
				t.Errorf("Size = %d, want %d", w.Attachments[0].Size, len(png))
			}
		})
	}
}

// TestDecodeInvalid checks that each kind of invalid document is rejected with a problem
// naming the right field.
func TestDecodeInvalid(t *testing.T) {
	type change = func(t *testing.T, m map[string]any)
	set := func(path, key string, v any) change {
		return func(t *testing.T, m map[string]any) { obj(t, m, path)[key] = v }
	}
	del := func(path, key string) change {
		return func(t *testing.T, m map[string]any) { delete(obj(t, m, path), key) }
	}
	manyCodes := func(t *testing.T, m map[string]any) {
		codes := m["codes"].([]any)
		for len(codes) <= MaxCodes {
			codes = append(codes, codes[0])
		}
		m["codes"] = codes
	}
	manyAttachments := func(t *testing.T, m map[string]any) {
		atts := m["attachments"].([]any)
		for len(atts) <= MaxAttachments {
			atts = append(atts, atts[0])
		}
		m["attachments"] = atts
	}
	tomorrowButOne := time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly)

	tests := []struct {
		name      string
		change    change
		wantField string
		wantMsg   string
	}{
		// Document level.
		{"wrong schema", set("", "schema", "writeback/v2"), "schema", `must be "writeback/v1"`},
		{"schema not a string", set("", "schema", 1), "schema", "must be a string, not a number"},
		{"missing schema", del("", "schema"), "schema", "required field is missing"},
		{"unknown top-level field", set("", "priority", "high"), "priority", "unknown field; remove it (allowed: attachments, author, codes, createdAt, jobId, patient, practiceOds, schema, summary)"},
		{"case-different field name", set("", "JobId", "x"), "JobId", "unknown field"},
		{"missing jobId", del("", "jobId"), "jobId", "required field is missing"},
		{"empty jobId", set("", "jobId", ""), "jobId", "must not be empty"},
		{"jobId too long", set("", "jobId", strings.Repeat("j", 129)), "jobId", "is too long: 129 characters, at most 128 allowed"},
		{"jobId with a space", set("", "jobId", "job 1"), "jobId", "each a letter, digit"},
		{"jobId not a string", set("", "jobId", 12), "jobId", "must be a string, not a number"},
		{"lower-case ODS code", set("", "practiceOds", "a12345"), "practiceOds", "ODS code"},
		{"missing ODS code", del("", "practiceOds"), "practiceOds", "required field is missing"},
		{"missing summary", del("", "summary"), "summary", "required field is missing"},
		{"summary too long", set("", "summary", strings.Repeat("x", MaxSummaryChars+1)), "summary", "is too long: 100001 characters, at most 100000 allowed"},
		{"summary null", set("", "summary", nil), "summary", "must be a string, not null"},
		{"missing createdAt", del("", "createdAt"), "createdAt", "required field is missing"},
		{"createdAt without zone", set("", "createdAt", "2026-11-21T09:30:00"), "createdAt", "RFC 3339"},
		{"createdAt date only", set("", "createdAt", "2026-11-21"), "createdAt", "RFC 3339"},
		{"createdAt leap second", set("", "createdAt", "2026-12-31T23:59:60Z"), "createdAt", "RFC 3339"},
		{"createdAt lower-case t", set("", "createdAt", "2026-11-21t09:30:00z"), "createdAt", "RFC 3339"},

		// Author.
		{"missing author", del("", "author"), "author", "required field is missing"},
		{"author not an object", set("", "author", "Dr A Patel"), "author", "must be an object, not a string"},
		{"missing clinicalUserId", del("author", "clinicalUserId"), "author.clinicalUserId", "required field is missing"},
		{"empty displayName", set("author", "displayName", ""), "author.displayName", "must not be empty"},
		{"displayName too long", set("author", "displayName", strings.Repeat("D", 201)), "author.displayName", "at most 200"},
		{"unknown author field", set("author", "role", "GP"), "author.role", "allowed: clinicalUserId, displayName"},

		// Patient.
		{"missing patient", del("", "patient"), "patient", "required field is missing"},
		{"patient array", set("", "patient", []any{}), "patient", "must be an object, not an array"},
		{"unknown patient field", set("patient", "nickname", "Shiv"), "patient.nickname", "unknown field; remove it (allowed: dateOfBirth, familyName, givenNames, identityVerified, nhsNumber, sex)"},
		{"missing familyName", del("patient", "familyName"), "patient.familyName", "required field is missing"},
		{"empty familyName", set("patient", "familyName", ""), "patient.familyName", "must not be empty"},
		{"familyName too long", set("patient", "familyName", strings.Repeat("N", 101)), "patient.familyName", "at most 100"},
		{"givenNames too long", set("patient", "givenNames", strings.Repeat("G", 201)), "patient.givenNames", "at most 200"},
		{"NHS number with letters", set("patient", "nhsNumber", "943476591X"), "patient.nhsNumber", "only digits and spaces"},
		{"NHS number too long", set("patient", "nhsNumber", strings.Repeat("9", 33)), "patient.nhsNumber", "at most 32"},
		{"NHS number as a number", set("patient", "nhsNumber", json.Number("9434765919")), "patient.nhsNumber", "must be a string, not a number"},
		{"missing NHS number", del("patient", "nhsNumber"), "patient.nhsNumber", "required field is missing"},
		{"not a leap year", set("patient", "dateOfBirth", "1981-02-29"), "patient.dateOfBirth", "is not a real calendar date; use YYYY-MM-DD"},
		{"month 13", set("patient", "dateOfBirth", "1980-13-01"), "patient.dateOfBirth", "is not a real calendar date"},
		{"day 31 of a 30-day month", set("patient", "dateOfBirth", "1980-04-31"), "patient.dateOfBirth", "is not a real calendar date"},
		{"UK date order", set("patient", "dateOfBirth", "29/02/1980"), "patient.dateOfBirth", "use YYYY-MM-DD"},
		{"date-time", set("patient", "dateOfBirth", "1980-02-29T00:00:00Z"), "patient.dateOfBirth", "use YYYY-MM-DD"},
		{"born in the future", set("patient", "dateOfBirth", tomorrowButOne), "patient.dateOfBirth", "is in the future"},
		{"missing dateOfBirth", del("patient", "dateOfBirth"), "patient.dateOfBirth", "required field is missing"},
		{"unknown sex", set("patient", "sex", "F"), "patient.sex", `must be one of "female", "male", "other", "unknown"`},
		{"identityVerified as a string", set("patient", "identityVerified", "yes"), "patient.identityVerified", "must be a boolean, not a string"},
		{"missing identityVerified", del("patient", "identityVerified"), "patient.identityVerified", "required field is missing"},

		// Codes.
		{"codes not an array", set("", "codes", map[string]any{}), "codes", "must be an array, not an object"},
		{"too many codes", manyCodes, "codes", "has too many items: 101, at most 100 allowed"},
		{"code not an object", set("", "codes", []any{"25064002"}), "codes[0]", "must be an object, not a string"},
		{"other code system", set("codes.0", "system", "http://read.info/ctv3"), "codes[0].system", `must be "http://snomed.info/sct"`},
		{"missing system", del("codes.0", "system"), "codes[0].system", "required field is missing"},
		{"code too short", set("codes.0", "code", "12345"), "codes[0].code", "6 to 18 digits"},
		{"code as a number", set("codes.0", "code", 25064002), "codes[0].code", "must be a string, not a number"},
		{"empty display", set("codes.1", "display", ""), "codes[1].display", "must not be empty"},
		{"value as a string", set("codes.1", "value", "142"), "codes[1].value", "must be a number, not a string"},
		{"value out of range", set("codes.1", "value", json.Number("1e400")), "codes[1].value", "too large a number"},
		{"unit without value", del("codes.1", "value"), "codes[1].unit", "only allowed together with value"},
		{"unit too long", set("codes.1", "unit", strings.Repeat("u", 33)), "codes[1].unit", "at most 32"},
		{"unknown code field", set("codes.1", "interpretation", "high"), "codes[1].interpretation", "allowed: code, display, system, unit, value"},

		// Attachments.
		{"too many attachments", manyAttachments, "attachments", "more than 20 attachments"},
		{"missing fileName", del("attachments.0", "fileName"), "attachments[0].fileName", "required field is missing"},
		{"empty fileName", set("attachments.0", "fileName", ""), "attachments[0].fileName", "must not be empty"},
		{"fileName too long", set("attachments.0", "fileName", strings.Repeat("f", 256)+".png"), "attachments[0].fileName", "at most 255"},
		{"media type without subtype", set("attachments.0", "mediaType", "png"), "attachments[0].mediaType", "type/subtype"},
		{"media type with parameters", set("attachments.0", "mediaType", "text/plain; charset=utf-8"), "attachments[0].mediaType", "type/subtype"},
		{"missing dataBase64", del("attachments.0", "dataBase64"), "attachments[0].dataBase64", "required field is missing"},
		{"dataBase64 not a string", set("attachments.0", "dataBase64", 1), "attachments[0].dataBase64", "must be a string, not a number"},
		{"base64url alphabet", set("attachments.0", "dataBase64", "ab-_"), "attachments[0].dataBase64", "only A-Z, a-z, 0-9, '+', '/'"},
		{"base64 with a line break", set("attachments.0", "dataBase64", "QUJD\nREVG"), "attachments[0].dataBase64", "without line breaks"},
		{"base64 with a space", set("attachments.0", "dataBase64", "QUJD REVG"), "attachments[0].dataBase64", "not valid base64"},
		{"base64 unpadded", set("attachments.0", "dataBase64", "QUI"), "attachments[0].dataBase64", "multiple of 4"},
		{"base64 data after padding", set("attachments.0", "dataBase64", "QQ==QUJD"), "attachments[0].dataBase64", "not valid base64"},
		{"base64 too much padding", set("attachments.0", "dataBase64", "QUJD===="), "attachments[0].dataBase64", "not valid base64"},
		{"base64 non-zero padding bits", set("attachments.0", "dataBase64", "QR=="), "attachments[0].dataBase64", "bits it pads must be zero"},
		{"base64 non-ASCII", set("attachments.0", "dataBase64", "QUJé"), "attachments[0].dataBase64", "not valid base64"},
		{"second attachment bad", func(t *testing.T, m map[string]any) {
			manyAttachments(t, m)
			m["attachments"] = m["attachments"].([]any)[:2]
			m["attachments"].([]any)[1] = map[string]any{"fileName": "b", "mediaType": "image/png", "dataBase64": "!"}
		}, "attachments[1].dataBase64", "not valid base64"},
		{"attachments not an array", set("", "attachments", map[string]any{"dataBase64": "QUJD"}), "attachments", "must be an array, not an object"},
		{"unknown attachment field", set("attachments.0", "url", "https://example.org/x.png"), "attachments[0].url", "allowed: dataBase64, fileName, mediaType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := exampleDoc(t)
			tt.change(t, m)
			_, err := DecodeBytes(encodeDoc(t, m))
			if err == nil {
				t.Fatal("DecodeBytes succeeded, want an error")
			}
			assertProblem(t, err, tt.wantField, tt.wantMsg)
		})
	}
}

// assertProblem checks that err reports a problem with the field and a message containing
// wantMsg, and that the error's text starts with the operation.
func assertProblem(t *testing.T, err error, wantField, wantMsg string) {
	t.Helper()
	if !strings.HasPrefix(err.Error(), "decode writeback: invalid writeback document: ") {
		t.Errorf("error %q does not name the operation", err)
	}
	for _, p := range problemsOf(t, err) {
		if p.Field == wantField && strings.Contains(p.Message, wantMsg) {
			return
		}
	}
	t.Errorf("error %q\nhas no problem %s: ...%s...", err, wantField, wantMsg)
}

// TestDecodeMalformed checks documents that are not well-formed JSON, or not one JSON
// object with unique field names.
func TestDecodeMalformed(t *testing.T) {
	ex := string(docs.ExampleWriteback)
	replace := func(old, new string) string {
		t.Helper()
		s := strings.Replace(ex, old, new, 1)
		if s == ex {
			t.Fatalf("%q not found in the example", old)
		}
		return s
	}
	deep := ex[:len(ex)-2] + `, "x": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}"

	tests := []struct {
		name      string
		doc       string
		wantField string
		wantMsg   string
	}{
		{"empty", "", "", "the document is empty"},
		{"only whitespace", " \n\t ", "", "the document is empty"},
		{"array", "[]", "", "the document must be an object, not an array"},
		{"string", `"writeback"`, "", "the document must be an object, not a string"},
		{"null", "null", "", "the document must be an object, not null"},
		{"trailing garbage", ex + "x", "", "unexpected data after the end of the document"},
		{"two documents", ex + ex, "", "unexpected data after the end of the document"},
		{"trailing comma in object", replace(`"A12345",`, `"A12345",}`), "", "expected a field name"},
		{"trailing comma in array", replace(`"Headache"
    },`, `"Headache"
    },]`), "codes[1]", "expected a value"},
		{"missing comma", replace(`"A12345",`, `"A12345"`), "", "expected ',' or '}'"},
		{"missing colon", replace(`"practiceOds":`, `"practiceOds"`), "practiceOds", "expected ':'"},
		{"single quotes", replace(`"A12345"`, `'A12345'`), "practiceOds", "expected a value but found '\\''"},
		{"unquoted field name", replace(`"practiceOds"`, `practiceOds`), "", "expected a field name in double quotes but found a letter"},
		{"bare word", replace(`"A12345"`, `A12345`), "practiceOds", "found a letter"},
		{"bad literal", replace(`true`, `True`), "patient.identityVerified", "found a letter"},
		{"misspelt literal", replace(`true`, `ture`), "patient.identityVerified", "must be true, false or null"},
		{"NaN", replace(`142`, `NaN`), "codes[1].value", "found a letter"},
		{"leading zero", replace(`142`, `0142`), "codes[1].value", "number is malformed"},
		{"bare decimal point", replace(`142`, `142.`), "codes[1].value", "number is malformed"},
		{"plus sign", replace(`142`, `+142`), "codes[1].value", "expected a value but found '+'"},
		{"number too long", replace(`142`, strings.Repeat("1", 101)), "codes[1].value", "more than 100 characters"},
		{"raw newline in a string", replace(`"Dr A Patel"`, "\"Dr A\nPatel\""), "author.displayName", "unescaped control character"},
		{"raw tab in base64", replace(`"iVBOR`, "\"iV\tBOR"), "attachments[0].dataBase64", "not valid base64"},
		{"invalid escape", replace(`"Dr A Patel"`, `"Dr A\x Patel"`), "author.displayName", "invalid escape sequence"},
		{"short unicode escape", replace(`"Dr A Patel"`, `"Dr A\u12 Patel"`), "author.displayName", "four hex digits"},
		{"lone high surrogate", replace(`"Dr A Patel"`, `"Dr A\ud83e Patel"`), "author.displayName", "unpaired UTF-16 surrogate"},
		{"lone low surrogate", replace(`"Dr A Patel"`, `"Dr A\udd7a Patel"`), "author.displayName", "unpaired UTF-16 surrogate"},
		{"high surrogate then BMP", replace(`"Dr A Patel"`, `"Dr A\ud83e\u0041 Patel"`), "author.displayName", "unpaired UTF-16 surrogate"},
		{"invalid UTF-8", replace(`"Dr A Patel"`, "\"Dr A \xff Patel\""), "author.displayName", "not valid UTF-8"},
		{"Latin-1 text", replace(`"Siobhán Máire"`, "\"Siobh\xe1n\""), "patient.givenNames", "not valid UTF-8"},
		{"invalid UTF-8 in a field name", replace(`"practiceOds"`, "\"practice\xffOds\""), "", "not valid UTF-8"},
		{"nested too deeply", deep, "x[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]", "nested too deeply"},
		{"duplicate top-level field", replace(`"practiceOds": "A12345",`, `"practiceOds": "A12345", "practiceOds": "B12345",`), "practiceOds", "appears more than once"},
		{"duplicate field via escape", replace(`"practiceOds": "A12345",`, `"practiceOds": "A12345", "practice\u004fds": "B12345",`), "practiceOds", "appears more than once"},
		{"duplicate patient field", replace(`"familyName": "O'Neill",`, `"familyName": "O'Neill", "familyName": "Smith",`), "patient.familyName", "appears more than once"},
		{"duplicate attachment data", replace(`"mediaType": "image/png",`, `"mediaType": "image/png", "dataBase64": "QUJD",`), "attachments[0].dataBase64", "appears more than once"},
		{"duplicate attachments array", replace(`"createdAt"`, `"attachments": [], "createdAt"`), "attachments", "appears more than once"},
		{"unknown field with an odd name", replace(`"practiceOds"`, `"odd name": 1, "practiceOds"`), `["odd name"]`, "unknown field"},
		{"metadata too large", replace(`"summary": "`, `"summary": "`+strings.Repeat(" ", MaxMetadataBytes)), "", "the document is too large"},
		{"whitespace too large", strings.Repeat(" ", MaxMetadataBytes+1) + ex, "", "the document is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.doc), new(MemorySpool))
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			assertProblem(t, err, tt.wantField, tt.wantMsg)
		})
	}
}

// TestDecodeTruncated cuts the example at every byte: every proper prefix is invalid.
func TestDecodeTruncated(t *testing.T) {
	ex := bytes.TrimSpace(docs.ExampleWriteback)
	for n := range len(ex) {
		_, err := Decode(bytes.NewReader(ex[:n]), new(MemorySpool))
		if err == nil {
			t.Fatalf("Decode(first %d bytes) succeeded", n)
		}
		problems := problemsOf(t, err)
		msg := problems[0].Message
		if n > 0 && !strings.Contains(msg, "ends unexpectedly") && !strings.Contains(msg, "not valid base64") && !strings.Contains(msg, "not valid UTF-8") {
			t.Fatalf("Decode(first %d bytes): %v", n, err)
		}
	}
}

// TestErrorsNeverQuotePatientData decodes invalid documents holding canary values in the
// patient's details, summary and attachment, and checks that no error repeats them: errors
// are logged.
func TestErrorsNeverQuotePatientData(t *testing.T) {
	const canary = "ZQXCANARY"
	canaryB64 := base64.StdEncoding.EncodeToString([]byte(canary + canary + canary))
	withCanaries := func(t *testing.T) map[string]any {
		m := exampleDoc(t)
		p := obj(t, m, "patient")
		p["familyName"] = canary + "-family"
		p["givenNames"] = canary + "-given"
		m["summary"] = canary + " summary"
		obj(t, m, "attachments.0")["dataBase64"] = canaryB64
		return m
	}
	type change = func(t *testing.T, m map[string]any)
	tests := []struct {
		name   string
		change change
		raw    func(doc string) string // applied to the encoded document, if set
	}{
		{"family name too long", func(t *testing.T, m map[string]any) {
			obj(t, m, "patient")["familyName"] = strings.Repeat(canary, 20)
		}, nil},
		{"given names too long", func(t *testing.T, m map[string]any) {
			obj(t, m, "patient")["givenNames"] = strings.Repeat(canary, 30)
		}, nil},
		{"NHS number with letters", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["nhsNumber"] = canary }, nil},
		{"NHS number too long", func(t *testing.T, m map[string]any) {
			obj(t, m, "patient")["nhsNumber"] = "9434765919" + strings.Repeat(canary, 3)
		}, nil},
		{"date of birth not a date", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["dateOfBirth"] = canary }, nil},
		{"date of birth not real", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["dateOfBirth"] = "1981-02-29" }, nil},
		{"sex not allowed", func(t *testing.T, m map[string]any) { obj(t, m, "patient")["sex"] = canary }, nil},
		{"summary too long", func(t *testing.T, m map[string]any) {
			m["summary"] = strings.Repeat(canary, MaxSummaryChars/len(canary)+1)
		}, nil},
		{"summary wrong type", func(t *testing.T, m map[string]any) { m["summary"] = []any{canary} }, nil},
		{"attachment data not base64", func(t *testing.T, m map[string]any) {
			obj(t, m, "attachments.0")["dataBase64"] = canary + "!"
		}, nil},
		{"attachment data unpadded", func(t *testing.T, m map[string]any) {
			obj(t, m, "attachments.0")["dataBase64"] = canaryB64 + "QQ"
		}, nil},
		{"file name and media type bad", func(t *testing.T, m map[string]any) {
			obj(t, m, "attachments.0")["mediaType"] = canary
			obj(t, m, "attachments.0")["fileName"] = ""
		}, nil},
		{"other field invalid", func(t *testing.T, m map[string]any) { m["schema"] = canary }, nil},
		{"invalid escape in family name", nil, func(doc string) string {
			return strings.Replace(doc, canary+"-family", canary+`\x`, 1)
		}},
		{"unquoted family name", nil, func(doc string) string {
			return strings.Replace(doc, `"`+canary+`-family"`, canary, 1)
		}},
		{"truncated in the summary", nil, func(doc string) string {
			i := strings.Index(doc, canary+" summary")
			return doc[:i+len(canary)+3]
		}},
		{"control character in the summary", nil, func(doc string) string {
			return strings.Replace(doc, canary+" summary", canary+"\x01", 1)
		}},
		{"invalid UTF-8 in given names", nil, func(doc string) string {
			return strings.Replace(doc, canary+"-given", canary+"\xff", 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := withCanaries(t)
			if tt.change != nil {
				tt.change(t, m)
			}
			doc := string(encodeDoc(t, m))
			if tt.raw != nil {
				doc = tt.raw(doc)
			}
			_, err := DecodeBytes([]byte(doc))
			if err == nil {
				t.Fatal("DecodeBytes succeeded, want an error")
			}
			problemsOf(t, err)
			for _, s := range []string{canary, canaryB64[:8], "1981-02-29"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error quotes patient data %q: %v", s, err)
				}
			}
		})
	}
}

// TestAttachmentSizeLimits checks the limits on decoded attachment size, and that Decode
// stops reading soon after one is exceeded.
func TestAttachmentSizeLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes over 100 MB of base64")
	}
	encodedLen := func(n int64) int64 { return (n + 2) / 3 * 4 }
	tests := []struct {
		name       string
		sizes      []int64
		wantField  string // "" for a valid document
		wantMsg    string
		readAtMost int64
	}{
		{name: "20 MiB accepted", sizes: []int64{MaxAttachmentBytes}},
		{name: "20 MiB + 1 rejected", sizes: []int64{MaxAttachmentBytes + 1},
			wantField: "attachments[0].dataBase64", wantMsg: "larger than 20 MiB once decoded",
			readAtMost: encodedLen(MaxAttachmentBytes) + 64<<10},
		{name: "30 MiB rejected early", sizes: []int64{30 << 20},
			wantField: "attachments[0].dataBase64", wantMsg: "larger than 20 MiB once decoded",
			readAtMost: encodedLen(MaxAttachmentBytes) + 64<<10},
		{name: "50 MiB in all accepted", sizes: []int64{MaxAttachmentBytes, MaxAttachmentBytes, MaxTotalAttachBytes - 2*MaxAttachmentBytes}},
		{name: "50 MiB + 1 in all rejected", sizes: []int64{MaxAttachmentBytes, MaxAttachmentBytes, MaxTotalAttachBytes - 2*MaxAttachmentBytes + 1, 1 << 20},
			wantField: "attachments", wantMsg: "larger than 50 MiB in total",
			readAtMost: encodedLen(MaxTotalAttachBytes) + 64<<10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &countingReader{r: largeDocument(t, tt.sizes...)}
			sp := newSizeSpool()
			w, err := Decode(r, sp)
			var total int64
			for i, n := range sp.sizes {
				if n > MaxAttachmentBytes {
					t.Errorf("attachment %d: spool received %d bytes, more than the limit", i, n)
				}
				if !sp.closed[i] {
					t.Errorf("attachment %d: spool file not closed", i)
				}
				total += n
			}
			if total > MaxTotalAttachBytes {
				t.Errorf("spool received %d bytes in all, more than the limit", total)
			}
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				for i, a := range w.Attachments {
					if a.Size != tt.sizes[i] || sp.sizes[i] != tt.sizes[i] {
						t.Errorf("attachment %d: Size %d, spooled %d, want %d", i, a.Size, sp.sizes[i], tt.sizes[i])
					}
				}
				return
			}
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			assertProblem(t, err, tt.wantField, tt.wantMsg)
			if r.n > tt.readAtMost {
				t.Errorf("Decode read %d bytes before rejecting the document, want at most %d", r.n, tt.readAtMost)
			}
		})
	}
}

// TestDecodeMemoryBounded checks that decoding a large attachment allocates far less than
// its size: the content is streamed, never held.
func TestDecodeMemoryBounded(t *testing.T) {
	const size = 10 << 20
	if _, err := loadSchema(); err != nil { // compile the schema outside the measurement
		t.Fatal(err)
	}
	r := largeDocument(t, size)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := Decode(r, DiscardSpool)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if w.Attachments[0].Size != size {
		t.Fatalf("Size = %d, want %d", w.Attachments[0].Size, size)
	}
	const budget = 1 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > budget {
		t.Errorf("decoding a %d-byte attachment allocated %d bytes, want at most %d", size, alloc, budget)
	} else {
		t.Logf("decoding a %d-byte attachment allocated %d bytes", size, alloc)
	}
}

// TestRoundTrip builds a document in Go, encodes it and decodes it.
func TestRoundTrip(t *testing.T) {
	value := 36.85
	content := []byte("%PDF-1.4\n% not really a PDF, but bytes all the same: \x00\x01\xfe\xff")
	sum := sha256.Sum256(content)
	want := &Writeback{
		Schema:      SchemaV1,
		JobID:       "rt-1",
		PracticeODS: "Y01234",
		Author:      Author{ClinicalUserID: "u1", DisplayName: "Nurse B Okafor"},
		Patient: Patient{
			NHSNumber: "", FamilyName: "D'Arcy-Ní Bhriain", DateOfBirth: "2024-02-29",
			Sex: "unknown", IdentityVerified: false,
		},
		Summary: "Temperature \"normal\" <38°C> & improving\u2028🌡️",
		Codes: []Code{
			{System: SNOMEDSystem, Code: "386661006", Display: "Fever", Value: &value, Unit: "Cel"},
		},
		Attachments: []Attachment{
			{FileName: "notes.pdf", MediaType: "application/pdf", DataBase64: base64.StdEncoding.EncodeToString(content), Size: int64(len(content)), SHA256: sum[:]},
			{FileName: "empty.txt", MediaType: "text/plain", DataBase64: "", Size: 0, SHA256: sha256.New().Sum(nil)},
		},
		CreatedAt: time.Date(2026, 3, 29, 1, 30, 0, 500, time.FixedZone("", 3600)),
	}
	b, err := Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBytes(b)
	if err != nil {
		t.Fatalf("DecodeBytes(Marshal(w)): %v\n%s", err, b)
	}
	assertEqual(t, got, want)

	var buf bytes.Buffer
	if err := Encode(&buf, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), b) {
		t.Errorf("Encode(DecodeBytes(Marshal(w))) differs from Marshal(w):\n%s\n%s", buf.Bytes(), b)
	}
}

// assertEqual compares decoded documents, times by instant and offset.
func assertEqual(t testing.TB, got, want *Writeback) {
	t.Helper()
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", g.CreatedAt, w.CreatedAt)
	}
	_, goff := g.CreatedAt.Zone()
	_, woff := w.CreatedAt.Zone()
	if goff != woff {
		t.Errorf("CreatedAt offset = %d, want %d", goff, woff)
	}
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("documents differ:\n got %+v\nwant %+v", g, w)
	}
}

func TestDecodeConcurrently(t *testing.T) {
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			doc := docs.ExampleWriteback
			if i%2 == 1 {
				doc = bytes.Replace(doc, []byte("1980-02-29"), []byte("1981-02-29"), 1)
			}
			_, err := DecodeBytes(doc)
			if i%2 == 1 {
				if err == nil {
					err = errors.New("invalid document accepted")
				} else {
					err = nil
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// failingSpool fails on Create, Write or Close.
type failingSpool struct {
	failCreate, failWrite, failClose bool
	closed                           bool
}

var errSpool = errors.New("disk full")

func (s *failingSpool) Create(int) (io.WriteCloser, error) {
	if s.failCreate {
		return nil, errSpool
	}
	return s, nil
}

func (s *failingSpool) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errSpool
	}
	return len(p), nil
}

func (s *failingSpool) Close() error {
	s.closed = true
	if s.failClose {
		return errSpool
	}
	return nil
}

func TestSpoolErrors(t *testing.T) {
	tests := []struct {
		name    string
		sp      *failingSpool
		wantMsg string
	}{
		{"create", &failingSpool{failCreate: true}, "decode writeback: attachments[0].dataBase64: create spool file: disk full"},
		{"write", &failingSpool{failWrite: true}, "decode writeback: attachments[0].dataBase64: write spool file: disk full"},
		{"close", &failingSpool{failClose: true}, "decode writeback: attachments[0].dataBase64: close spool file: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(docs.ExampleWriteback), tt.sp)
			if !errors.Is(err, errSpool) {
				t.Fatalf("Decode: %v, want an error wrapping %v", err, errSpool)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				t.Errorf("a spool failure is reported as a ValidationError")
			}
			if !tt.sp.failCreate && !tt.sp.closed {
				t.Errorf("spool file not closed")
			}
		})
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadError(t *testing.T) {
	errNet := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(docs.ExampleWriteback[:500]), failingReader{errNet})
	_, err := Decode(r, new(MemorySpool))
	if !errors.Is(err, errNet) {
		t.Fatalf("Decode: %v, want an error wrapping %v", err, errNet)
	}
	if want := "decode writeback: read document at byte 500: connection reset"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestValidationErrorText(t *testing.T) {
	ve := &ValidationError{}
	for i := range maxReportedProblems + 3 {
		ve.Problems = append(ve.Problems, Problem{Field: fmt.Sprintf("codes[%d].code", i), Message: "bad"})
	}
	ve.Problems[0].Field = ""
	got := ve.Error()
	if !strings.HasPrefix(got, "invalid writeback document: bad; codes[1].code: bad; ") {
		t.Errorf("Error() = %q", got)
	}
	if !strings.HasSuffix(got, "codes[19].code: bad; and 3 more problems") {
		t.Errorf("Error() = %q", got)
	}
}

func TestFormatPath(t *testing.T) {
	tests := []struct {
		path []pathElem
		want string
	}{
		{nil, ""},
		{[]pathElem{{key: "patient"}, {key: "dateOfBirth"}}, "patient.dateOfBirth"},
		{[]pathElem{{key: "attachments"}, {index: 1, isIndex: true}, {key: "dataBase64"}}, "attachments[1].dataBase64"},
		{[]pathElem{{key: "patient"}, {key: "first name"}}, `patient["first name"]`},
		{[]pathElem{{key: ""}}, `[""]`},
		{[]pathElem{{key: strings.Repeat("é", 30)}}, `["` + strings.Repeat("é", 20) + `…"]`},
		{[]pathElem{{key: "a\nb"}}, `["a\nb"]`},
	}
	for _, tt := range tests {
		if got := formatPath(tt.path); got != tt.want {
			t.Errorf("formatPath(%v) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestSchemaMirrorsConstants checks that the published schema and the Go constants agree.
func TestSchemaMirrorsConstants(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(docs.WritebackSchema, &s); err != nil {
		t.Fatal(err)
	}
	at := func(path ...string) any {
		var cur any = s
		for _, k := range path {
			cur = cur.(map[string]any)[k]
		}
		return cur
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"schema const", at("properties", "schema", "const"), SchemaV1},
		{"jobId maxLength", at("properties", "jobId", "maxLength"), float64(MaxJobIDLen)},
		{"summary maxLength", at("properties", "summary", "maxLength"), float64(MaxSummaryChars)},
		{"codes maxItems", at("properties", "codes", "maxItems"), float64(MaxCodes)},
		{"codes system", at("properties", "codes", "items", "properties", "system", "const"), SNOMEDSystem},
		{"attachments maxItems", at("properties", "attachments", "maxItems"), float64(MaxAttachments)},
		{"fileName maxLength", at("properties", "attachments", "items", "properties", "fileName", "maxLength"), float64(MaxFileNameChars)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: schema has %v, Go has %v", tt.name, tt.got, tt.want)
		}
	}
	if !strings.Contains(at("properties", "jobId", "pattern").(string), fmt.Sprintf("{1,%d}", MaxJobIDLen)) {
		t.Errorf("jobId pattern does not mirror MaxJobIDLen")
	}
	if id := at("$id"); id != schemaURL {
		t.Errorf("$id = %v, want %v", id, schemaURL)
	}
}

func TestValidNumber(t *testing.T) {
	valid := []string{"0", "-0", "142", "-1", "0.5", "-0.5e-3", "1E10", "1e+2", "10.25"}
	invalid := []string{"", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "1.2.3", "1e2e3", "--1", "0x10"}
	for _, s := range valid {
		if !validNumber([]byte(s)) {
			t.Errorf("validNumber(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if validNumber([]byte(s)) {
			t.Errorf("validNumber(%q) = true, want false", s)
		}
	}
}
