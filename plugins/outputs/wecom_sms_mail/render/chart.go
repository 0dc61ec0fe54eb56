package render

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	xfont "golang.org/x/image/font/opentype"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart size in pixels at 96 DPI.
const (
	ChartWidth  = 800
	ChartHeight = 360
	chartDPI    = 96
	chartLines  = 5 // the most severe alerts get a line; the rest are "+N more"
)

// Charts draws the lag history of a message's alerts: one PNG per message,
// a line per alert (the five most severe), each threshold dashed, the time
// axis in loc. A nil *Charts draws nothing.
type Charts struct {
	fonts    *font.Cache
	typeface font.Typeface
	loc      *time.Location
}

// NewCharts prepares the renderer; fontPath (chart_font) is a TTF, OTF or
// TTC file whose glyphs replace the embedded Latin font, e.g. for Chinese
// instance names.
func NewCharts(fontPath string, loc *time.Location) (*Charts, error) {
	c := &Charts{fonts: font.NewCache(liberation.Collection()), typeface: "Liberation", loc: loc}
	if loc == nil {
		c.loc = time.Local
	}
	if fontPath == "" {
		return c, nil
	}
	raw, err := os.ReadFile(fontPath)
	if err != nil {
		return nil, fmt.Errorf("chart_font: %w", err)
	}
	f, err := xfont.Parse(raw)
	if err != nil {
		coll, cerr := xfont.ParseCollection(raw)
		if cerr != nil {
			return nil, fmt.Errorf("chart_font: %s is not a TTF, OTF or TTC font: %w", fontPath, err)
		}
		if f, err = coll.Font(0); err != nil {
			return nil, fmt.Errorf("chart_font: %w", err)
		}
	}
	c.typeface = "chart_font"
	c.fonts.Add(font.Collection{{Font: font.Font{Typeface: c.typeface}, Face: f}})
	return c, nil
}

var levelColours = map[string]color.RGBA{
	"critical": {R: 0xc6, G: 0x28, B: 0x28, A: 0xff},
	"warning":  {R: 0xef, G: 0x6c, B: 0x00, A: 0xff},
	"ok":       {R: 0x2e, G: 0x7d, B: 0x32, A: 0xff},
}

// Render draws the chart of d's alerts that have a history; nil when none
// has two points.
func (c *Charts) Render(d *TemplateData) ([]byte, error) {
	if c == nil {
		return nil, nil
	}
	var drawn []AlertView
	for _, a := range d.Alerts {
		if len(a.History) >= 2 {
			drawn = append(drawn, a)
		}
	}
	if len(drawn) == 0 {
		return nil, nil
	}
	more := 0
	if len(drawn) > chartLines {
		more, drawn = len(drawn)-chartLines, drawn[:chartLines]
	}

	p := plot.New()
	p.TextHandler = text.Plain{Fonts: c.fonts}
	for _, s := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		s.Font.Typeface = c.typeface
		s.Handler = p.TextHandler
	}
	p.Title.Text = fmt.Sprintf("%s  (%s %d · %s %d · %s %d)", d.Title, d.Words.Critical, d.Counts.Critical,
		d.Words.Warning, d.Counts.Warning, d.Words.Resolved, d.Counts.Resolved)
	p.Y.Label.Text = d.Words.Lag
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04", Time: func(t float64) time.Time { return time.Unix(int64(t), 0).In(c.loc) }}
	p.Y.Tick.Marker = compactTicks{lang: d.Language}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true

	thresholds := map[float64]string{}
	for _, a := range drawn {
		pts := make(plotter.XYs, len(a.History))
		for i, h := range a.History {
			pts[i] = plotter.XY{X: float64(h.At.Unix()), Y: h.Lag}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		level := a.Level
		if a.Resolved {
			level = "ok"
		}
		line.Color = levelColours[level]
		line.Width = vg.Points(2)
		p.Add(line)
		p.Legend.Add(legendName(a), line)
		if y, ok := chartLimit(a); ok {
			thresholds[y] = level
			p.Y.Max = math.Max(p.Y.Max, y*1.1)
		}
		p.X.Min = math.Min(nonZero(p.X.Min, pts[0].X), pts[0].X)
		p.X.Max = math.Max(p.X.Max, pts[len(pts)-1].X)
	}
	keys := make([]float64, 0, len(thresholds))
	for t := range thresholds {
		keys = append(keys, t)
	}
	sort.Float64s(keys)
	for _, t := range keys {
		th, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: t}, {X: p.X.Max, Y: t}})
		if err != nil {
			return nil, err
		}
		th.Color = levelColours[thresholds[t]]
		th.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		p.Add(th)
	}
	if more > 0 {
		p.Legend.Add(fmt.Sprintf("+%d more", more))
	}

	canvas := vgimg.NewWith(vgimg.UseWH(vg.Length(ChartWidth)*vg.Inch/chartDPI, vg.Length(ChartHeight)*vg.Inch/chartDPI), vgimg.UseDPI(chartDPI))
	p.Draw(draw.New(canvas))
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// chartLimit is the dashed line an alert's chart draws, in messages like
// the chart: the count threshold; for an alert on retention headroom, the
// backlog whose oldest message is as old as the retention at the current
// produce rate (produce_rate × retention): where unread messages start
// being deleted. Thresholds in seconds have no place on a count axis.
func chartLimit(a AlertView) (float64, bool) {
	switch a.Reason {
	case "", "lag":
		return a.Threshold, a.HasThreshold && a.Threshold > 0
	case "retention":
		y := a.ProduceRate * a.RetentionSeconds
		return y, a.HasProduceRate && a.HasRetention && y > 0
	}
	return 0, false
}

func nonZero(v, fallback float64) float64 {
	if v == 0 {
		return fallback
	}
	return v
}

// legendName is the alert's group and topic, short.
func legendName(a AlertView) string {
	name := strings.TrimSpace(a.Group + " / " + a.Topic)
	if a.Group == "" && a.Topic == "" {
		name = a.Subject
	}
	if r := []rune(name); len(r) > 40 {
		name = string(r[:39]) + "…"
	}
	return name
}

// compactTicks labels the value axis with k/M (万/亿 in zh) suffixes.
type compactTicks struct{ lang string }

func (t compactTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = humanCount(ticks[i].Value, t.lang)
		}
	}
	return ticks
}
