package windows

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/link/signin"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// Texts of the account window.
const (
	AccountTitle    = "Account"
	NotLinkedYet    = "This computer user is not linked to a clinical user."
	LinkExplain     = "Link it to your clinical system account to review and confirm your filings here. You sign in in your web browser; the Writeback Agent never sees your password."
	RelinkExplain   = "Your sign-in to the clinical system has expired or was revoked: filing of your writebacks has stopped until you sign in again."
	SigningIn       = "Sign in in the browser window that opened…"
	signInTimeLimit = 5 * time.Minute
)

// SignInFunc signs the user in to the clinical system and returns the sign-in for the
// service to verify. It calls showURL with the address the user signs in at, so the window
// can offer it when no browser opens.
type SignInFunc func(ctx context.Context, s link.Settings, showURL func(string)) (*apitype.LinkRequest, error)

// BrowserSignIn signs in with PKCE in the user's browser, as wbagent link does.
func BrowserSignIn(ctx context.Context, s link.Settings, showURL func(string)) (*apitype.LinkRequest, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	res, err := signin.Browser(ctx, hc, s, func(url string) error {
		showURL(url)
		signin.OpenBrowser(url) // the address is shown in case no browser opens
		return nil
	})
	if err != nil {
		return nil, err
	}
	req := res.LinkRequest()
	return &req, nil
}

// Account is the account window: who this user is linked to, Link or Sign in again, Unlink.
type Account struct {
	svc    Service
	win    fyne.Window
	signIn SignInFunc
	live   *live

	state   *apitype.LinkState
	busy    string // what is in progress ("" none)
	url     string // where to sign in, while signing in
	cancel  context.CancelFunc
	message string
	failed  bool

	dialog *dialog.ConfirmDialog

	banner *Banner
	box    *fyne.Container
}

// NewAccount returns the account window (signIn nil: BrowserSignIn), live until closed.
func NewAccount(a fyne.App, svc Service, signIn SignInFunc) *Account {
	if signIn == nil {
		signIn = BrowserSignIn
	}
	w := &Account{svc: svc, signIn: signIn}
	w.win = a.NewWindow(AccountTitle + " — " + ProductName)
	w.win.SetIcon(AppIcon)
	w.banner = NewBanner()
	w.box = container.NewVBox(widget.NewLabel("Connecting to the service…"))
	w.win.SetContent(container.NewBorder(w.banner, nil, nil, nil, container.NewPadded(w.box)))
	w.win.Resize(fyne.NewSize(620, 300))
	w.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape && w.dialog != nil {
			w.dialog.Hide()
			w.dialog = nil
		}
	})
	w.win.CenterOnScreen()
	// Every status event may mean a link changed (made, mended, expired): read it again.
	w.live = &live{svc: svc, win: w.win, banner: w.banner, onEvent: func(e apitype.Event) {
		if e.Status != nil {
			w.reload()
		}
	}}
	setOnClosed(w.win, w.live.stop)
	w.live.start()
	return w
}

// Window is the window.
func (w *Account) Window() fyne.Window { return w.win }

// Ready reports whether the link has been read.
func (w *Account) Ready() bool { return w.state != nil }

func (w *Account) reload() {
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		st, err := w.svc.LinkState(ctx)
		do(func() {
			if err != nil {
				w.setMessage(errText(err), true)
			} else {
				w.state = st
			}
			w.render()
		})
	})
}

func (w *Account) setMessage(text string, failed bool) { w.message, w.failed = text, failed }

func (w *Account) linked() bool { return w.state != nil && w.state.Link != nil }

