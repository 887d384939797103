package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar draws a one-line progress bar on w (stderr), at most every 100 ms,
// when w is a terminal. On a file or a pipe, where carriage returns and
// escape codes would pile up as junk, it writes plain lines instead: the
// final count of a bar, and one line per status line (a training epoch).
type Bar struct {
	w     io.Writer
	tty   bool
	label string
	start time.Time
	last  time.Time
}

// NewBar starts a bar labelled label.
func NewBar(w io.Writer, label string) *Bar {
	return &Bar{w: w, tty: isTerminal(w), label: label, start: time.Now()}
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update shows done of total, with extra after the count.
func (b *Bar) Update(done, total int, extra string) {
	now := time.Now()
	if !b.tty {
		if done >= total {
			fmt.Fprintln(b.w, strings.TrimSpace(fmt.Sprintf("%s %d/%d in %s %s", b.label, done, total, now.Sub(b.start).Round(time.Millisecond), extra)))
		}
		return
	}
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
	if !b.tty {
		fmt.Fprintf(b.w, "%s %s\n", b.label, s)
		return
	}
	fmt.Fprintf(b.w, "\r%s %s\x1b[K", b.label, s)
}

// Done ends the line.
func (b *Bar) Done() {
	if b.tty {
		fmt.Fprintln(b.w)
	}
}
