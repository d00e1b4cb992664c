// Command gen draws the Writeback Agent icons and writes them as PNG and ICO
// files for package assets to embed.
//
// Run it from the repository root after changing a drawing:
//
//	go run ./assets/gen
//
// (or `go generate ./assets`). The output is deterministic, so an unchanged
// drawing rewrites byte-identical files.
//
// Every tray state differs in shape as well as colour, so the icons can be
// told apart by people who cannot tell red from green:
//
//	ok         green filled circle with a white tick
//	attention  amber triangle with a dark exclamation mark
//	blocked    red square with a white cross
//	offline    grey hollow circle
//
// Each icon is rendered natively at every size (not scaled down from a big
// one) with 8×8 supersampling, so the 16 px versions stay crisp.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// pngSizes are the sizes written as separate PNG files.
var pngSizes = []int{16, 32, 64}

// trayICOSizes are the sizes packed into each tray .ico: Windows picks the
// one nearest the notification area's size at the current display scaling
// (16 px at 100 %, 24 at 150 %, 32 at 200 %).
var trayICOSizes = []int{16, 20, 24, 32, 48, 64}

// appSizes are the sizes of the application icon, both as PNGs and in app.ico.
var appSizes = []int{16, 32, 48, 64, 128, 256}

func main() {
	out := flag.String("o", filepath.Join("assets", "icons"), "output `directory`")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gen: ")

	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"ok", "attention", "blocked", "offline"} {
		draw := trayDrawings[name]
		for _, size := range pngSizes {
			write(*out, fmt.Sprintf("tray-%s-%d.png", name, size), encodePNG(render(draw, size)))
		}
		write(*out, fmt.Sprintf("tray-%s.ico", name), encodeICO(draw, trayICOSizes))
	}
	for _, size := range appSizes {
		write(*out, fmt.Sprintf("app-%d.png", size), encodePNG(render(drawApp, size)))
	}
	write(*out, "app.ico", encodeICO(drawApp, appSizes))
}

