package writeback

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/writeback-agent/wbagent/docs"
)

// schemaURL identifies the embedded schema to the compiler; it is the schema's $id.
const schemaURL = "https://github.com/writeback-agent/wbagent/docs/writeback.schema.json"

// compiledSchema is the published JSON Schema, docs.WritebackSchema.
type compiledSchema struct {
	schema *jsonschema.Schema
	doc    any // the schema document, to look up the properties allowed at a location
}

// loadSchema compiles the schema the first time it is called, and returns the same result
// every time. It is safe for concurrent use, as is the compiled schema.
var loadSchema = sync.OnceValues(func() (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(docs.WritebackSchema))
	if err != nil {
		return nil, fmt.Errorf("parse writeback schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// Draft 2020-12 treats "format" as an annotation unless asked: the schema relies on
	// "date" and "date-time" being checked.
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("load writeback schema: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile writeback schema: %w", err)
	}
	return &compiledSchema{schema: sch, doc: doc}, nil
})

// validate checks a document, parsed by jsonschema.UnmarshalJSON, against the schema. It
// returns a *ValidationError if the document is invalid.
func (cs *compiledSchema) validate(inst any) error {
	err := cs.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("validate against schema: %w", err)
	}
	return cs.problems(verr, inst)
}

// A rankedProblem is a problem with the priority of the rule it breaks: when a field breaks
// several rules, only the most basic is reported (a missing value before a bad pattern).
type rankedProblem struct {
	Problem
	rank int
}

// problems translates the errors of the schema validator into a *ValidationError. It walks
// the tree of errors down to its leaves, each one rule broken at one location.
//
// The validator's own messages are not used: they quote the values at fault, which may be
// patient details, and they speak of JSON Schema rather than of the fix.
func (cs *compiledSchema) problems(verr *jsonschema.ValidationError, inst any) *ValidationError {
	var ranked []rankedProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ranked = append(ranked, cs.translate(e, inst)...)
	}
	walk(verr)

	// One problem per field, the most basic; fields in order.
	slices.SortStableFunc(ranked, func(a, b rankedProblem) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), cmp.Compare(a.rank, b.rank))
	})
	ranked = slices.CompactFunc(ranked, func(a, b rankedProblem) bool { return a.Field == b.Field })
	ve := &ValidationError{Problems: make([]Problem, len(ranked))}
	for i, p := range ranked {
		ve.Problems[i] = p.Problem
	}
	if len(ve.Problems) == 0 { // never expected: the validator always names a rule
		ve.Problems = []Problem{{Message: "does not match the writeback/v1 schema"}}
	}
	return ve
}

// Ranks of the rules, most basic first.
const (
	rankStructure = iota // missing, unknown, wrong type
	rankValue            // const, enum
	rankLength           // length, item count
	rankFormat           // pattern, format, dependencies
	rankOther
)

// patternHelp says how to fix a string that breaks its "pattern" or "format" rule, by
// generic path (array indexes written as []).
var patternHelp = map[string]string{
	"jobId":                   "must be 1 to 128 characters, each a letter, digit, '.', '_', ':' or '-'",
	"practiceOds":             "must be the practice's ODS code: 3 to 10 capital letters or digits, e.g. A12345",
	"patient.nhsNumber":       "may contain only digits and spaces",
	"patient.dateOfBirth":     "is not a real calendar date; use YYYY-MM-DD",
	"createdAt":               "must be an RFC 3339 date and time with a time zone, e.g. 2026-11-21T09:30:00Z",
	"codes[].code":            "must be a SNOMED CT concept id: 6 to 18 digits",
	"attachments[].mediaType": "must be a media type of the form type/subtype, e.g. image/jpeg or application/pdf",
}

