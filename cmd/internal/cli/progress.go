package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Bar draws a one-line progress bar on w (stderr), at most every 100 ms.
type Bar struct {
	w     io.Writer
	label string
	start time.Time
	last  time.Time
}

// NewBar starts a bar labelled label.
func NewBar(w io.Writer, label string) *Bar {
	return &Bar{w: w, label: label, start: time.Now()}
}

// Update shows done of total, with extra after the count.
func (b *Bar) Update(done, total int, extra string) {
	now := time.Now()
	if done < total && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	eta := ""
	if done > 0 && done < total {
		el := now.Sub(b.start)
		eta = " ETA " + (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	fmt.Fprintf(b.w, "\r%s [%s%s] %d/%d%s %s\x1b[K", b.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, eta, extra)
	if done >= total {
		fmt.Fprintln(b.w)
	}
}

// Line rewrites the current status line (for open-ended jobs like training).
func (b *Bar) Line(s string) {
	fmt.Fprintf(b.w, "\r%s %s\x1b[K", b.label, s)
}

// Done ends the line.
func (b *Bar) Done() { fmt.Fprintln(b.w) }
