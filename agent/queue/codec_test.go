package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// fill sets every field reachable from v (exported or not) to a value that is not its zero
// value, so that a field the codec forgets shows up as a difference. Times get
// nanoseconds and a zone offset, floats a fraction.
func fill(t testing.TB, v reflect.Value, rng *rand.Rand) {
	t.Helper()
	if v.Type() == reflect.TypeFor[time.Time]() {
		off := (rng.IntN(48) - 24) * 1800
		v.Set(reflect.ValueOf(time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(time.FixedZone("", off))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-é\"\x00", rng.IntN(1e6)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(-1 - rng.Int64N(1e6))
	case reflect.Uint8:
		v.SetUint(1 + rng.Uint64N(255))
	case reflect.Uint64:
		v.SetUint(1 + rng.Uint64())
	case reflect.Float64:
		v.SetFloat(rng.Float64()*1000 - 500)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), rng)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), rng)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s.%s is unexported: the codec test cannot fill it", v.Type(), v.Type().Field(i).Name)
			}
			fill(t, v.Field(i), rng)
		}
	default:
		t.Fatalf("fill: no rule for %s (%s): teach the codec and this test about it", v.Type(), v.Kind())
	}
}

// sameJSON fails unless a and b encode to the same JSON: the JSON encoding is the
// reference for what a stored value must keep.
func sameJSON(t *testing.T, what string, a, b any) {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, jb) {
		t.Errorf("%s changed in the round trip:\n got %s\nwant %s", what, jb, ja)
	}
}

func TestCodecRoundTripsEveryField(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		var r Record
		fill(t, reflect.ValueOf(&r).Elem(), rng)
		r.State = States[rng.IntN(len(States))]
		got, err := decodeRecord(appendRecord(nil, &r))
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "record", &r, got)

		var a AuditEntry
		fill(t, reflect.ValueOf(&a).Elem(), rng)
		ga, err := decodeAudit(appendAudit(nil, &a))
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "audit entry", &a, &ga)

		var w writeback.Writeback
		fill(t, reflect.ValueOf(&w).Elem(), rng)
		b, err := decodeBody(appendBody(nil, &w))
		if err != nil {
			t.Fatal(err)
		}
		digest := []byte("0123456789abcdef0123456789abcdef")
		b1, err := decodeBody(appendBodyV1(nil, digest, &w))
		if err != nil {
			t.Fatal(err)
		}
		for i := range w.Attachments { // not part of the stored document
			w.Attachments[i].Size, w.Attachments[i].SHA256 = 0, nil
		}
		sameJSON(t, "document", &w, b.Doc)
		sameJSON(t, "document (v1)", &w, b1.Doc)
		if !bytes.Equal(b1.Digest, digest) {
			t.Errorf("digest %x, want %x", b1.Digest, digest)
		}
	}
}

func TestCodecKeepsTimesExactly(t *testing.T) {
	for _, tm := range []time.Time{
		{},
		time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.UTC),
		time.Date(1980, 2, 29, 0, 0, 0, 0, time.FixedZone("", 3600)),
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.FixedZone("", -5*3600-1800)),
	} {
		e := encoder{}
		e.time(tm)
		d := decoder{b: e.b}
		got := d.time()
		if err := d.done("time"); err != nil {
			t.Fatal(err)
		}
		_, wantOff := tm.Zone()
		_, gotOff := got.Zone()
		if !got.Equal(tm) || gotOff != wantOff || got.IsZero() != tm.IsZero() {
			t.Errorf("%v came back as %v", tm, got)
		}
		if !tm.IsZero() && wantOff == 0 && got.Location() != time.UTC {
			t.Errorf("%v came back in %v, want UTC", tm, got.Location())
		}
	}
}

func TestCodecReadsValuesWrittenAsJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var r Record
	fill(t, reflect.ValueOf(&r).Elem(), rng)
	j, _ := json.Marshal(&r)
	got, err := decodeRecord(j)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "record from JSON", &r, got)

	var a AuditEntry
	fill(t, reflect.ValueOf(&a).Elem(), rng)
	j, _ = json.Marshal(&a)
	ga, err := decodeAudit(j)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "audit entry from JSON", &a, &ga)

	doc := &writeback.Writeback{Schema: writeback.SchemaV1, JobID: "job-1", Summary: "s"}
	j, _ = json.Marshal(body{Doc: doc, Digest: []byte{1, 2, 3}})
	b, err := decodeBody(j)
	if err != nil || b.Doc.JobID != "job-1" || !bytes.Equal(b.Digest, []byte{1, 2, 3}) {
		t.Errorf("body from JSON: %+v, %v", b, err)
	}
}

// appendBodyV1 encodes a body as builds before encBodyV2 wrote it: the digest, then the
// document.
func appendBodyV1(b []byte, digest []byte, doc *writeback.Writeback) []byte {
	e := encoder{b: b}
	e.byte(encBodyV1)
	e.bytes(digest)
	e.document(doc)
	return e.b
}

