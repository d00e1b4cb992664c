// Command wbagent-ui opens Writeback Agent's windows for the signed-in user. The tray and the
// Start menu start it on demand; it exits when its last window is closed.
//
// Usage:
//
//	wbagent-ui [-socket PATH] [-version] [review|attention|problems|account|about]
//	wbagent-ui -screenshot COMMAND [-socket PATH] SHOT
//
// One process serves each user: a second start asks the running one (over a per-user local
// socket) to open or bring forward the window, and exits. With no argument it opens the
// review window.
//
// With -screenshot it opens the window SHOT names (review, confirm, reject, attachments,
// attention, problems, account, about; -select ID picks the writeback), waits until the service's data is shown, runs `COMMAND SHOT`
// and exits: make screenshots runs it under Xvfb with scripts/screenshot.sh. With -bench it
// prints the time from start to the review window's first frame with its data (make bench-ui).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/safesocket"
	"github.com/writeback-agent/wbagent/ui/windows"
)

// appID identifies the program to the desktop and names its preferences storage.
const appID = "uk.nhs.writeback-agent"

// version is set at build time with -ldflags "-X main.version=1.2.3".
var version = "dev"

// Window names: the tray starts `wbagent-ui NAME`. Keep them.
var windowNames = []string{"review", "attention", "problems", "account", "about"}

var started = time.Now()

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	socket := flag.String("socket", defaultSocket(), "the service's local API `PATH`")
	shoot := flag.String("screenshot", "", "open the window SHOT names, run `COMMAND` SHOT once its data is shown, and exit")
	selectID := flag.Uint64("select", 0, "with -screenshot: select the writeback with record `ID`")
	bench := flag.Bool("bench", false, "print the time from start to the review window's first frame with its data, and exit")
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "usage: wbagent-ui [-socket PATH] [review|attention|problems|account|about]\n\n")
		fmt.Fprintf(out, "Opens a Writeback Agent window (the review window by default).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Println("wbagent-ui", version)
		return
	}
	name := "review"
	switch flag.NArg() {
	case 0:
	case 1:
		name = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	svc := windows.FromClient(client.New(*socket))

	if *shoot != "" || *bench {
		a := app.NewWithID(appID)
		a.SetIcon(windows.AppIcon)
		if err := stage(a, svc, name, *shoot, *bench, *selectID); err != nil {
			fmt.Fprintln(os.Stderr, "wbagent-ui:", err)
			os.Exit(1)
		}
		return
	}
	if !slices.Contains(windowNames, name) {
		fmt.Fprintf(os.Stderr, "wbagent-ui: unknown window %q\n", name)
		flag.Usage()
		os.Exit(2)
	}

	// One process per user: hand the request to a running one if there is one.
	ln, err := listenInstance()
	if err != nil {
		if raiseErr := askRunning(name); raiseErr == nil {
			return
		}
		fmt.Fprintln(os.Stderr, "wbagent-ui: another instance is running but does not answer:", err)
		os.Exit(1)
	}
	defer ln.Close()

	a := app.NewWithID(appID)
	a.SetIcon(windows.AppIcon)
	u := &ui{app: a, svc: svc, open: map[string]fyne.Window{}}
	go serveInstance(ln, func(name string) { fyne.Do(func() { u.show(name) }) })
	a.Lifecycle().SetOnStarted(func() { u.show(name) })
	a.Run()
}

// ui opens each window once and brings it forward when asked again; the process ends with
// its last window.
type ui struct {
	app  fyne.App
	svc  windows.Service
	open map[string]fyne.Window // touched on the UI goroutine only
}

func (u *ui) show(name string) {
	if w, ok := u.open[name]; ok {
		w.Show()
		w.RequestFocus()
		return
	}
	w := newWindow(u.app, u.svc, name)
	if w == nil {
		return
	}
	u.open[name] = w
	windows.WhenClosed(w, func() {
		delete(u.open, name)
		if len(u.open) == 0 {
			u.app.Quit()
		}
	})
	w.Show()
	w.RequestFocus()
}

