package writeback

import (
	"bytes"
	"errors"
	"testing"

	"github.com/writeback-agent/wbagent/docs"
)

// FuzzDecode checks that Decode never panics, reports every rejection of an in-memory
// document as a *ValidationError, and that any document it accepts encodes to a document
// that decodes to an equal value.
func FuzzDecode(f *testing.F) {
	ex := docs.ExampleWriteback
	f.Add(ex)
	f.Add(bytes.TrimSpace(ex))
	f.Add(ex[:len(ex)/2])
	f.Add(bytes.Replace(ex, []byte(`"A12345",`), []byte(`"A12345", "practiceOds": "B1234",`), 1))
	f.Add(bytes.Replace(ex, []byte("1980-02-29"), []byte("1981-02-29"), 1))
	f.Add(bytes.Replace(ex, []byte("///"), []byte(`\/\/\u002f`), 1))
	f.Add(bytes.Replace(ex, []byte("Siobh\u00e1n"), []byte(`Siobh\u00e1n \ud83e\udd7a`), 1))
	f.Add(bytes.Replace(ex, []byte(`"value": 142`), []byte(`"value": -1.5e-3`), 1))
	f.Add([]byte(`{"schema":"writeback/v1","attachments":[{"dataBase64":"QUJD"}]}`))
	f.Add([]byte(`[{"a":[1,true,null,"x\n"]}]`))

	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := DecodeBytes(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("DecodeBytes rejected a document without a ValidationError: %v", err)
			}
			return
		}
		b, err := Marshal(w)
		if err != nil {
			t.Fatalf("Marshal(accepted document): %v", err)
		}
		w2, err := DecodeBytes(b)
		if err != nil {
			t.Fatalf("DecodeBytes(Marshal(accepted document)): %v\n%s", err, b)
		}
		assertEqual(t, w2, w)
	})
}
