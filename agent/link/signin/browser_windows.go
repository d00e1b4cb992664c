package signin

import "os/exec"

// OpenBrowser opens url in the user's default browser.
func OpenBrowser(url string) error {
	c := exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	if err := c.Start(); err != nil {
		return err
	}
	go c.Wait() // reap it; the browser outlives the command that started it
	return nil
}
