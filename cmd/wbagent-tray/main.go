// Command wbagent-tray shows Writeback Agent's status icon in the notification area for the
// signed-in user, live from the service's watch stream: whether filing works, what waits
// for this person, and where to click. It is started per user session (at sign-in), needs
// no administrator rights and uses no OpenGL, so it works over remote desktop and on
// terminal servers (one tray per session, each seeing its own user's counts).
//
// What it shows is decided by package ui/tray; this command is the getlantern/systray
// shell around it, and starts `wbagent-ui WINDOW` for the windows. Choosing "Quit tray"
// removes the icon; the service carries on filing.
//
// Usage:
//
//	wbagent-tray [-version] [-socket PATH]
//
// -fixture FILE (for screenshots and demonstrations) replays the watch events in FILE
// (newline-delimited JSON, as GET /localapi/v0/watch sends them) instead of connecting.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/writeback-agent/wbagent/agent/safesocket"
)

// version is set at build time with -ldflags "-X main.version=1.2.3".
var version = "dev"

// socketEnv names the environment variable that overrides the default socket (as for wbagent).
const socketEnv = "WBAGENT_SOCKET"

// logOutput is where the tray logs: standard error, and a small rotated file in the user's
// cache folder (%LocalAppData%\WritebackAgent\tray.log on Windows), where the tray of a
// session with no console can be read by IT.
func logOutput() io.Writer {
	dir, err := os.UserCacheDir()
	if err != nil {
		return os.Stderr
	}
	return io.MultiWriter(os.Stderr, &lumberjack.Logger{
		Filename: filepath.Join(dir, "WritebackAgent", "tray.log"), MaxSize: 1, MaxBackups: 1,
	})
}

func main() {
	defSocket := os.Getenv(socketEnv)
	if defSocket == "" {
		defSocket = safesocket.DefaultPath()
	}
	showVersion := flag.Bool("version", false, "print the version and exit")
	socket := flag.String("socket", defSocket, "the service's local API `PATH` ($"+socketEnv+")")
	fixture := flag.String("fixture", "", "replay the watch events in `FILE` instead of connecting (screenshots)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wbagent-tray [-version] [-socket PATH]\n\nShows Writeback Agent's status in the notification area.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println("wbagent-tray", version)
		return
	}
	log := slog.New(slog.NewTextHandler(logOutput(), nil))
	// One tray per desktop session: a second start (autostart and a shortcut, say) leaves.
	if *fixture == "" {
		first, err := claimSession()
		if err != nil {
			log.Warn("tray: cannot tell whether another tray runs in this session", "err", err)
		}
		if !first {
			log.Info("tray: already running in this session")
			return
		}
	}
	sh := newShell(*socket, *fixture, log)

	// Leave the notification area tidily when the session ends or someone interrupts.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		sh.quit()
	}()
	sh.run()
}
