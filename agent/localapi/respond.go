package localapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// maxRequestBytes bounds a JSON request body (other than a writeback document).
const maxRequestBytes = 64 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apitype.Error{Error: msg, Code: code})
}

// fail answers with the error err maps to. Error texts name records, operations and
// fields, never patient data.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var ve *writeback.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		problems := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			problems[i] = p.String()
		}
		writeJSON(w, http.StatusBadRequest, apitype.Error{Error: "the writeback document is not valid",
			Code: apitype.CodeInvalidDocument, Problems: problems})
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, apitype.CodeBadRequest, fmt.Sprintf("request larger than %d bytes", mbe.Limit))
	case errors.Is(err, queue.ErrNotFound):
		writeError(w, http.StatusNotFound, apitype.CodeNotFound, err.Error())
	case errors.Is(err, queue.ErrIllegalTransition):
		writeError(w, http.StatusConflict, apitype.CodeConflict, err.Error())
	case errors.Is(err, queue.ErrWiped):
		writeError(w, http.StatusGone, apitype.CodeGone, err.Error())
	case errors.Is(err, link.ErrNotLinked):
		writeError(w, http.StatusNotFound, apitype.CodeNotLinked, err.Error())
	case errors.Is(err, link.ErrVerify), errors.Is(err, link.ErrNoRefreshToken):
		writeError(w, http.StatusBadRequest, apitype.CodeVerifyFailed, err.Error())
	default:
		s.opts.Logger.Error("local API request failed", "err", err)
		writeError(w, http.StatusInternalServerError, apitype.CodeInternal, err.Error())
	}
}

func forbid(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusForbidden, apitype.CodeForbidden, msg)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, apitype.CodeBadRequest, msg)
}

// decode reads a small JSON body into v, refusing unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		badRequest(w, "request body: "+err.Error())
		return false
	}
	return true
}

// recordID parses the {id} of a route.
func recordID(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		badRequest(w, fmt.Sprintf("%q is not a record id", r.PathValue("id")))
		return 0, false
	}
	return id, true
}
