package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/safesocket"
)

// listenInstance claims this user's instance socket; it fails when another wbagent-ui of
// this user holds it.
func listenInstance() (net.Listener, error) {
	path, err := instancePath()
	if err != nil {
		return nil, err
	}
	return safesocket.Listen(path)
}

// askRunning asks the running instance to open or bring forward window name.
func askRunning(name string) error {
	path, err := instancePath()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := safesocket.Dial(ctx, path)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(c, name); err != nil {
		return err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.TrimSpace(reply) != "ok" {
		return fmt.Errorf("the running instance answered %q: %v", reply, err)
	}
	return nil
}

// serveInstance answers later starts: each sends a window name and is told ok.
func serveInstance(ln net.Listener, show func(name string)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			name := strings.TrimSpace(line)
			if err != nil || !slices.Contains(windowNames, name) {
				fmt.Fprintln(c, "unknown window")
				return
			}
			show(name)
			fmt.Fprintln(c, "ok")
		}()
	}
}