func newWindow(a fyne.App, svc windows.Service, name string) fyne.Window {
	switch name {
	case "review":
		return windows.NewReview(a, svc, windows.ReviewOptions{}).Window()
	case "attention":
		return windows.NewAttention(a, svc).Window()
	case "problems":
		return windows.NewProblems(a, svc).Window()
	case "account":
		return windows.NewAccount(a, svc, nil).Window()
	case "about":
		return windows.NewAboutService(a, version, svc).Window()
	}
	return nil
}

// stage opens the window a screenshot or the benchmark needs, waits for the service's data,
// then runs `shoot NAME` (screenshots) or prints the time to the first frame (bench).
func stage(a fyne.App, svc windows.Service, shot, shoot string, bench bool, selectID uint64) error {
	var w fyne.Window
	var review *windows.Review
	var ready func() bool
	switch shot {
	case "review", "confirm", "reject", "attachments":
		review = windows.NewReview(a, svc, windows.ReviewOptions{})
		w, ready = review.Window(), review.Ready
	case "attention":
		x := windows.NewAttention(a, svc)
		w, ready = x.Window(), x.Ready
	case "problems":
		x := windows.NewProblems(a, svc)
		w, ready = x.Window(), x.Ready
	case "account":
		x := windows.NewAccount(a, svc, nil)
		w, ready = x.Window(), x.Ready
	case "about":
		x := windows.NewAboutService(a, version, svc)
		w, ready = x.Window(), x.Ready
	default:
		return fmt.Errorf("unknown shot %q", shot)
	}
	errs := make(chan error, 1)
	go func() {
		errs <- run(w, review, ready, shot, shoot, bench, selectID)
		fyne.Do(a.Quit)
	}()
	w.Show()
	a.Run()
	return <-errs
}

func run(w fyne.Window, review *windows.Review, ready func() bool, shot, shoot string, bench bool, selectID uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		var ok bool
		fyne.DoAndWait(func() { ok = ready() })
		if ok {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: the window's data did not arrive in 60 s", shot)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if bench {
		// The frame with the data is drawn at the next paint after it is set.
		fyne.DoAndWait(func() { w.Canvas().Refresh(w.Canvas().Content()) })
		time.Sleep(50 * time.Millisecond)
		fmt.Printf("first-frame-ms %d\n", time.Since(started).Milliseconds())
		time.Sleep(2 * time.Second) // the visible rows' details arrive and are drawn
		if rss, err := residentKB(); err == nil {
			fmt.Printf("rss-kb %d\n", rss)
		}
		return nil
	}
	if review != nil && selectID != 0 {
		fyne.DoAndWait(func() { review.SelectRecord(selectID) })
		time.Sleep(100 * time.Millisecond)
		for {
			var ok bool
			fyne.DoAndWait(func() { ok = ready() })
			if ok || ctx.Err() != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	switch shot {
	case "attachments":
		time.Sleep(time.Second) // the image arrives
		fyne.DoAndWait(review.ScrollToEnd)
	case "confirm":
		fyne.DoAndWait(func() { review.Choose(false) })
	case "reject":
		fyne.DoAndWait(func() { review.AskReject("Duplicate: the same outcome was sent twice") })
	}
	time.Sleep(2 * time.Second) // let images load and the window map and draw
	if out, err := exec.Command(shoot, shot).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", shoot, shot, err, out)
	}
	return nil
}

// residentKB is the process's resident memory (Linux: VmRSS), for make bench-ui.
func residentKB() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// defaultSocket is $WBAGENT_SOCKET, else the service's default.
func defaultSocket() string {
	if s := os.Getenv("WBAGENT_SOCKET"); s != "" {
		return s
	}
	return safesocket.DefaultPath()
}
