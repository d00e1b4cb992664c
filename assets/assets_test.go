package assets

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"runtime"
	"testing"
)

func decodePNG(t *testing.T, name string, data []byte) image.Image {
	t.Helper()
	if len(data) == 0 {
		t.Fatalf("%s: no data", name)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

func checkSquare(t *testing.T, name string, img image.Image, size int) {
	t.Helper()
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		t.Errorf("%s: got %dx%d, want %dx%d", name, b.Dx(), b.Dy(), size, size)
	}
}

func TestTrayPNG(t *testing.T) {
	for _, state := range TrayStates() {
		for _, size := range TrayPNGSizes {
			checkSquare(t, state, decodePNG(t, state, TrayPNG(state, size)), size)
		}
	}
	if got := TrayPNG(StateOK, 17); got != nil {
		t.Errorf("TrayPNG(ok, 17) = %d bytes, want nil", len(got))
	}
}

// icoEntry is one image in an ICO file.
type icoEntry struct {
	size int
	data []byte
}

// parseICO checks the ICO container and returns its images.
func parseICO(t *testing.T, name string, ico []byte) []icoEntry {
	t.Helper()
	le := binary.LittleEndian
	if len(ico) < 6 || le.Uint16(ico[0:]) != 0 || le.Uint16(ico[2:]) != 1 {
		t.Fatalf("%s: not an ICO file", name)
	}
	n := int(le.Uint16(ico[4:]))
	if n == 0 || len(ico) < 6+16*n {
		t.Fatalf("%s: bad image count %d", name, n)
	}
	var entries []icoEntry
	for i := range n {
		e := ico[6+16*i:]
		w, h := int(e[0]), int(e[1])
		if w == 0 {
			w = 256
		}
		if h == 0 {
			h = 256
		}
		if w != h {
			t.Errorf("%s: image %d is %dx%d", name, i, w, h)
		}
		if planes, bpp := le.Uint16(e[4:]), le.Uint16(e[6:]); planes != 1 || bpp != 32 {
			t.Errorf("%s: image %d has %d planes, %d bpp", name, i, planes, bpp)
		}
		size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if off+size > len(ico) {
			t.Fatalf("%s: image %d runs past the end of the file", name, i)
		}
		img := decodePNG(t, name, ico[off:off+size])
		checkSquare(t, name, img, w)
		entries = append(entries, icoEntry{w, ico[off : off+size]})
	}
	return entries
}

func TestTrayICO(t *testing.T) {
	for _, state := range TrayStates() {
		entries := parseICO(t, state, TrayICO(state))
		sizes := map[int]bool{}
		for _, e := range entries {
			sizes[e.size] = true
		}
		for _, want := range []int{16, 24, 32} {
			if !sizes[want] {
				t.Errorf("%s.ico: no %d px image", state, want)
			}
		}
	}
}

func TestTrayIconFormat(t *testing.T) {
	for _, state := range TrayStates() {
		icon := TrayIcon(state)
		isPNG := bytes.HasPrefix(icon, []byte("\x89PNG\r\n\x1a\n"))
		if wantICO := runtime.GOOS == "windows"; wantICO == isPNG {
			t.Errorf("TrayIcon(%q) on %s: PNG = %v", state, runtime.GOOS, isPNG)
		}
	}
}

func TestUnknownStateShowsOffline(t *testing.T) {
	offline := TrayIcon(StateOffline)
	for _, state := range []string{"", "OK", "degraded"} {
		if !bytes.Equal(TrayIcon(state), offline) {
			t.Errorf("TrayIcon(%q) is not the offline icon", state)
		}
		if !bytes.Equal(TrayPNG(state, 16), TrayPNG(StateOffline, 16)) {
			t.Errorf("TrayPNG(%q, 16) is not the offline icon", state)
		}
		if !bytes.Equal(TrayICO(state), TrayICO(StateOffline)) {
			t.Errorf("TrayICO(%q) is not the offline icon", state)
		}
	}
}

// TestShapesDiffer checks that the states can be told apart by outline
// alone, as a colour-blind user would see them: the opaque areas of any two
// 16 px icons must differ in a good share of their pixels.
func TestShapesDiffer(t *testing.T) {
	const size = 16
	masks := map[string][]bool{}
	for _, state := range TrayStates() {
		img := decodePNG(t, state, TrayPNG(state, size))
		var m []bool
		for y := range size {
			for x := range size {
				_, _, _, a := img.At(x, y).RGBA()
				m = append(m, a >= 0x8000)
			}
		}
		masks[state] = m
	}
	states := TrayStates()
	for i, a := range states {
		for _, b := range states[i+1:] {
			diff := 0
			for p := range masks[a] {
				if masks[a][p] != masks[b][p] {
					diff++
				}
			}
			if want := size * size / 10; diff < want {
				t.Errorf("%s and %s differ in %d pixels, want at least %d", a, b, diff, want)
			}
		}
	}
}

func TestAppIcon(t *testing.T) {
	checkSquare(t, "AppIcon", decodePNG(t, "AppIcon", AppIcon()), 256)
	entries := parseICO(t, "app.ico", AppIconICO())
	if last := entries[len(entries)-1]; last.size != 256 {
		t.Errorf("app.ico: largest image is %d px, want 256", last.size)
	}
}

func TestSlicesAreShared(t *testing.T) {
	// Native code may read a tray icon after SetIcon returns, so each call
	// must hand out the same long-lived array rather than a fresh copy.
	a, b := TrayIcon(StateOK), TrayIcon(StateOK)
	if &a[0] != &b[0] {
		t.Error("TrayIcon returns a fresh copy on each call")
	}
}

// greyAt16 returns the icon for state at 16 px as luminance (0–255), composited over a
// background of the given grey level, as someone who sees no colour would see it.
func greyAt16(t *testing.T, state string, bg float64) []float64 {
	t.Helper()
	img := decodePNG(t, state, TrayPNG(state, 16))
	var out []float64
	for y := range 16 {
		for x := range 16 {
			r, g, b, a := img.At(x, y).RGBA() // premultiplied, 0–65535
			alpha := float64(a) / 0xffff
			lum := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 0xffff * 255
			out = append(out, lum+bg*(1-alpha))
		}
	}
	return out
}

// TestDistinguishableInGreyscaleAt16 checks that any two states' 16 px icons, seen in
// greyscale on a light panel and on a dark taskbar, differ clearly in enough pixels: at
// least a tenth of them by at least a quarter of the range from black to white.
func TestDistinguishableInGreyscaleAt16(t *testing.T) {
	const minPixels, minStep = 16 * 16 / 10, 255.0 / 4
	for _, bg := range []float64{255, 32} {
		grey := map[string][]float64{}
		for _, s := range TrayStates() {
			grey[s] = greyAt16(t, s, bg)
		}
		states := TrayStates()
		for i, a := range states {
			for _, b := range states[i+1:] {
				n := 0
				for p := range grey[a] {
					if d := grey[a][p] - grey[b][p]; d >= minStep || d <= -minStep {
						n++
					}
				}
				t.Logf("background %3.0f: %s and %s differ clearly in %d pixels", bg, a, b, n)
				if n < minPixels {
					t.Errorf("background %.0f: %s and %s differ clearly in %d pixels, want at least %d", bg, a, b, n, minPixels)
				}
			}
		}
	}
}