func write(dir, name string, data []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// A drawing paints layers onto a canvas whose coordinates run from 0 to 1
// on both axes (y downwards), whatever its size in pixels.
type drawing func(c *canvas)

var trayDrawings = map[string]drawing{
	"ok":        drawOK,
	"attention": drawAttention,
	"blocked":   drawBlocked,
	"offline":   drawOffline,
}

var (
	white = rgb(0xFF, 0xFF, 0xFF)

	green     = rgb(0x2E, 0x9E, 0x44)
	greenEdge = rgb(0x1A, 0x66, 0x2B)

	amber     = rgb(0xF5, 0xA6, 0x23)
	amberEdge = rgb(0x9C, 0x62, 0x00)
	amberInk  = rgb(0x2B, 0x1D, 0x00)

	red     = rgb(0xD6, 0x32, 0x2E)
	redEdge = rgb(0x87, 0x1A, 0x17)

	grey = rgb(0x8C, 0x8C, 0x8C)

	nhsBlue  = rgb(0x00, 0x5E, 0xB8)
	blueEdge = rgb(0x00, 0x3D, 0x78)
	lineGrey = rgb(0x9F, 0xB4, 0xC8)
)

func drawOK(c *canvas) {
	const r = 0.47
	c.fill(circle(0.5, 0.5, r), greenEdge)
	c.fill(circle(0.5, 0.5, r-c.edge), green)
	c.fill(polyline(0.14, pt{0.27, 0.52}, pt{0.43, 0.68}, pt{0.74, 0.34}), white)
}

func drawAttention(c *canvas) {
	tri := []pt{{0.5, 0.05}, {0.98, 0.92}, {0.02, 0.92}}
	c.fill(roundedPolygon(tri, 0.06, 0), amberEdge)
	c.fill(roundedPolygon(tri, 0.06, c.edge), amber)
	c.fill(polyline(0.13, pt{0.5, 0.36}, pt{0.5, 0.60}), amberInk)
	c.fill(circle(0.5, 0.77, 0.075), amberInk)
}

func drawBlocked(c *canvas) {
	c.fill(roundedRect(0.05, 0.05, 0.95, 0.95, 0.12), redEdge)
	c.fill(roundedRect(0.05+c.edge, 0.05+c.edge, 0.95-c.edge, 0.95-c.edge, 0.12-c.edge/2), red)
	c.fill(polyline(0.15, pt{0.3, 0.3}, pt{0.7, 0.7}), white)
	c.fill(polyline(0.15, pt{0.7, 0.3}, pt{0.3, 0.7}), white)
}

func drawOffline(c *canvas) {
	// A plain mid-grey ring, with no darker rim that would vanish on a
	// dark panel, contrasts with light and dark panels alike; the middle
	// stays empty.
	c.fill(ring(0.5, 0.5, 0.39, 0.17), grey)
}

// drawApp is the application icon: a record card on an NHS-blue tile with
// a green "filed" tick badge.
func drawApp(c *canvas) {
	c.fill(roundedRect(0.03, 0.03, 0.97, 0.97, 0.2), blueEdge)
	c.fill(roundedRect(0.03+c.edge, 0.03+c.edge, 0.97-c.edge, 0.97-c.edge, 0.2-c.edge/2), nhsBlue)
	c.fill(roundedRect(0.22, 0.16, 0.70, 0.80, 0.05), white)
	for _, y := range []float64{0.32, 0.45, 0.58} {
		c.fill(polyline(0.06, pt{0.32, y}, pt{0.60, y}), lineGrey)
	}
	c.fill(circle(0.70, 0.72, 0.21), white)
	c.fill(circle(0.70, 0.72, 0.21-math.Max(c.edge, 0.035)), green)
	c.fill(polyline(0.065, pt{0.61, 0.72}, pt{0.675, 0.785}, pt{0.79, 0.655}), white)
}

// canvas accumulates layers, each painted with its coverage as alpha.
type canvas struct {
	size int
	img  *image.NRGBA
	// edge is the width of a shape's darker rim in canvas units: about
	// one pixel at 16 px, a little more at larger sizes.
	edge float64
}

// samples is the supersampling factor on each axis.
const samples = 8

// fill paints col wherever the shape covers the canvas, blending partial
// coverage at the shape's edges.
func (c *canvas) fill(inside shape, col color.NRGBA) {
	for py := 0; py < c.size; py++ {
		for px := 0; px < c.size; px++ {
			hits := 0
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/samples) / float64(c.size)
					y := (float64(py) + (float64(sy)+0.5)/samples) / float64(c.size)
					if inside(x, y) {
						hits++
					}
				}
			}
			if hits == 0 {
				continue
			}
			a := float64(hits) / (samples * samples) * float64(col.A) / 255
			c.img.SetNRGBA(px, py, over(col, a, c.img.NRGBAAt(px, py)))
		}
	}
}

// over composites src with coverage a over dst (non-premultiplied).
func over(src color.NRGBA, a float64, dst color.NRGBA) color.NRGBA {
	da := float64(dst.A) / 255
	oa := a + da*(1-a)
	if oa == 0 {
		return color.NRGBA{}
	}
	mix := func(s, d uint8) uint8 {
		v := (float64(s)*a + float64(d)*da*(1-a)) / oa
		return uint8(math.Round(v))
	}
	return color.NRGBA{mix(src.R, dst.R), mix(src.G, dst.G), mix(src.B, dst.B), uint8(math.Round(oa * 255))}
}

func render(d drawing, size int) *image.NRGBA {
	c := &canvas{
		size: size,
		img:  image.NewNRGBA(image.Rect(0, 0, size, size)),
		edge: math.Max(1, float64(size)/24) / float64(size),
	}
	d(c)
	return c.img
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	return buf.Bytes()
}