// Every truncation and a trailing byte are refused with an error, never a panic or a
// silently short value.
func TestCodecRefusesDamagedValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var r Record
	fill(t, reflect.ValueOf(&r).Elem(), rng)
	var a AuditEntry
	fill(t, reflect.ValueOf(&a).Elem(), rng)
	var w writeback.Writeback
	fill(t, reflect.ValueOf(&w).Elem(), rng)
	decoders := map[string]struct {
		enc    []byte
		decode func([]byte) error
	}{
		"record":  {appendRecord(nil, &r), func(b []byte) error { _, err := decodeRecord(b); return err }},
		"audit":   {appendAudit(nil, &a), func(b []byte) error { _, err := decodeAudit(b); return err }},
		"body":    {appendBody(nil, &w), func(b []byte) error { _, err := decodeBody(b); return err }},
		"body v1": {appendBodyV1(nil, make([]byte, 32), &w), func(b []byte) error { _, err := decodeBody(b); return err }},
		"body s2": {compressedBody(t, &w), func(b []byte) error { _, err := decodeBody(b); return err }},
	}
	for name, c := range decoders {
		for n := range len(c.enc) {
			if err := c.decode(c.enc[:n]); err == nil {
				t.Errorf("%s cut to %d of %d bytes: decoded", name, n, len(c.enc))
			}
		}
		if err := c.decode(append(bytes.Clone(c.enc), 0)); !errors.Is(err, errCorrupt) {
			t.Errorf("%s with a trailing byte: %v", name, err)
		}
		bad := bytes.Clone(c.enc)
		bad[0] = 0x7f
		if err := c.decode(bad); !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), "unknown encoding") {
			t.Errorf("%s with an unknown encoding byte: %v", name, err)
		}
	}
}

// The encoding bytes are serialised: a change would make stored values unreadable.
func TestCodecEncodingBytesAreStable(t *testing.T) {
	if encRecordV1 != 0x01 || encAuditV1 != 0x02 || encBodyV1 != 0x03 || encBodyV2 != 0x04 || encBodyS2 != 0x05 ||
		encLegacyJSON != '{' {
		t.Fatal("a stored encoding's byte changed: add a new encoding instead")
	}
	r := &Record{ID: 7, JobID: "j", State: Ready, Author: "a", Version: 3,
		CreatedAt: time.Unix(1, 0).UTC(), UpdatedAt: time.Unix(2, 0).UTC()}
	const want = "01" + "07" + "016a" + "057265616479" + "0161" + "00000000000000000000" +
		"0180a8d6b90700" + "0180d0acf30e00" + "00000003"
	if got := fmt.Sprintf("%x", appendRecord(nil, r)); got != want {
		t.Errorf("record encoding changed:\n got %s\nwant %s", got, want)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	var r Record
	fill(f, reflect.ValueOf(&r).Elem(), rng)
	f.Add(appendRecord(nil, &r))
	f.Add(appendRecord(nil, &Record{ID: 1, State: Received}))
	j, _ := json.Marshal(&r)
	f.Add(j)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes to the same.
		again, err := decodeRecord(appendRecord(nil, r))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		sameJSON(t, "record", r, again)
	})
}

// v1Digest must reproduce the digest builds before encBodyV2 stored (computed then while
// encoding the body), or every job those builds queued would look changed when sent again.
// The value was computed with that code.
func TestV1DigestIsWhatEarlierBuildsStored(t *testing.T) {
	v := 142.0
	d := &writeback.Writeback{Schema: writeback.SchemaV1, JobID: "job-1", PracticeODS: "A12345",
		Author: writeback.Author{ClinicalUserID: "dr.patel", DisplayName: "Dr A Patel"},
		Patient: writeback.Patient{NHSNumber: "9434765919", FamilyName: "O'Neill", GivenNames: "Siobhán",
			DateOfBirth: "1980-02-29", Sex: "female", IdentityVerified: true},
		Summary: "Headaches.",
		Codes: []writeback.Code{{System: writeback.SNOMEDSystem, Code: "38341003", Display: "Hypertension",
			Value: &v, Unit: "mm[Hg]"}},
		Attachments: []writeback.Attachment{{FileName: "f.txt", MediaType: "text/plain", SHA256: sha256Of("hello")}},
		CreatedAt:   time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)}
	const want = "068887fd0917c7ed41b86cb6d7fdbaf947f3c77ff35640c6a21cffa9d6b1f107"
	if got := fmt.Sprintf("%x", v1Digest(d)); got != want {
		t.Errorf("v1Digest = %s, want %s", got, want)
	}
}

// compressedBody encodes w as a compressed body (encBodyS2), its summary lengthened so
// that compressing saves enough to be kept.
func compressedBody(t *testing.T, w *writeback.Writeback) []byte {
	t.Helper()
	long := *w
	long.Summary = strings.Repeat(w.Summary+" headaches ", 50)
	var buf []byte
	b := compressBody(&buf, appendBody(nil, &long))
	if b[0] != encBodyS2 {
		t.Fatalf("body of %d bytes not compressed", len(b))
	}
	got, err := decodeBody(b)
	if err != nil || got.Doc.Summary != long.Summary {
		t.Fatalf("compressed body does not decode to itself: %v", err)
	}
	return b
}
