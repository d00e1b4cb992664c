package windows

import (
	"context"
	"image/color"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// Texts of the banner shown while the service cannot be reached.
const (
	OfflineTitle  = "The Writeback Agent service is not running."
	OfflineDetail = "Nothing can be confirmed or filed until it starts again. This window reconnects by itself; if it does not within a few minutes, tell IT."
)

// Reconnection back-off while the service cannot be reached: first retry after
// reconnectMin, doubling up to reconnectMax.
var (
	reconnectMin = time.Second
	reconnectMax = 5 * time.Second
)

// Banner is the strip at the top of every window that says the service is not running.
type Banner struct {
	widget.BaseWidget
	box *fyne.Container
}

// NewBanner returns a hidden banner.
func NewBanner() *Banner {
	bg := canvas.NewRectangle(color.NRGBA{R: 0xb0, G: 0x1c, B: 0x1c, A: 0xff})
	title := widget.NewLabelWithStyle(OfflineTitle, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	detail := widget.NewLabel(OfflineDetail)
	detail.Wrapping = fyne.TextWrapWord
	detail.Importance = widget.HighImportance
	b := &Banner{box: container.NewStack(bg, container.NewVBox(whiteText(title), whiteText(detail)))}
	b.ExtendBaseWidget(b)
	b.Hide()
	return b
}

// whiteText keeps a label readable on the banner's red.
func whiteText(l *widget.Label) fyne.CanvasObject {
	return container.NewThemeOverride(l, bannerTheme{})
}

type bannerTheme struct{}

func (bannerTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameForeground || n == theme.ColorNamePrimary {
		return color.White
	}
	return theme.DefaultTheme().Color(n, v)
}
func (bannerTheme) Font(s fyne.TextStyle) fyne.Resource     { return theme.DefaultTheme().Font(s) }
func (bannerTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }
func (bannerTheme) Size(n fyne.ThemeSizeName) float32       { return theme.DefaultTheme().Size(n) }

// CreateRenderer implements fyne.Widget.
func (b *Banner) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(b.box) }

// SetOffline shows or hides the banner and lays win out again (a container does not make
// room for a child shown later by itself).
func (b *Banner) SetOffline(win fyne.Window, offline bool) {
	if offline == b.Visible() {
		return
	}
	if offline {
		b.Show()
	} else {
		b.Hide()
	}
	if win != nil && win.Content() != nil {
		win.Content().Refresh()
	}
}

// uiMu serialises the closures goroutines hand to the UI (do). Fyne's driver runs them on
// its one UI goroutine already; the test driver runs them where they are posted, so tests
// take it too (onUI) to read the window safely.
var uiMu sync.Mutex

// do runs f on the UI goroutine, after the UI updates handed over before it.
func do(f func()) {
	fyne.Do(func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		f()
	})
}

// inflight counts the requests the windows run in the background (spawn); tests wait for
// them so that none outlives its test.
var inflight sync.WaitGroup

// spawn runs f in the background: a request whose answer f hands to the UI with do.
func spawn(f func()) { inflight.Go(f) }

// live follows the service's watch stream for a window: it calls onEvent with every event
// (the first carries the whole state), shows the banner while the service cannot be
// reached, and reconnects by itself. Every call into the window is made with fyne.Do.
type live struct {
	svc     Service
	win     fyne.Window
	banner  *Banner
	onEvent func(apitype.Event)
	// onError is told why the stream could not be opened or ended (nil: ignored).
	onError func(error)

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// start follows the stream until stop.
func (l *live) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done.Go(func() { l.run(ctx) })
}

// stop ends the stream and waits for the follower to return.
func (l *live) stop() {
	if l.cancel != nil {
		l.cancel()
		l.done.Wait()
	}
}

func (l *live) run(ctx context.Context) {
	wait := reconnectMin
	for ctx.Err() == nil {
		ev, err := l.svc.Watch(ctx)
		if err == nil {
			wait = reconnectMin
			err = l.follow(ctx, ev)
		}
		if ctx.Err() != nil {
			return
		}
		offline := isNotRunning(err) || err != nil
		do(func() {
			l.banner.SetOffline(l.win, offline)
			if l.onError != nil && err != nil {
				l.onError(err)
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, reconnectMax)
	}
}

// follow reads events until the stream ends.
func (l *live) follow(ctx context.Context, ev Events) error {
	stop := context.AfterFunc(ctx, func() { ev.Close() })
	defer stop()
	defer ev.Close()
	first := true
	for {
		e, err := ev.Next()
		if err != nil {
			return err
		}
		isFirst := first // the closure runs later, on the UI goroutine
		do(func() {
			if isFirst {
				l.banner.SetOffline(l.win, false)
			}
			l.onEvent(e)
		})
		first = false
	}
}