// translate turns one broken rule into problems.
func (cs *compiledSchema) translate(e *jsonschema.ValidationError, inst any) []rankedProblem {
	path := instancePath(inst, e.InstanceLocation)
	field := formatPath(path)
	one := func(rank int, msg string) []rankedProblem {
		return []rankedProblem{{Problem{Field: field, Message: msg}, rank}}
	}
	child := func(name string) string {
		return formatPath(append(slices.Clip(path), pathElem{key: name}))
	}

	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		var ps []rankedProblem
		for _, name := range k.Missing {
			ps = append(ps, rankedProblem{Problem{Field: child(name), Message: "required field is missing"}, rankStructure})
		}
		return ps
	case *kind.AdditionalProperties:
		allowed := strings.Join(cs.allowedProperties(path), ", ")
		var ps []rankedProblem
		for _, name := range k.Properties {
			ps = append(ps, rankedProblem{Problem{Field: child(name), Message: "unknown field; remove it (allowed: " + allowed + ")"}, rankStructure})
		}
		return ps
	case *kind.Type:
		msg := "must be " + withArticle(k.Want) + ", not " + withArticle([]string{k.Got})
		if field == "" {
			msg = "the document " + msg
		}
		return one(rankStructure, msg)
	case *kind.Const:
		return one(rankValue, "must be "+display(k.Want))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, v := range k.Want {
			want[i] = display(v)
		}
		return one(rankValue, "must be one of "+strings.Join(want, ", "))
	case *kind.MinLength:
		if k.Want == 1 {
			return one(rankLength, "must not be empty")
		}
		return one(rankLength, fmt.Sprintf("must be at least %d characters long", k.Want))
	case *kind.MaxLength:
		return one(rankLength, fmt.Sprintf("is too long: %d characters, at most %d allowed", k.Got, k.Want))
	case *kind.MaxItems:
		return one(rankLength, fmt.Sprintf("has too many items: %d, at most %d allowed", k.Got, k.Want))
	case *kind.Pattern:
		if help, ok := patternHelp[genericPath(path)]; ok {
			return one(rankFormat, help)
		}
		return one(rankFormat, "does not match the pattern "+k.Want)
	case *kind.Format:
		if help, ok := patternHelp[genericPath(path)]; ok {
			return one(rankFormat, help)
		}
		return one(rankFormat, "is not a valid "+k.Want)
	case *kind.DependentRequired:
		var ps []rankedProblem
		for _, name := range k.Missing {
			ps = append(ps, rankedProblem{Problem{
				Field:   child(k.Prop),
				Message: fmt.Sprintf("is only allowed together with %s; add %s or remove %s", name, name, k.Prop),
			}, rankFormat})
		}
		return ps
	case *kind.FalseSchema:
		return one(rankOther, "is not allowed")
	default:
		// A rule the schema does not use today. Name it without the validator's message,
		// which may quote the value.
		return one(rankOther, fmt.Sprintf("breaks the schema rule %q", strings.Join(e.ErrorKind.KeywordPath(), "/")))
	}
}

// instancePath converts a JSON pointer's tokens into a path, telling array indexes from
// member names by looking at the document.
func instancePath(inst any, tokens []string) []pathElem {
	path := make([]pathElem, 0, len(tokens))
	cur := inst
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(v) {
				path = append(path, pathElem{index: i, isIndex: true})
				cur = v[i]
				continue
			}
		case map[string]any:
			cur = v[tok]
			path = append(path, pathElem{key: tok})
			continue
		}
		path = append(path, pathElem{key: tok})
		cur = nil
	}
	return path
}

// genericPath renders a path with array indexes left out, as in codes[].code.
func genericPath(path []pathElem) string {
	var b strings.Builder
	for _, e := range path {
		if e.isIndex {
			b.WriteString("[]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}

// allowedProperties returns the names of the properties the schema allows in the object at
// path, sorted.
func (cs *compiledSchema) allowedProperties(path []pathElem) []string {
	sch, _ := cs.doc.(map[string]any)
	for _, e := range path {
		if e.isIndex {
			sch, _ = sch["items"].(map[string]any)
		} else {
			props, _ := sch["properties"].(map[string]any)
			sch, _ = props[e.key].(map[string]any)
		}
	}
	props, _ := sch["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// withArticle names JSON types for a message: "a number", "an object or null".
func withArticle(types []string) string {
	words := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "null":
			words[i] = "null"
		case "object", "array", "integer":
			words[i] = "an " + t
		default:
			words[i] = "a " + t
		}
	}
	return strings.Join(words, " or ")
}

// display writes a value taken from the schema (never from the document) for a message.
func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