// encodeICO packs PNG renderings of d at each size into a Windows .ico
// file (PNG-compressed entries are supported since Windows Vista).
func encodeICO(d drawing, sizes []int) []byte {
	const headerLen, entryLen = 6, 16
	images := make([][]byte, len(sizes))
	for i, size := range sizes {
		images[i] = encodePNG(render(d, size))
	}

	var buf bytes.Buffer
	le := binary.LittleEndian
	put := func(v any) {
		if err := binary.Write(&buf, le, v); err != nil {
			log.Fatal(err)
		}
	}
	put(uint16(0))          // reserved
	put(uint16(1))          // type: icon
	put(uint16(len(sizes))) // number of images
	offset := headerLen + entryLen*len(sizes)
	for i, size := range sizes {
		dim := uint8(size) // 0 means 256
		if size >= 256 {
			dim = 0
		}
		put(dim)                    // width
		put(dim)                    // height
		put(uint8(0))               // colours in palette: none
		put(uint8(0))               // reserved
		put(uint16(1))              // colour planes
		put(uint16(32))             // bits per pixel
		put(uint32(len(images[i]))) // size of the image data
		put(uint32(offset))         // offset of the image data
		offset += len(images[i])
	}
	for _, img := range images {
		buf.Write(img)
	}
	return buf.Bytes()
}

// Shapes.

type pt struct{ x, y float64 }

// A shape reports whether a point lies inside it.
type shape func(x, y float64) bool

func rgb(r, g, b uint8) color.NRGBA { return color.NRGBA{r, g, b, 0xFF} }

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return math.Hypot(x-cx, y-cy) <= r }
}

// ring is the band of width w centred on the circle of radius r.
func ring(cx, cy, r, w float64) shape {
	return func(x, y float64) bool { return math.Abs(math.Hypot(x-cx, y-cy)-r) <= w/2 }
}

// polyline is a stroke of width w with round caps and joins through pts.
func polyline(w float64, pts ...pt) shape {
	return func(x, y float64) bool {
		for i := 1; i < len(pts); i++ {
			if segDist(pt{x, y}, pts[i-1], pts[i]) <= w/2 {
				return true
			}
		}
		return false
	}
}

func roundedRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		// Distance from the rectangle shrunk by r, then grown back by r.
		dx := math.Max(math.Max(x0+r-x, x-(x1-r)), 0)
		dy := math.Max(math.Max(y0+r-y, y-(y1-r)), 0)
		return x >= x0 && x <= x1 && y >= y0 && y <= y1 && math.Hypot(dx, dy) <= r
	}
}

// roundedPolygon is the convex polygon poly with corners rounded to radius
// r, shrunk inwards by inset.
func roundedPolygon(poly []pt, r, inset float64) shape {
	core := shrink(poly, r+inset)
	return func(x, y float64) bool {
		p := pt{x, y}
		if insideConvex(core, p) {
			return true
		}
		for i := range core {
			if segDist(p, core[i], core[(i+1)%len(core)]) <= r {
				return true
			}
		}
		return false
	}
}

// shrink moves every edge of the convex, clockwise-on-screen polygon poly
// inwards by d.
func shrink(poly []pt, d float64) []pt {
	n := len(poly)
	type line struct{ p, dir pt }
	lines := make([]line, n)
	for i := range poly {
		a, b := poly[i], poly[(i+1)%n]
		dx, dy := b.x-a.x, b.y-a.y
		l := math.Hypot(dx, dy)
		nx, ny := -dy/l, dx/l // inward normal for clockwise order with y down
		lines[i] = line{pt{a.x + nx*d, a.y + ny*d}, pt{dx, dy}}
	}
	out := make([]pt, n)
	for i := range lines {
		l1, l2 := lines[(i+n-1)%n], lines[i]
		// Intersect l1.p + t*l1.dir with l2.p + u*l2.dir.
		den := l1.dir.x*l2.dir.y - l1.dir.y*l2.dir.x
		t := ((l2.p.x-l1.p.x)*l2.dir.y - (l2.p.y-l1.p.y)*l2.dir.x) / den
		out[i] = pt{l1.p.x + t*l1.dir.x, l1.p.y + t*l1.dir.y}
	}
	return out
}

func insideConvex(poly []pt, p pt) bool {
	sign := 0.0
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		c := (b.x-a.x)*(p.y-a.y) - (b.y-a.y)*(p.x-a.x)
		if c == 0 {
			continue
		}
		if sign == 0 {
			sign = c
		} else if (c > 0) != (sign > 0) {
			return false
		}
	}
	return true
}

func segDist(p, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l2))
	}
	return math.Hypot(p.x-(a.x+t*dx), p.y-(a.y+t*dy))
}
