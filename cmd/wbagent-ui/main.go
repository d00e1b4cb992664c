// Command wbagent-ui opens Writeback Agent's windows. The tray starts it on
// demand; it exits when its window is closed.
//
// Usage:
//
//	wbagent-ui [-version] [-screenshot COMMAND] [about]
//
// With no argument, or with "about", it opens the About window. With -screenshot it shows
// every window in turn, runs COMMAND NAME while each is shown, and exits (make screenshots
// runs it under Xvfb with scripts/screenshot.sh).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/writeback-agent/wbagent/ui/windows"
)

// appID identifies the program to the desktop and names its preferences
// storage.
const appID = "uk.nhs.writeback-agent"

// version is set at build time with
// -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	screenshots := flag.String("screenshot", "", "show every window in turn, run `COMMAND` NAME while each is shown, and exit")
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "usage: wbagent-ui [-version] [about]\n\n")
		fmt.Fprintf(out, "Opens a Writeback Agent window (the About window by default).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Println("wbagent-ui", version)
		return
	}

	window := "about"
	switch flag.NArg() {
	case 0:
	case 1:
		window = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}

	a := app.NewWithID(appID)
	a.SetIcon(windows.AppIcon)
	if *screenshots != "" {
		if err := renderAll(a, *screenshots); err != nil {
			fmt.Fprintln(os.Stderr, "wbagent-ui:", err)
			os.Exit(1)
		}
		return
	}
	switch window {
	case "about":
		w := windows.NewAbout(a, version)
		w.SetMaster()
		w.ShowAndRun()
	default:
		fmt.Fprintf(os.Stderr, "wbagent-ui: unknown window %q\n", window)
		flag.Usage()
		os.Exit(2)
	}
}

// renderAll shows each window in turn, alone on the screen, and runs `shoot NAME` while it is
// shown: make screenshots grabs the X display into screenshots/NAME.png (a GL capture of the
// window reads back black under Xvfb's software renderer).
func renderAll(a fyne.App, shoot string) error {
	shots := []struct {
		name string
		open func() fyne.Window
	}{
		{"about", func() fyne.Window { return windows.NewAbout(a, version) }},
	}
	errs := make(chan error, 1)
	go func() {
		var err error
		for _, s := range shots {
			var w fyne.Window
			fyne.DoAndWait(func() { w = s.open(); w.Show() })
			time.Sleep(1500 * time.Millisecond) // let the window map and draw
			if out, cerr := exec.Command(shoot, s.name).CombinedOutput(); cerr != nil {
				err = fmt.Errorf("%s %s: %v: %s", shoot, s.name, cerr, out)
				break
			}
			fyne.DoAndWait(w.Close)
		}
		errs <- err
		fyne.Do(a.Quit)
	}()
	a.Run()
	return <-errs
}