func (w *Account) render() {
	w.box.RemoveAll()
	if w.state == nil {
		if w.message != "" {
			w.box.Add(errorLabel(w.message))
		}
		return
	}
	if l := w.state.Link; l != nil {
		w.box.Add(heading("Linked to " + displayName(l)))
		w.box.Add(widget.NewLabel(fmt.Sprintf("Clinical user %s · this computer user %s · since %s",
			l.ClinicalUserID, l.OSUser, l.LinkedAt.Local().Format("2 January 2006 15:04"))))
		if w.state.RelinkNeeded {
			w.box.Add(errorLabel(RelinkExplain))
		}
	} else {
		w.box.Add(heading(NotLinkedYet))
		l := widget.NewLabel(LinkExplain)
		l.Wrapping = fyne.TextWrapWord
		w.box.Add(l)
	}
	switch {
	case w.busy != "":
		w.box.Add(widget.NewLabel(w.busy))
		if w.url != "" {
			hint := widget.NewLabel("If no browser opened, copy this address into one:")
			addr := widget.NewLabel(w.url)
			addr.Selectable = true
			addr.Wrapping = fyne.TextWrapBreak
			w.box.Add(hint)
			w.box.Add(addr)
		}
	case w.message != "" && w.failed:
		w.box.Add(errorLabel(w.message))
	case w.message != "":
		w.box.Add(widget.NewLabel(w.message))
	}
	buttons := container.NewHBox(layout.NewSpacer())
	if w.linked() {
		unlink := widget.NewButtonWithIcon("Unlink", theme.DeleteIcon(), w.askUnlink)
		unlink.Importance = widget.DangerImportance
		again := widget.NewButtonWithIcon("Sign in again", theme.LoginIcon(), w.link)
		if w.state.RelinkNeeded {
			again.Importance = widget.HighImportance
		}
		buttons.Add(unlink)
		buttons.Add(again)
		if w.busy != "" {
			unlink.Disable()
			again.Disable()
		}
		if w.busy == SigningIn {
			buttons.Add(widget.NewButton("Cancel sign-in", func() {
				if w.cancel != nil {
					w.cancel()
				}
			}))
		}
	} else if w.busy == SigningIn {
		buttons.Add(widget.NewButton("Cancel sign-in", func() {
			if w.cancel != nil {
				w.cancel()
			}
		}))
	} else {
		link := widget.NewButtonWithIcon("Link", theme.LoginIcon(), w.link)
		link.Importance = widget.HighImportance
		buttons.Add(link)
		if w.busy != "" {
			link.Disable()
		}
	}
	w.box.Add(widget.NewSeparator())
	w.box.Add(buttons)
}

func displayName(l *link.Link) string {
	if l.ClinicalName != "" {
		return l.ClinicalName
	}
	return "clinical user " + l.ClinicalUserID
}

// link signs the user in (in the browser) and hands the sign-in to the service.
func (w *Account) link() {
	if w.busy != "" || w.state == nil {
		return
	}
	settings := w.state.Settings
	w.busy = SigningIn
	w.setMessage("", false)
	w.render()
	ctx, cancel := context.WithTimeout(context.Background(), signInTimeLimit)
	w.cancel = cancel
	spawn(func() {
		defer cancel()
		req, err := w.signIn(ctx, settings, func(url string) {
			do(func() {
				if w.busy == SigningIn {
					w.url = url
					w.render()
				}
			})
		})
		var st *apitype.LinkState
		if err == nil {
			st, err = w.svc.Link(ctx, *req)
		}
		do(func() {
			w.busy, w.url, w.cancel = "", "", nil
			switch {
			case errors.Is(err, context.Canceled):
				w.setMessage("Sign-in cancelled.", false)
			case err != nil:
				w.setMessage("Not linked: "+errText(err), true)
			default:
				w.state = st
				w.setMessage("Linked. Your filings can be reviewed and filed.", false)
			}
			w.render()
		})
	})
}

func (w *Account) askUnlink() {
	if !w.linked() {
		return
	}
	d := dialog.NewConfirm("Unlink this account?",
		"Your writebacks will not be filed from this computer until you link again.", func(ok bool) {
			w.dialog = nil
			if ok {
				w.unlink()
			}
		}, w.win)
	w.dialog = d
	d.Show()
}

func (w *Account) unlink() {
	w.busy = "Unlinking…"
	w.render()
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_, err := w.svc.Unlink(ctx, "")
		var st *apitype.LinkState
		if err == nil {
			st, err = w.svc.LinkState(ctx)
		}
		do(func() {
			w.busy = ""
			if err != nil {
				w.setMessage("Not unlinked: "+errText(err), true)
			} else {
				w.state = st
				w.setMessage("Unlinked.", false)
			}
			w.render()
		})
	})
}
