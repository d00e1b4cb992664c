package main

import (
	"bufio"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/writeback-agent/wbagent/ui/tray"
)

// notifications stands in for the desktop's notification server (org.freedesktop.Notifications).
type notifications struct{ got chan [3]string }

func (n *notifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	n.got <- [3]string{app, summary, body}
	return 1, nil
}

func (n *notifications) GetCapabilities() ([]string, *dbus.Error) { return []string{"body"}, nil }

func (n *notifications) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "test", "wbagent", "1", "1.2", nil
}

func (n *notifications) CloseNotification(id uint32) *dbus.Error { return nil }

// TestNotificationsReachTheDesktop sends the tray's notes through the real path (beeep over
// D-Bus) to a private session bus with a stand-in notification server.
func TestNotificationsReachTheDesktop(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("no dbus-daemon:", err)
	}
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1",
		"--address=unix:path="+filepath.Join(t.TempDir(), "bus"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	server, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	n := &notifications{got: make(chan [3]string, 4)}
	if err := server.Export(n, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if reply, err := server.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the notification service: %v, %v", reply, err)
	}

	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	sh := newShell("/nonexistent", "", slog.New(slog.NewTextHandler(io.Discard, nil)))
	sh.notify(tray.Note{Kind: tray.NoteWaiting, Title: "Writeback Agent: filings to review",
		Body: "2 new filings are waiting for your confirmation"})
	select {
	case got := <-n.got:
		if got != [3]string{"Writeback Agent", "Writeback Agent: filings to review", "2 new filings are waiting for your confirmation"} {
			t.Errorf("notification %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification reached the desktop")
	}
}
