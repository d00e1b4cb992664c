package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gen2brain/beeep"
	"github.com/getlantern/systray"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/link/signin"
	"github.com/writeback-agent/wbagent/assets"
	"github.com/writeback-agent/wbagent/ui/tray"
)

// The menu is made once (getlantern/systray cannot remove items) with a slot for every item
// a View can hold; slots a View does not use are hidden.
const (
	statusSlots = 2
	actionSlots = 10 // review, attention, 5 conditions, more, link, and one spare
)

// slot is one menu item and the tray.Item it shows now.
type slot struct {
	mi   *systray.MenuItem
	item tray.Item
	used bool
}

// shell puts tray Views on screen and carries out their actions.
type shell struct {
	client    *client.Client
	fixture   string
	log       *slog.Logger
	prefsPath string
	ctx       context.Context
	cancel    context.CancelFunc

	mu       sync.Mutex
	prefs    tray.Prefs
	notifier tray.Notifier
	noteAt   *time.Timer
	last     *tray.Snapshot // the latest, to show again at midnight ("Last filed yesterday …")
	midnight *time.Timer
	status   tray.Status
	tooltip  string
	slots    []*slot // status, then actions
	mute     *systray.MenuItem
	ready    bool
	linking  bool
}

func newShell(socket, fixture string, log *slog.Logger) *shell {
	ctx, cancel := context.WithCancel(context.Background())
	sh := &shell{client: client.New(socket), fixture: fixture, log: log, ctx: ctx, cancel: cancel}
	path, err := tray.PrefsPath()
	if err != nil {
		log.Warn("tray: preferences will not be kept", "err", err)
	} else {
		sh.prefsPath = path
		if sh.prefs, err = tray.LoadPrefs(path); err != nil {
			log.Warn("tray: using the default preferences", "err", err)
		}
	}
	beeep.AppName = "Writeback Agent"
	return sh
}

// run shows the icon and blocks until quit. It must run on the main goroutine.
func (sh *shell) run() { systray.Run(sh.onReady, sh.onExit) }

func (sh *shell) quit() {
	sh.cancel()
	systray.Quit()
}

func (sh *shell) onReady() {
	sh.mu.Lock()
	systray.SetTitle("")
	for range statusSlots + actionSlots {
		s := &slot{mi: systray.AddMenuItem("", "")}
		s.mi.Hide()
		sh.slots = append(sh.slots, s)
		go sh.clicks(s)
	}
	systray.AddSeparator()
	sh.mute = systray.AddMenuItemCheckbox("Mute notifications", "", sh.prefs.Muted)
	about := systray.AddMenuItem("About Writeback Agent", "")
	quit := systray.AddMenuItem("Quit tray (the service keeps filing)", "")
	sh.ready = true
	sh.mu.Unlock()

	// The footer's titles come from the first View; its clicks are handled here.
	go func() {
		for {
			select {
			case <-sh.mute.ClickedCh:
				sh.toggleMute()
			case <-about.ClickedCh:
				sh.open(tray.WindowAbout)
			case <-quit.ClickedCh:
				sh.quit()
				return
			case <-sh.ctx.Done():
				return
			}
		}
	}()
	dial := tray.DialClient(sh.client)
	if sh.fixture != "" {
		dial = dialFixture(sh.fixture)
	}
	go tray.Follow(sh.ctx, dial, tray.DefaultBackoff, sh.log, sh.update)
}

func (sh *shell) onExit() { sh.cancel() }

// update shows the View for s and raises the notifications it calls for.
func (sh *shell) update(s *tray.Snapshot) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now()
	sh.show(tray.Build(s, sh.prefs, now))
	sh.deliver(sh.notifier.Observe(s, sh.prefs, now))
	sh.last = s.Clone()
	if sh.midnight == nil {
		sh.midnight = time.AfterFunc(untilMidnight(now), sh.newDay)
	}
}

// newDay shows the latest state again when the date changes, so "Last filed 14:32" becomes
// "Last filed yesterday 14:32" without waiting for the service to say anything.
func (sh *shell) newDay() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	now := time.Now()
	if sh.last != nil {
		sh.show(tray.Build(sh.last, sh.prefs, now))
	}
	sh.midnight = time.AfterFunc(untilMidnight(now), sh.newDay)
}

// untilMidnight returns the time from now to the next local midnight (and a second).
func untilMidnight(now time.Time) time.Duration {
	y, m, d := now.Date()
	return time.Date(y, m, d+1, 0, 0, 1, 0, now.Location()).Sub(now)
}

