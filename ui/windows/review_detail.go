package windows

import (
	"context"
	"fmt"
	"image/color"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// The selected writeback in full: the patient beside the clinical system's, the checks, the
// summary, the coded entries and the attachments.

// Colours of the patient comparison.
var (
	differs = color.NRGBA{R: 0xff, G: 0xd6, B: 0xd6, A: 0xff}
)

// renderDetail shows a writeback in full.
func (r *Review) renderDetail(d *apitype.RecordDetail) {
	r.detail.RemoveAll()
	if d.Content == nil {
		text := "This writeback's content is not available."
		if d.Wiped {
			text = "This writeback's patient content has been removed (retention)."
		}
		r.detail.Add(errorLabel(text))
		return
	}
	c := d.Content
	now := r.opts.Now()
	r.detail.Add(heading(PatientName(c.Patient)))
	r.detail.Add(widget.NewLabel(fmt.Sprintf("From %s · received %s · record %d, version %d",
		c.AuthorName, Received(d.CreatedAt, now), d.ID, d.Version)))
	r.detail.Add(r.patients(c.Patient, d.Match, now))
	r.detail.Add(checksBox(d.Match))

	r.detail.Add(heading("Summary"))
	summary := widget.NewLabel(c.Summary)
	summary.Wrapping = fyne.TextWrapWord
	r.detail.Add(summary)

	r.detail.Add(heading(fmt.Sprintf("Coded entries (%d)", len(c.Codes))))
	if len(c.Codes) == 0 {
		r.detail.Add(widget.NewLabel("None."))
	}
	for _, code := range c.Codes {
		r.detail.Add(codeRow(code))
	}

	r.detail.Add(heading(fmt.Sprintf("Attachments (%d)", len(c.Attachments))))
	if len(c.Attachments) == 0 {
		r.detail.Add(widget.NewLabel("None."))
	}
	for i, a := range c.Attachments {
		r.detail.Add(r.attachment(d.ID, i, a))
	}
	r.scroll.ScrollToTop()
}

func heading(text string) fyne.CanvasObject {
	t := widget.NewRichText(&widget.TextSegment{Style: widget.RichTextStyleSubHeading, Text: text})
	t.Wrapping = fyne.TextWrapWord
	return t
}

// field is one compared line of the patient table.
type field struct {
	name, request, system string
}

// comparePatients lists the fields shown side by side and whether each differs.
func comparePatients(p writeback.Patient, m *apitype.MatchedPatient, now time.Time) []field {
	fs := []field{
		{"Name", name(p.FamilyName, p.GivenNames), ""},
		{"Date of birth", DateOfBirth(p.DateOfBirth, now), ""},
		{"NHS number", NHSNumber(p.NHSNumber), ""},
	}
	if m != nil {
		fs[0].system = name(m.FamilyName, m.GivenNames)
		fs[1].system = DateOfBirth(m.DateOfBirth, now)
		fs[2].system = NHSNumber(m.NHSNumber)
	}
	return fs
}

// Differs reports whether two shown values differ (case and spacing aside).
func Differs(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	return norm(a) != norm(b)
}

// patients shows the request's patient beside the clinical system's, differences marked.
func (r *Review) patients(p writeback.Patient, m *apitype.Match, now time.Time) fyne.CanvasObject {
	var mp *apitype.MatchedPatient
	if m != nil {
		mp = m.Patient
	}
	bold := fyne.TextStyle{Bold: true}
	grid := container.New(layout.NewFormLayout())
	cells := []fyne.CanvasObject{
		widget.NewLabel(""),
		container.NewGridWithColumns(2,
			widget.NewLabelWithStyle("In the request", fyne.TextAlignLeading, bold),
			widget.NewLabelWithStyle("In the clinical system", fyne.TextAlignLeading, bold)),
	}
	for _, f := range comparePatients(p, mp, now) {
		sys := f.system
		if mp == nil {
			sys = "—"
		}
		req := widget.NewLabel(f.request)
		req.Wrapping = fyne.TextWrapWord
		var sysObj fyne.CanvasObject
		sl := widget.NewLabel(sys)
		sl.Wrapping = fyne.TextWrapWord
		sysObj = sl
		if mp != nil && Differs(f.request, f.system) {
			sl.SetText(sys + "   ≠ differs")
			sl.TextStyle.Bold = true
			sl.Importance = widget.DangerImportance
			bg := canvas.NewRectangle(differs)
			sysObj = container.NewStack(bg, sl)
			req.TextStyle.Bold = true
			req.Importance = widget.DangerImportance
			reqBg := canvas.NewRectangle(differs)
			cells = append(cells, widget.NewLabelWithStyle(f.name, fyne.TextAlignLeading, bold),
				container.NewGridWithColumns(2, container.NewStack(reqBg, req), sysObj))
			continue
		}
		cells = append(cells, widget.NewLabelWithStyle(f.name, fyne.TextAlignLeading, bold),
			container.NewGridWithColumns(2, req, sysObj))
	}
	grid.Objects = cells
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	bg.CornerRadius = theme.InputRadiusSize()
	return container.NewStack(bg, container.NewPadded(grid))
}

// checksBox shows the identity checks' results and any problem with the match.
func checksBox(m *apitype.Match) fyne.CanvasObject {
	box := container.NewVBox()
	if m == nil {
		box.Add(errorLabel("The clinical system's patient was not looked up: you cannot confirm until it is."))
		return box
	}
	if m.Error != "" {
		box.Add(errorLabel("The clinical system's patient could not be shown (" + m.Error + "). Select the writeback again to retry; you cannot confirm until it is shown."))
	}
	line := func(ok bool, text string) fyne.CanvasObject {
		var icon fyne.Resource = theme.NewSuccessThemedResource(theme.ConfirmIcon())
		l := widget.NewLabel(text)
		if !ok {
			icon = theme.NewErrorThemedResource(theme.CancelIcon())
			l.Importance = widget.DangerImportance
		}
		return container.NewHBox(widget.NewIcon(icon), l)
	}
	matches := "Exactly one patient record has this NHS number"
	if m.Error == "" && m.Matches != 1 {
		matches = fmt.Sprintf("%d patient records have this NHS number: there must be exactly one", m.Matches)
	}
	row := container.NewHBox(
		line(m.NHSNumberValid, "NHS number valid"),
		line(m.IdentityVerified, "Identity verified by the platform"),
	)
	box.Add(row)
	if m.Error == "" {
		box.Add(line(m.Matches == 1, matches))
	}
	if m.Patient != nil && (m.Patient.Deceased || !m.Patient.Registered) {
		box.Add(errorLabel("The clinical system says this patient is deceased or no longer registered."))
	}
	return box
}

func codeRow(c writeback.Code) fyne.CanvasObject {
	text := c.Display
	if c.Value != nil {
		text += fmt.Sprintf(":  %s %s", trimFloat(*c.Value), c.Unit)
	}
	term := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	term.Wrapping = fyne.TextWrapWord
	code := widget.NewLabel("SNOMED CT " + c.Code)
	return container.NewBorder(nil, nil, nil, code, term)
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// attachment shows one attachment: an image inline, anything else with an Open button.
func (r *Review) attachment(id uint64, i int, a apitype.Attachment) fyne.CanvasObject {
	info := widget.NewLabel(fmt.Sprintf("%s   ·   %s   ·   %s", a.FileName, a.MediaType, Size(a.Size)))
	info.Wrapping = fyne.TextWrapWord
	box := container.NewVBox()
	if strings.HasPrefix(a.MediaType, "image/") {
		img := canvas.NewImageFromResource(nil)
		img.FillMode = canvas.ImageFillContain
		img.SetMinSize(fyne.NewSize(360, 240))
		placeholder := widget.NewLabel("Loading the image…")
		holder := container.NewStack(placeholder)
		box.Add(container.NewBorder(nil, nil, widget.NewIcon(theme.FileImageIcon()), nil, info))
		box.Add(container.NewHBox(holder))
		spawn(func() {
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			data, err := r.svc.Attachment(ctx, id, i)
			do(func() {
				if err != nil {
					placeholder.SetText("Could not load the image: " + errText(err))
					placeholder.Importance = widget.DangerImportance
					placeholder.Refresh()
					return
				}
				// Kept in memory only: never written to disk.
				img.Resource = fyne.NewStaticResource(a.FileName, data)
				holder.Objects = []fyne.CanvasObject{img}
				holder.Refresh()
				img.Refresh()
			})
		})
		return box
	}
	open := widget.NewButtonWithIcon("Open", theme.FileIcon(), nil)
	problem := errorLabel("")
	problem.Hide()
	open.OnTapped = func() { r.openAttachment(id, i, a, problem) }
	box.Add(container.NewBorder(nil, nil, widget.NewIcon(theme.FileIcon()), open, info))
	box.Add(problem)
	return box
}

// openAttachment writes a temporary copy readable only by this user (removed when the
// window closes) and opens it in the desktop's viewer.
func (r *Review) openAttachment(id uint64, i int, a apitype.Attachment, problem *widget.Label) {
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		data, err := r.svc.Attachment(ctx, id, i)
		var path string
		if err == nil {
			path, err = r.tempCopy(id, i, a.FileName, data)
		}
		if err == nil {
			err = r.open(path)
		}
		do(func() {
			if err != nil {
				problem.SetText("Could not open " + a.FileName + ": " + errText(err))
				problem.Show()
				return
			}
			problem.Hide()
		})
	})
}

