package tray

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/writeback-agent/wbagent/assets"
)

func TestViewOfDefaults(t *testing.T) {
	tests := []struct {
		status  Status
		icon    string
		tooltip string
		title   string
	}{
		{OK, assets.StateOK, "Writeback Agent: filing normally", "Filing normally"},
		{Attention, assets.StateAttention, "Writeback Agent: needs attention", "Needs attention"},
		{Blocked, assets.StateBlocked, "Writeback Agent: filing is blocked", "Filing is blocked"},
		{Offline, assets.StateOffline, "Writeback Agent: not connected to the service", "Service not running"},
		// Anything unrecognised must not look reassuring.
		{"", assets.StateOffline, "Writeback Agent: not connected to the service", "Service not running"},
		{"degraded", assets.StateOffline, "Writeback Agent: not connected to the service", "Service not running"},
	}
	for _, tt := range tests {
		v := ViewOf(State{Status: tt.status})
		if !bytes.Equal(v.Icon, assets.TrayIcon(tt.icon)) {
			t.Errorf("%q: icon is not the %s icon", tt.status, tt.icon)
		}
		if v.Tooltip != tt.tooltip {
			t.Errorf("%q: tooltip = %q, want %q", tt.status, v.Tooltip, tt.tooltip)
		}
		if v.Title != tt.title {
			t.Errorf("%q: title = %q, want %q", tt.status, v.Title, tt.title)
		}
	}
}

func TestViewOfZeroStateIsOffline(t *testing.T) {
	v := ViewOf(State{})
	if !bytes.Equal(v.Icon, assets.TrayIcon(assets.StateOffline)) || v.Title != "Service not running" {
		t.Errorf("zero State = %q, %q; want the offline view", v.Tooltip, v.Title)
	}
}

func TestViewOfTitle(t *testing.T) {
	v := ViewOf(State{Status: Attention, Title: "2 outcomes need\na patient   match "})
	if want := "2 outcomes need a patient match"; v.Title != want {
		t.Errorf("title = %q, want %q", v.Title, want)
	}
	if want := "Writeback Agent: needs attention\n2 outcomes need a patient match"; v.Tooltip != want {
		t.Errorf("tooltip = %q, want %q", v.Tooltip, want)
	}
	if !bytes.Equal(v.Icon, assets.TrayIcon(assets.StateAttention)) {
		t.Error("icon is not the attention icon")
	}

	// A title of only white space counts as none.
	if v := ViewOf(State{Status: OK, Title: " \n "}); v.Title != "Filing normally" || strings.Contains(v.Tooltip, "\n") {
		t.Errorf("blank title: got %q, %q", v.Title, v.Tooltip)
	}
}

func TestViewOfLongTitle(t *testing.T) {
	long := strings.Repeat("Ω", 200) + strings.Repeat("😀", 100)
	v := ViewOf(State{Status: Blocked, Title: long})
	if n := len([]rune(v.Title)); n != maxTitle {
		t.Errorf("title has %d characters, want %d", n, maxTitle)
	}
	if !strings.HasSuffix(v.Title, "…") || !strings.HasSuffix(v.Tooltip, "…") {
		t.Errorf("cut text does not end with an ellipsis: %q, %q", v.Title, v.Tooltip)
	}
	if n := len(utf16.Encode([]rune(v.Tooltip))); n > maxTooltip {
		t.Errorf("tooltip is %d UTF-16 units, want at most %d", n, maxTooltip)
	}
	if !strings.HasPrefix(v.Tooltip, "Writeback Agent: filing is blocked\n") {
		t.Errorf("tooltip lost its first line: %q", v.Tooltip)
	}
}

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
