package tray

import "testing"

func TestTruncateUTF16(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"a😀b", 4, "a😀b"},
		{"a😀bc", 4, "a😀…"},
		{"a😀bc", 3, "a…"}, // the pair does not fit beside the ellipsis
		{"ab😀c", 4, "ab…"},
	}
	for _, tt := range tests {
		if got := truncateUTF16(tt.in, tt.n); got != tt.want {
			t.Errorf("truncateUTF16(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine(" 2 outcomes need\na patient   match "); got != "2 outcomes need a patient match" {
		t.Errorf("oneLine = %q", got)
	}
}
