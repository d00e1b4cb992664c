// Command wbagent-tray shows Writeback Agent's status icon in the
// notification area for the signed-in user.
//
// It is started per user session (at sign-in) and uses no OpenGL, so it
// works over remote desktop. Until it is connected to the service's local
// API it shows the grey "offline" icon with the status line "Service not
// running". Choosing Quit removes the icon; the service carries on filing.
//
// Usage:
//
//	wbagent-tray [-version]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/writeback-agent/wbagent/ui/tray"
)

// version is set at build time with
// -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wbagent-tray [-version]\n\nShows Writeback Agent's status in the notification area.\n\n")
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

	// Leave the notification area tidily when the session ends or someone
	// interrupts the process.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		tray.Quit()
	}()

	tray.Apply(tray.State{Status: tray.Offline})
	tray.Run()
}
