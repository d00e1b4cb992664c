package papi

import (
	"slices"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

// TestOperationsMatchTheDocument holds the route table to the OpenAPI
// document: path, method, operationId and the OAuth2 scope required.
func TestOperationsMatchTheDocument(t *testing.T) {
	v, err := contract.New(contract.IdentityProvider{})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Config{})
	for path, op := range a.ops {
		item := v.Spec().Paths.Value(path)
		if item == nil {
			t.Errorf("%s is not a path of the document", path)
			continue
		}
		spec := item.GetOperation(op.method)
		if spec == nil || spec.OperationID != op.name {
			t.Errorf("%s %s is not operation %s in the document", op.method, path, op.name)
			continue
		}
		var scopes []string
		for _, req := range *spec.Security {
			scopes = append(scopes, req["OAuth2CodeEMIS-X-GP-PAPI"]...)
		}
		if !slices.Equal(scopes, []string{op.scope}) {
			t.Errorf("%s requires scope %s; the document says %v", op.name, op.scope, scopes)
		}
		if !slices.Contains(Scopes, op.scope) {
			t.Errorf("%s's scope %s is missing from Scopes", op.name, op.scope)
		}
		for _, p := range spec.Parameters {
			if p.Value.In == "header" && p.Value.Name == ApplicationIDHeader && !p.Value.Required {
				t.Errorf("%s: the document does not require the %s header", op.name, ApplicationIDHeader)
			}
		}
	}
	if len(a.ops) != 7 {
		t.Errorf("%d operations simulated, want 7", len(a.ops))
	}
}

func TestErrorResponseEscapesItsText(t *testing.T) {
	oe := outcome.Errorf(outcome.MalformedRequest, "<script>")
	e := errorResponse(oe)
	if !strings.Contains(e.Text.Div, "&lt;script&gt;") || strings.Contains(e.Text.Div, "<script>") {
		t.Errorf("div = %q", e.Text.Div)
	}
	if e.LegacyOutcome != int32(oe.Code) || e.Issue.Details.Coding.Code != "1002" || len(e.MessageID) != 36 {
		t.Errorf("error response = %+v", e)
	}
}
