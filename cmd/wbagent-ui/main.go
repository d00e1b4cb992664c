// Command wbagent-ui opens Writeback Agent's windows. The tray starts it on
// demand; it exits when its window is closed.
//
// Usage:
//
//	wbagent-ui [-version] [about]
//
// With no argument, or with "about", it opens the About window.
package main

import (
	"flag"
	"fmt"
	"os"

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