func (r *Review) open(path string) error {
	if r.opts.Open != nil {
		return r.opts.Open(path)
	}
	return r.app.OpenURL(&url.URL{Scheme: "file", Path: filepath.ToSlash(path)})
}

// tempCopy writes data to a private temporary folder (mode 0700, file 0600).
func (r *Review) tempCopy(id uint64, i int, fileName string, data []byte) (string, error) {
	r.tmpMu.Lock()
	defer r.tmpMu.Unlock()
	if r.tmpDir == "" {
		dir, err := os.MkdirTemp("", tempPrefix)
		if err != nil {
			return "", fmt.Errorf("temporary folder: %w", err)
		}
		r.tmpDir = dir
	}
	dir := filepath.Join(r.tmpDir, fmt.Sprintf("%d-%d", id, i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("temporary folder: %w", err)
	}
	path := filepath.Join(dir, filepath.Base(fileName))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("temporary copy: %w", err)
	}
	return path, nil
}

// tempPrefix names the folders of temporary copies in the temporary folder.
const tempPrefix = "wbagent-review-"

// removeStaleCopies removes the temporary copies a review window left when its process was
// ended before it could (one process per user: no other window of this user uses them).
// Folders of other users cannot be removed and are left alone.
func removeStaleCopies() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range matches {
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && ownedByMe(fi) {
			os.RemoveAll(dir)
		}
	}
}
