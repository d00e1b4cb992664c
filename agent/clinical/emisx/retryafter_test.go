package emisx

import (
	"net/http"
	"testing"
	"time"
)

// A 429 or 503 answer's Retry-After (seconds or an HTTP date) is kept on the error, bounded.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		status int
		header string
		want   time.Duration
	}{
		{429, "3", 3 * time.Second},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{503, "86400", time.Hour},
		{503, "soon", 0},
		{429, "-5", 0},
		{500, "3", 0},
		{429, "", 0},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.header != "" {
			resp.Header.Set("Retry-After", tc.header)
		}
		if got := retryAfter(resp, now); got != tc.want {
			t.Errorf("%d Retry-After %q: %v, want %v", tc.status, tc.header, got, tc.want)
		}
	}
}