// show puts v on screen, touching only what changed. sh.mu must be held.
func (sh *shell) show(v tray.View) {
	if v.Status != sh.status {
		systray.SetIcon(v.Icon)
		sh.status = v.Status
	}
	if v.Tooltip != sh.tooltip {
		systray.SetTooltip(v.Tooltip)
		sh.tooltip = v.Tooltip
	}
	var status, actions []tray.Item
	for _, it := range v.Items {
		switch it.Section {
		case tray.SectionStatus:
			status = append(status, it)
		case tray.SectionActions:
			actions = append(actions, it)
		case tray.SectionFooter:
			if it.ID == "mute" {
				if it.Checked != sh.mute.Checked() {
					if it.Checked {
						sh.mute.Check()
					} else {
						sh.mute.Uncheck()
					}
				}
			}
		}
	}
	if len(actions) > actionSlots {
		sh.log.Warn("tray: more menu items than slots; the last are not shown", "items", len(actions))
		actions = actions[:actionSlots]
	}
	fill := func(slots []*slot, items []tray.Item) {
		for i, s := range slots {
			if i >= len(items) {
				if s.used {
					s.mi.Hide()
					s.used = false
				}
				continue
			}
			it := items[i]
			if s.used && s.item == it {
				continue
			}
			s.mi.SetTitle(it.Title)
			s.mi.SetTooltip(it.Tooltip)
			if it.Enabled {
				s.mi.Enable()
			} else {
				s.mi.Disable()
			}
			if !s.used {
				s.mi.Show()
			}
			s.item, s.used = it, true
		}
	}
	fill(sh.slots[:statusSlots], status)
	fill(sh.slots[statusSlots:], actions)
}

// clicks carries out a slot's item each time it is chosen.
func (sh *shell) clicks(s *slot) {
	for {
		select {
		case <-s.mi.ClickedCh:
		case <-sh.ctx.Done():
			return
		}
		sh.mu.Lock()
		act, used := s.item.Action, s.used
		sh.mu.Unlock()
		if !used {
			continue
		}
		switch act.Kind {
		case tray.ActOpen:
			sh.open(act.Window)
		case tray.ActLink:
			go sh.link()
		case tray.ActToggleMute:
			sh.toggleMute()
		case tray.ActQuit:
			sh.quit()
		}
	}
}

// open starts `wbagent-ui w`.
func (sh *shell) open(w tray.Window) {
	if err := tray.OpenWindow(w, os.Environ()); err != nil {
		sh.log.Error("tray: open a window", "window", w, "err", err)
		sh.notify(tray.Note{Title: "Writeback Agent", Body: "The window could not be opened: ask IT to reinstall Writeback Agent."})
	}
}

// link signs the user in to the clinical system and links them, telling them how it went.
func (sh *shell) link() {
	sh.mu.Lock()
	busy := sh.linking
	sh.linking = true
	sh.mu.Unlock()
	if busy {
		return
	}
	defer func() { sh.mu.Lock(); sh.linking = false; sh.mu.Unlock() }()
	st, err := tray.Link(sh.ctx, sh.client, signin.OpenBrowser)
	if err != nil {
		sh.log.Error("tray: link", "err", err)
		sh.notify(tray.Note{Title: "Writeback Agent: not linked", Body: "Signing in to EMIS did not finish. Choose the menu item to try again."})
		return
	}
	name := st.Link.ClinicalName
	if name == "" {
		name = st.Link.ClinicalUserID
	}
	sh.notify(tray.Note{Title: "Writeback Agent: linked", Body: "Linked to your EMIS account (" + name + "). Your filings will be made as you."})
}

// toggleMute flips the user's mute choice and keeps it.
func (sh *shell) toggleMute() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.prefs.Muted = !sh.prefs.Muted
	if sh.prefs.Muted {
		sh.mute.Check()
	} else {
		sh.mute.Uncheck()
	}
	if sh.prefsPath != "" {
		if err := tray.SavePrefs(sh.prefsPath, sh.prefs); err != nil {
			sh.log.Error("tray: keep the mute choice", "err", err)
		}
	}
}

// deliver shows notes and arms a timer for the notifications held back. sh.mu must be held.
func (sh *shell) deliver(notes []tray.Note) {
	for _, n := range notes {
		sh.notify(n)
	}
	if sh.noteAt != nil {
		sh.noteAt.Stop()
		sh.noteAt = nil
	}
	if at, ok := sh.notifier.NextDue(); ok {
		sh.noteAt = time.AfterFunc(time.Until(at), func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			sh.noteAt = nil
			sh.deliver(sh.notifier.Due(sh.prefs, time.Now()))
		})
	}
}

// notify raises one desktop notification without waiting for it.
func (sh *shell) notify(n tray.Note) {
	state := tray.Attention
	switch n.Kind {
	case tray.NoteBlocked:
		state = tray.Blocked
	case tray.NoteCleared:
		state = tray.OK
	}
	icon := assets.TrayPNG(string(state), 64)
	go func() {
		if err := beeep.Notify(n.Title, n.Body, icon); err != nil {
			sh.log.Warn("tray: desktop notification failed", "err", err)
		}
	}()
}
